import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { LbAddr } from '../../codec/udf/addresses'
import { deviceNumbers, parseExtendedAttributes } from '../../codec/udf/extended-attributes'
import { posixPermissions, UNSPECIFIED_ID, type FileEntry } from '../../codec/udf/file-entry'
import { FileCharacteristic } from '../../codec/udf/file-identifier'
import { FileType } from '../../codec/udf/icb'
import { parsePathComponents, symlinkTarget } from '../../codec/udf/path-component'
import { TagId, verifyTag } from '../../codec/udf/tag'
import { timestampToMs } from '../../codec/udf/timestamp'
import { BufferSource, ImageExtentsSource, type DataSource, type FileSection } from '../../model/data-source'
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, type Times } from '../../model/inode'
import type { RecordLocation } from '../../model/node'
import { makedev } from '../rock-ridge'
import type { DirectoryEntryRecord } from './directory'
import { blockWhere, entryData, readIcb, type EntryData, type LocatedEntry, type UdfContext } from './entries'

/*
 * One entry of a UDF directory made into what the model needs: POSIX attributes from the file entry
 * (UDF 3.3.3: permissions, owners, times; the link count), and where its data is.
 */

/** A symbolic link's path components are read whole; a link longer than this is damage. */
const MAX_SYMLINK_SIZE = 64 * 1024

const TYPE_BITS: Record<number, number> = {
  [FileType.DIRECTORY]: S_IFDIR,
  [FileType.FILE]: S_IFREG,
  [FileType.UNSPECIFIED]: S_IFREG,
  [FileType.REAL_TIME]: S_IFREG,
  [FileType.BLOCK_DEVICE]: S_IFBLK,
  [FileType.CHAR_DEVICE]: S_IFCHR,
  [FileType.FIFO]: S_IFIFO,
  [FileType.SOCKET]: S_IFSOCK,
  [FileType.SYMLINK]: S_IFLNK
}

export interface UdfAttributes {
  mode: number
  /** Undefined where the entry records none (2^32 − 1, UDF 2.3.6.2). */
  uid?: number
  gid?: number
  times: Times
  nlink: number
  rdev: number
}

export interface UdfFile {
  name: string
  hidden: boolean
  isDirectory: boolean
  icb: LbAddr
  fid: RecordLocation
  /** Where the prevailing file entry is: its block and its image position. */
  entryAddr: LbAddr
  entryPosition: number
  attributes: UdfAttributes
  /** Files: their content (directories: undefined). */
  data?: DataSource
  /** Directories: their information length (what stat shows as the size). */
  directorySize?: number
  symlinkTarget?: string
}

/** The attributes of an entry read (the root directory's: no identifier descriptor names it). */
export function entryAttributes (ctx: UdfContext, located: LocatedEntry): UdfAttributes {
  const where = blockWhere('file entry', ctx, located.addr)
  return attributesOf(ctx, located.entry, typeBitsOf(located.entry, where), where)
}

function typeBitsOf (entry: FileEntry, where: ImageLocation): number {
  const typeBits = TYPE_BITS[entry.icbTag.fileType]
  if (typeBits === undefined) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `file type ${entry.icbTag.fileType} is not one a directory may name`, { ...where, field: 'file type' })
  }
  return typeBits
}

export async function readUdfFile (ctx: UdfContext, record: DirectoryEntryRecord): Promise<UdfFile> {
  const located = await readIcb(ctx, record.icb)
  const entry = located.entry
  const where = blockWhere('file entry', ctx, located.addr)
  const typeBits = typeBitsOf(entry, where)
  const isDirectory = typeBits === S_IFDIR
  if (isDirectory !== ((record.characteristics & FileCharacteristic.DIRECTORY) !== 0)) {
    ctx.diag.warn({ ...where, field: 'file type' }, `the entry is ${isDirectory ? '' : 'not '}a directory, its identifier descriptor says otherwise; the entry is believed`)
  }
  const file: UdfFile = {
    name: record.name,
    hidden: (record.characteristics & FileCharacteristic.HIDDEN) !== 0,
    isDirectory,
    icb: record.icb,
    fid: record.location,
    entryAddr: located.addr,
    entryPosition: located.position,
    attributes: attributesOf(ctx, entry, typeBits, where)
  }
  if (isDirectory) {
    file.directorySize = entry.informationLength
    return file
  }
  const data = await entryData(ctx, located)
  if (typeBits === S_IFLNK) {
    file.symlinkTarget = await linkTarget(ctx, data, where)
    return file
  }
  file.data = dataSource(ctx, data)
  return file
}

function attributesOf (ctx: UdfContext, entry: FileEntry, typeBits: number, where: ImageLocation): UdfAttributes {
  const ms = (ts: FileEntry['modificationTime']): number | undefined => timestampToMs(ts)
  const mtime = ms(entry.modificationTime) ?? 0
  const times: Times = { mtimeMs: mtime, atimeMs: ms(entry.accessTime) ?? mtime, ctimeMs: ms(entry.attributeTime) ?? mtime }
  if (entry.creationTime !== undefined) {
    const birth = ms(entry.creationTime)
    if (birth !== undefined) times.birthtimeMs = birth
  }
  // Linux udf counts "." for a directory: its link count is the entry's (the parent's identifier and
  // each subdirectory's parent entry, 4/14.9.6) plus one. Zero is "not recorded".
  const recorded = entry.linkCount
  const nlink = typeBits === S_IFDIR ? (recorded > 0 ? recorded + 1 : 1) : Math.max(1, recorded)
  const attributes: UdfAttributes = {
    mode: typeBits | posixPermissions(entry.permissions, entry.icbTag.flags),
    times,
    nlink,
    rdev: 0
  }
  if (entry.uid !== UNSPECIFIED_ID) attributes.uid = entry.uid
  if (entry.gid !== UNSPECIFIED_ID) attributes.gid = entry.gid
  if ((typeBits === S_IFBLK || typeBits === S_IFCHR) && entry.extendedAttributes.length > 0) {
    try {
      const tag = verifyTag(entry.extendedAttributes, 0, { id: TagId.EXTENDED_ATTRIBUTE_HEADER, available: entry.extendedAttributes.length }, ctx.diag, { ...where, field: 'extended attributes' })
      const device = deviceNumbers(parseExtendedAttributes(entry.extendedAttributes, tag, where))
      if (device !== undefined) attributes.rdev = makedev(device.major, device.minor)
    } catch (err) {
      if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
      ctx.diag.warn({ ...where, field: 'extended attributes' }, `${String(err.data.detail)}; the device number is not known`)
    }
  }
  return attributes
}

/** File content: the embedded bytes, or the image's extents (holes included) as file sections. */
function dataSource (ctx: UdfContext, data: EntryData): DataSource {
  if (data.kind === 'embedded') return new BufferSource(Buffer.from(data.bytes))
  const sections: FileSection[] = data.pieces.map(piece => {
    const section: FileSection = { lba: Math.floor(piece.position / 2048), length: piece.length, unitSize: 0, gapSize: 0 }
    if (piece.hole === true) {
      section.lba = 0
      section.hole = true
    } else if (piece.position % 2048 !== 0) {
      section.offset = piece.position % 2048
    }
    return section
  })
  return new ImageExtentsSource(ctx.source, sections)
}

async function linkTarget (ctx: UdfContext, data: EntryData, where: ImageLocation): Promise<string> {
  let bytes: Buffer
  if (data.kind === 'embedded') {
    bytes = data.bytes
  } else {
    if (data.size > MAX_SYMLINK_SIZE) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `symbolic link of ${data.size} bytes exceeds ${MAX_SYMLINK_SIZE}`, { ...where, field: 'information length' })
    }
    bytes = Buffer.alloc(data.size)
    await dataSource(ctx, data).read(bytes, 0, bytes.length, 0)
  }
  return symlinkTarget(parsePathComponents(bytes, where), where)
}
