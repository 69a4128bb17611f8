import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { Diagnostics } from '../diagnostics'

/*
 * ECMA-167 3/7.2 and 4/7.2: the 16-byte tag that starts every UDF descriptor. Its checksum covers the tag
 * itself, its CRC (CRC-ITU-T, 7.2.6) the descriptor's body; its location says where the descriptor was
 * meant to be (an absolute sector for volume structures, a partition block for file structures).
 *
 * Every UDF parser here returns byte fields (identifiers, implementation use, reserved bytes) as views
 * into the buffer it was given, as directory-record.ts does: a directory's entries are parsed by the
 * thousand and most of what they hold is looked at once. Copy what you keep.
 */

export const TAG_SIZE = 16

/** Tag identifiers (3/7.2.1, 4/7.2.1). */
export const TagId = {
  PRIMARY_VOLUME: 1,
  ANCHOR: 2,
  VOLUME_POINTER: 3,
  IMPLEMENTATION_USE: 4,
  PARTITION: 5,
  LOGICAL_VOLUME: 6,
  UNALLOCATED_SPACE: 7,
  TERMINATING: 8,
  INTEGRITY: 9,
  FILE_SET: 256,
  FILE_IDENTIFIER: 257,
  ALLOCATION_EXTENT: 258,
  INDIRECT_ENTRY: 259,
  TERMINAL_ENTRY: 260,
  FILE_ENTRY: 261,
  EXTENDED_ATTRIBUTE_HEADER: 262,
  UNALLOCATED_SPACE_ENTRY: 263,
  SPACE_BITMAP: 264,
  PARTITION_INTEGRITY: 265,
  EXTENDED_FILE_ENTRY: 266
} as const

const TAG_NAMES: Record<number, string> = {
  1: 'primary volume descriptor',
  2: 'anchor volume descriptor pointer',
  3: 'volume descriptor pointer',
  4: 'implementation use volume descriptor',
  5: 'partition descriptor',
  6: 'logical volume descriptor',
  7: 'unallocated space descriptor',
  8: 'terminating descriptor',
  9: 'logical volume integrity descriptor',
  256: 'file set descriptor',
  257: 'file identifier descriptor',
  258: 'allocation extent descriptor',
  259: 'indirect entry',
  260: 'terminal entry',
  261: 'file entry',
  262: 'extended attribute header descriptor',
  263: 'unallocated space entry',
  264: 'space bitmap descriptor',
  265: 'partition integrity entry',
  266: 'extended file entry'
}

export function tagName (id: number): string {
  return TAG_NAMES[id] ?? `descriptor with tag ${id}`
}

export interface DescriptorTag {
  id: number
  /** 2 for NSR02 volumes (ECMA-167 2nd edition, UDF ≤ 1.50), 3 for NSR03 (UDF 2.00 and later). */
  version: number
  checksum: number
  reserved: number
  serial: number
  crc: number
  /** Bytes after the tag that the CRC covers. */
  crcLength: number
  location: number
}

export function parseTag (buf: Buffer, offset = 0): DescriptorTag {
  if (buf.length - offset < TAG_SIZE) throw new RangeError(`a descriptor tag needs ${TAG_SIZE} bytes, ${buf.length - offset} are left`)
  // Bytes, not readUInt16LE and its checks: two tags are parsed per file of a walk.
  return {
    id: buf[offset] | (buf[offset + 1] << 8),
    version: buf[offset + 2] | (buf[offset + 3] << 8),
    checksum: buf[offset + 4],
    reserved: buf[offset + 5],
    serial: buf[offset + 6] | (buf[offset + 7] << 8),
    crc: buf[offset + 8] | (buf[offset + 9] << 8),
    crcLength: buf[offset + 10] | (buf[offset + 11] << 8),
    location: (buf[offset + 12] | (buf[offset + 13] << 8) | (buf[offset + 14] << 16)) + buf[offset + 15] * 0x1000000
  }
}

/** Writes the tag as given, checksum included (see sealDescriptor for computing checksum and CRC). */
export function serializeTag (tag: DescriptorTag, buf: Buffer, offset = 0): void {
  buf.writeUInt16LE(tag.id, offset)
  buf.writeUInt16LE(tag.version, offset + 2)
  buf[offset + 4] = tag.checksum
  buf[offset + 5] = tag.reserved
  buf.writeUInt16LE(tag.serial, offset + 6)
  buf.writeUInt16LE(tag.crc, offset + 8)
  buf.writeUInt16LE(tag.crcLength, offset + 10)
  buf.writeUInt32LE(tag.location, offset + 12)
}

/** 7.2.3: the sum modulo 256 of the tag's bytes other than the checksum byte itself. */
export function tagChecksum (buf: Buffer, offset = 0): number {
  return (buf[offset] + buf[offset + 1] + buf[offset + 2] + buf[offset + 3] + buf[offset + 5] + buf[offset + 6] + buf[offset + 7] +
    buf[offset + 8] + buf[offset + 9] + buf[offset + 10] + buf[offset + 11] + buf[offset + 12] + buf[offset + 13] + buf[offset + 14] +
    buf[offset + 15]) & 0xff
}

/**
 * CRC-ITU-T tables for eight bytes at a time ("slicing by 8"): row k (256 entries from k × 256) is the CRC
 * of a byte followed by k zero bytes, row 0 the usual byte-at-a-time table. 4 KiB, which stay in the L1
 * cache: a UDF walk checks two descriptors per file (its identifier and its entry), and the 128 KiB table
 * of two bytes at a time that this replaces spent most of its time in cache misses (3× slower, measured
 * on 168-byte file entries).
 */
const CRC_ROWS = 8
const CRC_TABLES = (() => {
  const table = new Uint16Array(256 * CRC_ROWS)
  for (let n = 0; n < 256; n++) {
    let c = n << 8
    for (let k = 0; k < 8; k++) c = (c & 0x8000) !== 0 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    table[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n]
    for (let row = 1; row < CRC_ROWS; row++) {
      c = ((c << 8) & 0xff00) ^ table[c >> 8]
      table[row * 256 + n] = c
    }
  }
  return table
})()

/** 7.2.6: CRC-ITU-T (x^16 + x^12 + x^5 + 1), initial value 0, most significant bit first. */
export function crcItu (data: Uint8Array, start = 0, end = data.length): number {
  const t = CRC_TABLES
  let crc = 0
  let i = start
  for (; i + 8 <= end; i += 8) {
    // The CRC so far meets the first two bytes; the other six are independent lookups.
    const x = crc ^ ((data[i] << 8) | data[i + 1])
    crc = t[1792 + (x >> 8)] ^ t[1536 + (x & 0xff)] ^ t[1280 + data[i + 2]] ^ t[1024 + data[i + 3]] ^
      t[768 + data[i + 4]] ^ t[512 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]]
  }
  for (; i < end; i++) crc = ((crc << 8) & 0xff00) ^ t[((crc >> 8) ^ data[i]) & 0xff]
  return crc
}

/**
 * Fills in the CRC (over `crcLength` bytes after the tag, all of the descriptor when undefined) and then
 * the checksum of a descriptor whose tag fields are otherwise written: the last step of serializing one.
 */
export function sealDescriptor (buf: Buffer, offset = 0, crcLength = buf.length - offset - TAG_SIZE): void {
  buf.writeUInt16LE(crcLength, offset + 10)
  buf.writeUInt16LE(crcItu(buf, offset + TAG_SIZE, offset + TAG_SIZE + crcLength), offset + 8)
  buf[offset + 4] = tagChecksum(buf, offset)
}

export interface TagCheck {
  /** The identifier the caller expects (any when undefined). */
  id?: number
  /** Where the descriptor was read: its tag location should say the same. */
  location?: number
  /** Bytes of the descriptor available after `offset`: the CRC length must fit in them. */
  available: number
}

/**
 * Reads and verifies a descriptor tag (7.2.3 checksum, 7.2.6 CRC, 7.2.8 location). A wrong checksum or
 * identifier means this is not the descriptor looked for (an error); a wrong CRC or location is damage
 * to a descriptor that is otherwise recognised, as Linux udf reads it only when the CRC matches: a
 * warning here, an error in strict mode, and the descriptor read.
 */
export function verifyTag (buf: Buffer, offset: number, check: TagCheck, diag: Diagnostics, where: ImageLocation): DescriptorTag {
  if (tagIsSound(buf, offset, check.id, check.location, check.available)) return parseTag(buf, offset)
  const expected = check.id !== undefined ? tagName(check.id) : 'descriptor'
  const structure = where.structure
  if (check.available < TAG_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `${expected} does not fit: ${check.available} bytes left`, { ...where, field: 'tag' })
  }
  const tag = parseTag(buf, offset)
  const sum = tagChecksum(buf, offset)
  if (sum !== tag.checksum) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR',
      `tag checksum is ${tag.checksum}, the tag's bytes sum to ${sum}: not a valid ${expected}`, { ...where, field: 'tag checksum' })
  }
  if (check.id !== undefined && tag.id !== check.id) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `expected a ${expected} (tag ${check.id}), found a ${tagName(tag.id)}`,
      { ...where, field: 'tag identifier' })
  }
  if (tag.version !== 2 && tag.version !== 3) {
    diag.warn({ ...where, structure, field: 'descriptor version' }, `descriptor version ${tag.version} is neither 2 nor 3`)
  }
  if (TAG_SIZE + tag.crcLength > check.available) {
    diag.warn({ ...where, field: 'descriptor CRC length' }, `CRC length ${tag.crcLength} exceeds the ${check.available - TAG_SIZE} bytes of the descriptor`)
  } else {
    const crc = crcItu(buf, offset + TAG_SIZE, offset + TAG_SIZE + tag.crcLength)
    if (crc !== tag.crc) diag.warn({ ...where, field: 'descriptor CRC' }, `CRC is 0x${tag.crc.toString(16)}, the descriptor's bytes give 0x${crc.toString(16)}`)
  }
  if (check.location !== undefined && tag.location !== check.location) {
    diag.warn({ ...where, field: 'tag location' }, `tag says it is at ${tag.location}, it was read at ${check.location}`)
  }
  return tag
}

/**
 * True when the descriptor at `offset` passes every check verifyTag makes (checksum, identifier, version,
 * CRC, location; TagCheck's fields): the usual case, answered without building the tag, a location or
 * a message. A reader of a directory checks two descriptors per file; when this says no, verifyTag says
 * what is wrong.
 */
export function tagIsSound (buf: Buffer, offset: number, id: number | undefined, location: number | undefined, available: number): boolean {
  if (available < TAG_SIZE || buf.length - offset < TAG_SIZE || tagChecksum(buf, offset) !== buf[offset + 4]) return false
  if (id !== undefined && (buf[offset] | (buf[offset + 1] << 8)) !== id) return false
  const version = buf[offset + 2] | (buf[offset + 3] << 8)
  if (version !== 2 && version !== 3) return false
  const crcLength = buf[offset + 10] | (buf[offset + 11] << 8)
  if (TAG_SIZE + crcLength > available) return false
  if (location !== undefined && buf.readUInt32LE(offset + 12) !== location) return false
  return crcItu(buf, offset + TAG_SIZE, offset + TAG_SIZE + crcLength) === (buf[offset + 8] | (buf[offset + 9] << 8))
}

/** True when the bytes at `offset` hold a tag with a valid checksum (a cheap probe, no warning). */
export function hasValidTag (buf: Buffer, offset = 0, id?: number): boolean {
  if (buf.length - offset < TAG_SIZE) return false
  const tag = parseTag(buf, offset)
  return tagChecksum(buf, offset) === tag.checksum && (id === undefined || tag.id === id) && !isAllZero(buf, offset, TAG_SIZE)
}

function isAllZero (buf: Buffer, offset: number, length: number): boolean {
  for (let i = offset; i < offset + length; i++) if (buf[i] !== 0) return false
  return true
}
