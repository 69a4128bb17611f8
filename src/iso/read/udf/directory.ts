import { InvalidImageError, IsoError, type ImageLocation } from '../../../errors'
import type { LbAddr } from '../../codec/udf/addresses'
import { decodeDcharsIn } from '../../codec/udf/cs0'
import { EXTENDED_FILE_ENTRY_FIXED_SIZE, FILE_ENTRY_FIXED_SIZE } from '../../codec/udf/file-entry'
import { FileCharacteristic, parseFileIdentifier, FID_FIXED_SIZE } from '../../codec/udf/file-identifier'
import { FileType } from '../../codec/udf/icb'
import { TagId, verifyTag, type TagCheck } from '../../codec/udf/tag'
import type { RecordLocation } from '../../model/node'
import { MAX_DIRECTORY_SIZE } from '../directory-records'
import { blockWhere, entryData, readIcb, readPieces, type DataPiece, type LocatedEntry, type UdfContext } from './entries'

/*
 * A UDF directory: its file entry, then its data, a sequence of file identifier descriptors (ECMA-167
 * 4/14.4, 4/8.6). The parent entry, deleted entries and named streams (UDF 2.00+) are not files of the
 * directory and are left out; a descriptor that cannot be read costs the rest of the directory (where
 * the next one starts is only known from it), with a warning.
 */

export interface DirectoryEntryRecord {
  /** The decoded name. */
  name: string
  characteristics: number
  icb: LbAddr
  /** Where the descriptor is, as an absolute 2048-byte sector, offset and length. */
  location: RecordLocation
}

export interface UdfDirectoryListing {
  self: LocatedEntry
  entries: DirectoryEntryRecord[]
}

export async function readUdfDirectory (ctx: UdfContext, icb: LbAddr): Promise<UdfDirectoryListing> {
  const self = await readIcb(ctx, icb)
  const where = blockWhere('directory', ctx, self.addr)
  const type = self.entry.icbTag.fileType
  if (type !== FileType.DIRECTORY && type !== FileType.STREAM_DIRECTORY) {
    throw new InvalidImageError('IMAGE_BAD_DIRECTORY', `the entry is of file type ${type}, not a directory`, { ...where, field: 'file type' })
  }
  if (self.entry.informationLength > MAX_DIRECTORY_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_DIRECTORY', `directory of ${self.entry.informationLength} bytes exceeds the ${MAX_DIRECTORY_SIZE}-byte limit`, { ...where, field: 'information length' })
  }
  const data = await entryData(ctx, self, 'directory')
  let bytes: Buffer
  let pieces: DataPiece[]
  if (data.kind === 'embedded') {
    bytes = data.bytes
    // 4/14.4 (tag location): descriptors embedded in an entry name the entry's block.
    const start = self.position + (self.entry.extended ? EXTENDED_FILE_ENTRY_FIXED_SIZE : FILE_ENTRY_FIXED_SIZE) + self.entry.extendedAttributes.length
    pieces = [{ position: start, length: bytes.length, logical: self.addr }]
  } else {
    pieces = data.pieces
    bytes = await readPieces(ctx.source, pieces, data.size, where)
  }
  return { self, entries: parseEntries(ctx, bytes, pieces, data.kind === 'embedded') }
}

function parseEntries (ctx: UdfContext, bytes: Buffer, pieces: DataPiece[], embedded: boolean): DirectoryEntryRecord[] {
  const entries: DirectoryEntryRecord[] = []
  const locator = new PieceLocator(pieces, ctx.map.blockSize, embedded)
  // One check for the directory, its place moved along: a walk checks a descriptor per file.
  const check: TagCheck = { id: TagId.FILE_IDENTIFIER, location: 0, available: 0 }
  let offset = 0
  while (offset + FID_FIXED_SIZE <= bytes.length) {
    locator.seek(offset)
    const position = locator.position
    const at: ImageLocation = { structure: 'file identifier descriptor', lba: Math.floor(position / 2048), offset: position % 2048 }
    let length: number
    try {
      check.location = locator.block
      check.available = bytes.length - offset
      const tag = verifyTag(bytes, offset, check, ctx.diag, at)
      const fid = parseFileIdentifier(bytes, offset, tag, at)
      length = fid.length
      const skip = (fid.characteristics & (FileCharacteristic.PARENT | FileCharacteristic.DELETED | FileCharacteristic.METADATA)) !== 0
      if (!skip) {
        entries.push({
          name: decodeDcharsIn(bytes, fid.identifierStart, fid.identifierEnd, at),
          characteristics: fid.characteristics,
          icb: { block: fid.icbBlock, partition: fid.icbPartition },
          location: { lba: at.lba as number, offset: at.offset as number, length }
        })
      }
    } catch (err) {
      if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
      ctx.diag.warn({ ...at, ...locationOf(err) }, `${String(err.data.detail ?? err.message)}; the rest of the directory is skipped`)
      break
    }
    offset += length
  }
  return entries
}

/** Where the bytes of a directory's data are: the absolute position and logical block of one, moving forward. */
class PieceLocator {
  position = 0
  block = 0
  private index = 0
  private start = 0

  constructor (private readonly pieces: DataPiece[], private readonly blockSize: number, private readonly embedded: boolean) {}

  seek (offset: number): void {
    const pieces = this.pieces
    while (this.index < pieces.length - 1 && offset >= this.start + pieces[this.index].length) {
      this.start += pieces[this.index].length
      this.index++
    }
    const piece = pieces[this.index]
    const within = offset - this.start
    this.position = piece.position + within
    this.block = this.embedded ? piece.logical.block : piece.logical.block + Math.floor(within / this.blockSize)
  }
}

function locationOf (err: IsoError): Partial<ImageLocation> {
  return typeof err.data.field === 'string' ? { field: err.data.field } : {}
}
