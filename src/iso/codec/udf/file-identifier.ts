import { InvalidImageError, type ImageLocation } from '../../../errors'
import { parseLongAd, serializeLongAd, type LongAd } from './addresses'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 4/14.4: the file identifier descriptor, one directory entry: a name (d-characters), the ICB of
 * the file it names, and characteristics (hidden, directory, deleted, parent). Descriptors follow each
 * other in the directory's data, each padded to a multiple of 4 bytes (4/14.4.9), and may cross block
 * boundaries.
 */

export const FID_FIXED_SIZE = 38

/** 4/14.4.3 file characteristics. */
export const FileCharacteristic = {
  /** "Existence": not to be shown to the user (hidden). */
  HIDDEN: 0x01,
  DIRECTORY: 0x02,
  DELETED: 0x04,
  /** The entry names the parent directory (the first entry of every directory). */
  PARENT: 0x08,
  /** UDF 2.00+: a stream of the metadata (4/14.4.3 bit 4). */
  METADATA: 0x10
} as const

export interface FileIdentifier {
  tag: DescriptorTag
  fileVersion: number
  characteristics: number
  icb: LongAd
  implementationUse: Buffer
  /** The name as d-characters (cs0.ts decodeDchars), empty for the parent entry. */
  identifier: Buffer
  /** The padding bytes as recorded (zero per 4/14.4.9). */
  padding: Buffer
}

/** The bytes a descriptor with these lengths takes, padding included. */
export function fidLength (implementationUseLength: number, identifierLength: number): number {
  return 4 * Math.ceil((FID_FIXED_SIZE + implementationUseLength + identifierLength) / 4)
}

/**
 * Parses the descriptor at `offset` of `buf` (a directory's data, tag already verified); its lengths
 * are checked against the bytes left before anything is sliced. Byte fields are views into `buf`, made
 * when first asked for (a reader of a directory wants the name and the ICB of each entry, no more).
 */
export function parseFileIdentifier (buf: Buffer, offset: number, tag: DescriptorTag, where: ImageLocation): RecordedFileIdentifier {
  const left = buf.length - offset
  if (left < FID_FIXED_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `${left} bytes left cannot hold a file identifier descriptor`, where)
  }
  const identifierLength = buf[offset + 19]
  const useLength = buf.readUInt16LE(offset + 36)
  if (FID_FIXED_SIZE + useLength + identifierLength > left) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `its ${FID_FIXED_SIZE + useLength + identifierLength} bytes overrun the directory (${left} left)`,
      { ...where, field: useLength > left ? 'length of implementation use' : 'length of file identifier' })
  }
  return new RecordedFileIdentifier(buf, offset, tag, useLength, identifierLength)
}

export class RecordedFileIdentifier implements FileIdentifier {
  readonly fileVersion: number
  readonly characteristics: number
  /** Where the identifier's bytes are in the buffer parsed (to decode them without a view). */
  readonly identifierStart: number
  readonly identifierEnd: number
  /** The descriptor's length, padding included. */
  readonly length: number
  private readonly end: number

  constructor (private readonly buf: Buffer, private readonly offset: number, readonly tag: DescriptorTag, useLength: number, identifierLength: number) {
    this.fileVersion = buf.readUInt16LE(offset + 16)
    this.characteristics = buf[offset + 18]
    this.identifierStart = offset + FID_FIXED_SIZE + useLength
    this.identifierEnd = this.identifierStart + identifierLength
    this.length = fidLength(useLength, identifierLength)
    this.end = Math.min(buf.length, offset + this.length)
  }

  get icb (): LongAd { return parseLongAd(this.buf, this.offset + 20) }
  /** The ICB's block and partition, read without building the long_ad. */
  get icbBlock (): number { return this.buf.readUInt32LE(this.offset + 24) }
  get icbPartition (): number { return this.buf.readUInt16LE(this.offset + 28) }
  get implementationUse (): Buffer { return this.buf.subarray(this.offset + FID_FIXED_SIZE, this.identifierStart) }
  get identifier (): Buffer { return this.buf.subarray(this.identifierStart, this.identifierEnd) }
  get padding (): Buffer { return this.buf.subarray(this.identifierEnd, this.end) }
}

/** A plain copy of a file identifier descriptor (byte fields copied), to change and serialize. */
export function copyFileIdentifier (fid: FileIdentifier): FileIdentifier {
  return {
    tag: { ...fid.tag },
    fileVersion: fid.fileVersion,
    characteristics: fid.characteristics,
    icb: { ...fid.icb, location: { ...fid.icb.location }, implementationUse: Buffer.from(fid.icb.implementationUse) },
    implementationUse: Buffer.from(fid.implementationUse),
    identifier: Buffer.from(fid.identifier),
    padding: Buffer.from(fid.padding)
  }
}

export function fileIdentifierLength (fid: FileIdentifier): number {
  return fidLength(fid.implementationUse.length, fid.identifier.length)
}

export function serializeFileIdentifier (fid: FileIdentifier): Buffer {
  const buf = Buffer.alloc(fileIdentifierLength(fid))
  serializeTag(fid.tag, buf)
  buf.writeUInt16LE(fid.fileVersion, 16)
  buf[18] = fid.characteristics
  buf[19] = fid.identifier.length
  serializeLongAd(fid.icb, buf, 20)
  buf.writeUInt16LE(fid.implementationUse.length, 36)
  fid.implementationUse.copy(buf, FID_FIXED_SIZE)
  fid.identifier.copy(buf, FID_FIXED_SIZE + fid.implementationUse.length)
  fid.padding.copy(buf, FID_FIXED_SIZE + fid.implementationUse.length + fid.identifier.length)
  sealDescriptor(buf, 0, fid.tag.crcLength)
  return buf
}

