import { InvalidImageError, type ImageLocation } from '../../../errors'
import { parseLongAd, serializeLongAd, type LongAd } from './addresses'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { parseIcbTag, serializeIcbTag, type IcbTag } from './icb'
import { sealDescriptor, serializeTag, TagId, type DescriptorTag } from './tag'
import { parseTimestamp, serializeTimestamp, type Timestamp } from './timestamp'

/*
 * ECMA-167 4/14.9 file entry and 4/14.17 extended file entry (UDF 2.00+: a creation time, an object size
 * and a stream directory): one file's attributes, then its extended attributes and its allocation
 * descriptors (or, with ICB flag type 3, its data itself). Both are read into one shape; `extended`
 * says which was recorded, and the fields only the extended one has are undefined for the other.
 */

export const FILE_ENTRY_FIXED_SIZE = 176
export const EXTENDED_FILE_ENTRY_FIXED_SIZE = 216

/** 4/14.9.5: permission bits, five per class (execute, write, read, change attributes, delete). */
export const Permission = { EXECUTE: 1, WRITE: 2, READ: 4, CHANGE_ATTRIBUTES: 8, DELETE: 16 } as const

/** UDF 2.3.6.2: an owner or group of 2^32 − 1 is "not specified". */
export const UNSPECIFIED_ID = 0xffffffff

export interface FileEntry {
  tag: DescriptorTag
  extended: boolean
  icbTag: IcbTag
  uid: number
  gid: number
  permissions: number
  linkCount: number
  recordFormat: number
  recordDisplayAttributes: number
  recordLength: number
  /** The file's length in bytes (a number: JavaScript integers are exact up to 8 PiB). */
  informationLength: number
  /** Extended file entries: the length of the file and its streams. */
  objectSize?: number
  logicalBlocksRecorded: number
  accessTime: Timestamp
  modificationTime: Timestamp
  creationTime?: Timestamp
  attributeTime: Timestamp
  checkpoint: number
  reserved?: number
  extendedAttributeIcb: LongAd
  streamDirectoryIcb?: LongAd
  implementationId: EntityId
  uniqueId: bigint
  extendedAttributes: Buffer
  /** The allocation descriptors, or the data itself for an embedded file (ICB flags type 3). */
  allocationDescriptors: Buffer
}

/**
 * Parses a file entry or an extended one (the tag, already verified, says which) from `buf`, the
 * entry's block: the two lengths are checked against it before anything is sliced, so a damaged length
 * costs an error naming the field, never an allocation. Byte fields are views into `buf`, and the entry
 * reads its structured fields when asked: copyFileEntry() gives a plain one to change.
 */
export function parseFileEntry (buf: Buffer, tag: DescriptorTag, where: ImageLocation): FileEntry {
  return new RecordedFileEntry(buf, tag, where)
}

/**
 * A file entry as recorded: the numbers are read at once, the structured fields (ICB tag, times,
 * addresses, identifiers, byte areas) when first asked for. A directory's entries are parsed by the
 * thousand and a reader looks at a few fields of each; building every field of each showed as half the
 * time of walking a UDF tree.
 */
export class RecordedFileEntry implements FileEntry {
  readonly extended: boolean
  readonly informationLength: number
  private readonly fixed: number
  private readonly eaLength: number
  private readonly adLength: number
  private icb?: IcbTag

  constructor (readonly buf: Buffer, readonly tag: DescriptorTag, where: ImageLocation) {
    const extended = tag.id === TagId.EXTENDED_FILE_ENTRY
    const fixed = extended ? EXTENDED_FILE_ENTRY_FIXED_SIZE : FILE_ENTRY_FIXED_SIZE
    if (buf.length < fixed) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `${buf.length} bytes cannot hold a ${fixed}-byte file entry`, where)
    }
    const lengthsAt = extended ? 208 : 168
    const eaLength = buf.readUInt32LE(lengthsAt)
    const adLength = buf.readUInt32LE(lengthsAt + 4)
    if (eaLength > buf.length - fixed) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `extended attributes of ${eaLength} bytes overrun the ${buf.length}-byte entry`, { ...where, field: 'length of extended attributes' })
    }
    if (adLength > buf.length - fixed - eaLength) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `allocation descriptors of ${adLength} bytes overrun the ${buf.length}-byte entry`, { ...where, field: 'length of allocation descriptors' })
    }
    this.extended = extended
    this.fixed = fixed
    this.eaLength = eaLength
    this.adLength = adLength
    this.informationLength = readLength(buf, 56, where, 'information length')
    // Checked now, read when asked for: a damaged length is refused where the entry is read.
    if (extended) readLength(buf, 64, where, 'object size')
    readLength(buf, extended ? 72 : 64, where, 'logical blocks recorded')
  }

  get uid (): number { return this.buf.readUInt32LE(36) }
  get gid (): number { return this.buf.readUInt32LE(40) }
  get permissions (): number { return this.buf.readUInt32LE(44) }
  get linkCount (): number { return this.buf.readUInt16LE(48) }
  get recordFormat (): number { return this.buf[50] }
  get recordDisplayAttributes (): number { return this.buf[51] }
  get recordLength (): number { return this.buf.readUInt32LE(52) }
  get objectSize (): number | undefined { return this.extended ? lengthAt(this.buf, 64) : undefined }
  get logicalBlocksRecorded (): number { return lengthAt(this.buf, this.extended ? 72 : 64) }
  get checkpoint (): number { return this.buf.readUInt32LE(this.extended ? 128 : 108) }
  get reserved (): number | undefined { return this.extended ? this.buf.readUInt32LE(132) : undefined }

  get icbTag (): IcbTag {
    this.icb ??= parseIcbTag(this.buf, 16)
    return this.icb
  }

  get accessTime (): Timestamp { return parseTimestamp(this.buf, this.extended ? 80 : 72) }
  get modificationTime (): Timestamp { return parseTimestamp(this.buf, this.extended ? 92 : 84) }
  get creationTime (): Timestamp | undefined { return this.extended ? parseTimestamp(this.buf, 104) : undefined }
  get attributeTime (): Timestamp { return parseTimestamp(this.buf, this.extended ? 116 : 96) }
  get extendedAttributeIcb (): LongAd { return parseLongAd(this.buf, this.extended ? 136 : 112) }
  get streamDirectoryIcb (): LongAd | undefined { return this.extended ? parseLongAd(this.buf, 152) : undefined }
  get implementationId (): EntityId { return parseEntityId(this.buf, this.extended ? 168 : 128) }
  get uniqueId (): bigint { return this.buf.readBigUInt64LE(this.extended ? 200 : 160) }
  get extendedAttributes (): Buffer { return this.buf.subarray(this.fixed, this.fixed + this.eaLength) }
  get allocationDescriptors (): Buffer { return this.buf.subarray(this.allocationDescriptorsStart, this.allocationDescriptorsEnd) }
  /** Where the allocation descriptors are in `buf`: a walk parses them there, without a view of them. */
  get allocationDescriptorsStart (): number { return this.fixed + this.eaLength }
  get allocationDescriptorsEnd (): number { return this.fixed + this.eaLength + this.adLength }
}

/** A plain copy of a file entry (every field read, byte areas copied), to change and serialize. */
export function copyFileEntry (entry: FileEntry): FileEntry {
  return {
    tag: { ...entry.tag },
    extended: entry.extended,
    icbTag: { ...entry.icbTag, parent: { ...entry.icbTag.parent } },
    uid: entry.uid,
    gid: entry.gid,
    permissions: entry.permissions,
    linkCount: entry.linkCount,
    recordFormat: entry.recordFormat,
    recordDisplayAttributes: entry.recordDisplayAttributes,
    recordLength: entry.recordLength,
    informationLength: entry.informationLength,
    objectSize: entry.objectSize,
    logicalBlocksRecorded: entry.logicalBlocksRecorded,
    accessTime: entry.accessTime,
    modificationTime: entry.modificationTime,
    creationTime: entry.creationTime,
    attributeTime: entry.attributeTime,
    checkpoint: entry.checkpoint,
    reserved: entry.reserved,
    extendedAttributeIcb: entry.extendedAttributeIcb,
    streamDirectoryIcb: entry.streamDirectoryIcb,
    implementationId: entry.implementationId,
    uniqueId: entry.uniqueId,
    extendedAttributes: Buffer.from(entry.extendedAttributes),
    allocationDescriptors: Buffer.from(entry.allocationDescriptors)
  }
}

/** A 64-bit length; past 2^53 it cannot be a real size here (and could not be computed with exactly). */
function readLength (buf: Buffer, offset: number, where: ImageLocation, field: string): number {
  if (buf.readUInt32LE(offset + 4) >= 0x200000) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `${field} ${buf.readBigUInt64LE(offset)} is beyond any image`, { ...where, field })
  }
  return lengthAt(buf, offset)
}

/** A 64-bit length readLength has checked. */
function lengthAt (buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + 4) * 0x100000000 + buf.readUInt32LE(offset)
}

export function fileEntrySize (entry: FileEntry): number {
  return (entry.extended ? EXTENDED_FILE_ENTRY_FIXED_SIZE : FILE_ENTRY_FIXED_SIZE) + entry.extendedAttributes.length + entry.allocationDescriptors.length
}

export function serializeFileEntry (entry: FileEntry): Buffer {
  const fixed = entry.extended ? EXTENDED_FILE_ENTRY_FIXED_SIZE : FILE_ENTRY_FIXED_SIZE
  const buf = Buffer.alloc(fileEntrySize(entry))
  serializeTag(entry.tag, buf)
  serializeIcbTag(entry.icbTag, buf, 16)
  buf.writeUInt32LE(entry.uid, 36)
  buf.writeUInt32LE(entry.gid, 40)
  buf.writeUInt32LE(entry.permissions, 44)
  buf.writeUInt16LE(entry.linkCount, 48)
  buf[50] = entry.recordFormat
  buf[51] = entry.recordDisplayAttributes
  buf.writeUInt32LE(entry.recordLength, 52)
  buf.writeBigUInt64LE(BigInt(entry.informationLength), 56)
  if (!entry.extended) {
    buf.writeBigUInt64LE(BigInt(entry.logicalBlocksRecorded), 64)
    serializeTimestamp(entry.accessTime, buf, 72)
    serializeTimestamp(entry.modificationTime, buf, 84)
    serializeTimestamp(entry.attributeTime, buf, 96)
    buf.writeUInt32LE(entry.checkpoint, 108)
    serializeLongAd(entry.extendedAttributeIcb, buf, 112)
    serializeEntityId(entry.implementationId, buf, 128)
    buf.writeBigUInt64LE(entry.uniqueId, 160)
    buf.writeUInt32LE(entry.extendedAttributes.length, 168)
    buf.writeUInt32LE(entry.allocationDescriptors.length, 172)
  } else {
    buf.writeBigUInt64LE(BigInt(entry.objectSize ?? entry.informationLength), 64)
    buf.writeBigUInt64LE(BigInt(entry.logicalBlocksRecorded), 72)
    serializeTimestamp(entry.accessTime, buf, 80)
    serializeTimestamp(entry.modificationTime, buf, 92)
    serializeTimestamp(entry.creationTime ?? entry.modificationTime, buf, 104)
    serializeTimestamp(entry.attributeTime, buf, 116)
    buf.writeUInt32LE(entry.checkpoint, 128)
    buf.writeUInt32LE(entry.reserved ?? 0, 132)
    serializeLongAd(entry.extendedAttributeIcb, buf, 136)
    serializeLongAd(entry.streamDirectoryIcb ?? { length: 0, location: { block: 0, partition: 0 }, implementationUse: Buffer.alloc(6) }, buf, 152)
    serializeEntityId(entry.implementationId, buf, 168)
    buf.writeBigUInt64LE(entry.uniqueId, 200)
    buf.writeUInt32LE(entry.extendedAttributes.length, 208)
    buf.writeUInt32LE(entry.allocationDescriptors.length, 212)
  }
  entry.extendedAttributes.copy(buf, fixed)
  entry.allocationDescriptors.copy(buf, fixed + entry.extendedAttributes.length)
  sealDescriptor(buf, 0, entry.tag.crcLength)
  return buf
}

/** POSIX permission bits (and setuid/setgid/sticky from the ICB flags) of a file entry (UDF 3.3.3.3). */
export function posixPermissions (permissions: number, icbFlags: number): number {
  const rwx = (bits: number): number => ((bits & Permission.READ) !== 0 ? 4 : 0) | ((bits & Permission.WRITE) !== 0 ? 2 : 0) | ((bits & Permission.EXECUTE) !== 0 ? 1 : 0)
  let mode = rwx(permissions & 0x1f) | (rwx((permissions >> 5) & 0x1f) << 3) | (rwx((permissions >> 10) & 0x1f) << 6)
  if ((icbFlags & 0x40) !== 0) mode |= 0o4000
  if ((icbFlags & 0x80) !== 0) mode |= 0o2000
  if ((icbFlags & 0x100) !== 0) mode |= 0o1000
  return mode
}

/** The UDF permissions of POSIX mode bits; change-attribute and delete follow write, as Linux udf sets them. */
export function udfPermissions (mode: number): number {
  const cls = (bits: number): number => ((bits & 4) !== 0 ? Permission.READ : 0) | ((bits & 2) !== 0 ? Permission.WRITE | Permission.CHANGE_ATTRIBUTES | Permission.DELETE : 0) | ((bits & 1) !== 0 ? Permission.EXECUTE : 0)
  return cls(mode & 7) | (cls((mode >> 3) & 7) << 5) | (cls((mode >> 6) & 7) << 10)
}
