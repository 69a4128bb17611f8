import { InvalidImageError, type ImageLocation } from '../../errors'
import type { Diagnostics } from './diagnostics'
import { parseRecordDate, serializeRecordDate, type RecordDate } from './datetime'
import { readBoth16, readBoth32, writeBoth16, writeBoth32 } from './numbers'

/** ECMA-119 9.1.6 file flags. */
export const FileFlags = {
  HIDDEN: 0x01, // "Existence": not to be shown to the user
  DIRECTORY: 0x02,
  ASSOCIATED: 0x04, // an associated file (Mac resource fork in practice)
  RECORD: 0x08, // the extended attribute record says the record format
  PROTECTION: 0x10, // owner/group/permissions are in the extended attribute record
  MULTI_EXTENT: 0x80 // not the final record of a file (9.1.6, bit 7)
} as const

/** ECMA-119 9.1: one directory record, as recorded. Its length is derived (see recordLength). */
export interface DirectoryRecord {
  extendedAttributeLength: number
  extent: number
  dataLength: number
  recorded: RecordDate
  flags: number
  fileUnitSize: number
  interleaveGap: number
  volumeSequence: number
  /** The file identifier bytes: 0x00 for ".", 0x01 for "..", d-characters or UCS-2 otherwise. */
  identifier: Buffer
  /** The System Use field (9.1.13): SUSP entries when Rock Ridge is in use. */
  systemUse: Buffer
}

export const RECORD_HEADER_SIZE = 33

/** 9.1.12: a padding byte follows an identifier of even length so the System Use field starts even. */
export function recordLength (identifierLength: number, systemUseLength: number): number {
  return RECORD_HEADER_SIZE + identifierLength + (identifierLength % 2 === 0 ? 1 : 0) + systemUseLength
}

/**
 * Parses the record starting at `offset`; `end` bounds it (the end of the sector: 6.8.1.1 forbids records
 * spanning sectors). Returns undefined for a zero length byte, which means "no more records in this sector".
 * The identifier and System Use field are views into `buf`: copy what you keep.
 */
export function parseDirectoryRecord (
  buf: Buffer, offset: number, end: number, diag: Diagnostics, where: ImageLocation
): DirectoryRecord | undefined {
  const length = buf[offset]
  if (length === 0) return undefined
  if (length < RECORD_HEADER_SIZE + 1 || offset + length > end) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `record length ${length} does not fit (${end - offset} bytes left)`,
      { ...where, field: 'length' })
  }
  const identifierLength = buf[offset + 32]
  const systemUseStart = offset + RECORD_HEADER_SIZE + identifierLength + (identifierLength % 2 === 0 ? 1 : 0)
  if (RECORD_HEADER_SIZE + identifierLength > length) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `identifier length ${identifierLength} exceeds record length ${length}`,
      { ...where, field: 'file identifier length' })
  }
  return {
    extendedAttributeLength: buf[offset + 1],
    extent: readBoth32(buf, offset + 2, diag, where, 'extent location'),
    dataLength: readBoth32(buf, offset + 10, diag, where, 'data length'),
    recorded: parseRecordDate(buf, offset + 18),
    flags: buf[offset + 25],
    fileUnitSize: buf[offset + 26],
    interleaveGap: buf[offset + 27],
    volumeSequence: readBoth16(buf, offset + 28, diag, where, 'volume sequence number'),
    identifier: buf.subarray(offset + RECORD_HEADER_SIZE, offset + RECORD_HEADER_SIZE + identifierLength),
    // A record whose identifier fills it exactly has no room for the padding byte; nothing is then left.
    systemUse: buf.subarray(Math.min(systemUseStart, offset + length), offset + length)
  }
}

export function serializeDirectoryRecord (record: DirectoryRecord): Buffer {
  const length = recordLength(record.identifier.length, record.systemUse.length)
  if (length > 255) throw new RangeError(`directory record of ${length} bytes exceeds 255`)
  const buf = Buffer.alloc(length)
  buf[0] = length
  buf[1] = record.extendedAttributeLength
  writeBoth32(buf, 2, record.extent)
  writeBoth32(buf, 10, record.dataLength)
  serializeRecordDate(record.recorded, buf, 18)
  buf[25] = record.flags
  buf[26] = record.fileUnitSize
  buf[27] = record.interleaveGap
  writeBoth16(buf, 28, record.volumeSequence)
  buf[32] = record.identifier.length
  record.identifier.copy(buf, RECORD_HEADER_SIZE)
  record.systemUse.copy(buf, length - record.systemUse.length)
  return buf
}

/** The identifiers of the "." and ".." records (9.1.11). */
export const SELF_IDENTIFIER = Buffer.from([0])
export const PARENT_IDENTIFIER = Buffer.from([1])

export function isSelfOrParent (record: DirectoryRecord): boolean {
  return record.identifier.length === 1 && record.identifier[0] <= 1
}
