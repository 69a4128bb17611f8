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
import { entryData, entryDataNow, readIcb, readIcbNow, whereAt, type EntryData, type LocatedEntry, type UdfContext } from './entries'

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

/** A file's data start when it has no bytes of its own in the image (empty, embedded, a hole first). */
export const NO_DATA = -1

/**
 * One entry of a UDF directory, its file entry read. Its attributes and its data source are made when
 * first asked for: a walk pairs most files with the ISO9660 tree's, whose Rock Ridge attributes and data
 * prevail, and only needs where the data starts (dataStart, size). Both read the entry's block, which may
 * be a view of a read-ahead buffer (entries.ts prefetchBlocks): ask before that buffer is read into again
 * (the tree pairs each file as soon as it is read).
 */
export class UdfFile {
  readonly name: string
  readonly hidden: boolean
  readonly isDirectory: boolean
  readonly icb: LbAddr
  readonly fid: RecordLocation
  /** Directories: their information length (what stat shows as the size). */
  readonly directorySize?: number
  symlinkTarget?: string
  private attributesRead?: UdfAttributes
  private source?: DataSource

  constructor (
    private readonly ctx: UdfContext, record: DirectoryEntryRecord, private readonly located: LocatedEntry, private readonly typeBits: number,
    /** Files: where their content is (directories and symbolic links: undefined). */
    private readonly content?: EntryData
  ) {
    this.name = record.name
    this.hidden = (record.characteristics & FileCharacteristic.HIDDEN) !== 0
    this.isDirectory = typeBits === S_IFDIR
    this.icb = record.icb
    this.fid = record.location
    if (this.isDirectory) this.directorySize = located.entry.informationLength
    // A device's numbers are in its extended attributes, whose damage is reported as the entry is read.
    if (typeBits === S_IFBLK || typeBits === S_IFCHR) this.attributesRead = this.attributes
  }

  /** Where the prevailing file entry is: its block and its image position. */
  get entryAddr (): LbAddr { return this.located.addr }
  get entryPosition (): number { return this.located.position }

  get attributes (): UdfAttributes {
    this.attributesRead ??= attributesOf(this.ctx, this.located, this.typeBits)
    return this.attributesRead
  }

  /** Files: their content (directories and symbolic links: undefined). */
  get data (): DataSource | undefined {
    if (this.content === undefined) return undefined
    this.source ??= dataSource(this.ctx, this.content)
    return this.source
  }

  /** The content's size in bytes (0 for directories and symbolic links). */
  get size (): number {
    if (this.content === undefined) return 0
    return this.content.kind === 'embedded' ? this.content.bytes.length : this.content.size
  }

  /** Where the content starts in the image, in bytes, or NO_DATA: what pairs it with another tree's record. */
  get dataStart (): number {
    const content = this.content
    if (content === undefined || content.kind === 'embedded' || content.size === 0) return NO_DATA
    const first = content.pieces[0]
    return first === undefined || first.hole === true ? NO_DATA : first.position
  }
}

/** The attributes of an entry read (the root directory's: no identifier descriptor names it). */
export function entryAttributes (ctx: UdfContext, located: LocatedEntry): UdfAttributes {
  return attributesOf(ctx, located, typeBitsOf(located))
}

function typeBitsOf (located: LocatedEntry): number {
  const fileType = located.entry.icbTag.fileType
  const typeBits = TYPE_BITS[fileType]
  if (typeBits === undefined) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `file type ${fileType} is not one a directory may name`, { ...whereAt('file entry', located.position), field: 'file type' })
  }
  return typeBits
}

/** The file an identifier descriptor names: its entry read (indirect entries followed) and its data located. */
export async function readUdfFile (ctx: UdfContext, record: DirectoryEntryRecord): Promise<UdfFile> {
  const located = await readIcb(ctx, record.icb)
  const typeBits = checkedTypeBits(ctx, record, located)
  if (typeBits === S_IFDIR) return new UdfFile(ctx, record, located, typeBits)
  const data = await entryData(ctx, located)
  if (typeBits !== S_IFLNK) return new UdfFile(ctx, record, located, typeBits, data)
  const file = new UdfFile(ctx, record, located, typeBits)
  file.symlinkTarget = await linkTarget(ctx, data, whereAt('file entry', located.position))
  return file
}

/**
 * readUdfFile without waiting, for the usual file: its entry read ahead (readIcbNow), its data described
 * in the entry. Undefined when there is more to read (then readUdfFile). Errors are those readUdfFile
 * gives.
 */
export function readUdfFileNow (ctx: UdfContext, record: DirectoryEntryRecord): UdfFile | undefined {
  const located = readIcbNow(ctx, record.icb)
  if (located === undefined) return undefined
  const typeBits = checkedTypeBits(ctx, record, located)
  if (typeBits === S_IFDIR) return new UdfFile(ctx, record, located, typeBits)
  const data = entryDataNow(ctx, located)
  if (data === undefined) return undefined
  if (typeBits !== S_IFLNK) return new UdfFile(ctx, record, located, typeBits, data)
  if (data.kind !== 'embedded') return undefined
  const file = new UdfFile(ctx, record, located, typeBits)
  file.symlinkTarget = targetOf(data.bytes, whereAt('file entry', located.position))
  return file
}

function checkedTypeBits (ctx: UdfContext, record: DirectoryEntryRecord, located: LocatedEntry): number {
  const typeBits = typeBitsOf(located)
  const isDirectory = typeBits === S_IFDIR
  if (isDirectory !== ((record.characteristics & FileCharacteristic.DIRECTORY) !== 0)) {
    ctx.diag.warn({ ...whereAt('file entry', located.position), field: 'file type' }, `the entry is ${isDirectory ? '' : 'not '}a directory, its identifier descriptor says otherwise; the entry is believed`)
  }
  return typeBits
}

function attributesOf (ctx: UdfContext, located: LocatedEntry, typeBits: number): UdfAttributes {
  const entry = located.entry
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
    const where = whereAt('file entry', located.position)
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
  return targetOf(bytes, where)
}

function targetOf (pathComponents: Buffer, where: ImageLocation): string {
  return symlinkTarget(parsePathComponents(pathComponents, where), where)
}
