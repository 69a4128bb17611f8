import { parseLbAddr, parseLongAd, serializeLbAddr, serializeLongAd, type LbAddr, type LongAd } from './addresses'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 4/14.6: the ICB tag every file entry carries (what kind of file, how its entries are
 * organised, which allocation descriptors it has), and the two ICB entries that are not file entries:
 * the indirect entry (4/14.7, pointing at the next ICB of a strategy 4096 chain) and the terminal entry
 * (4/14.8).
 */

export const ICB_TAG_SIZE = 20

/** 4/14.6.6 file types, and UDF 2.60 6.x additions (248-252). */
export const FileType = {
  UNSPECIFIED: 0,
  UNALLOCATED_SPACE: 1,
  PARTITION_INTEGRITY: 2,
  INDIRECT: 3,
  DIRECTORY: 4,
  FILE: 5,
  BLOCK_DEVICE: 6,
  CHAR_DEVICE: 7,
  EXTENDED_ATTRIBUTES: 8,
  FIFO: 9,
  SOCKET: 10,
  TERMINAL: 11,
  SYMLINK: 12,
  STREAM_DIRECTORY: 13,
  VAT: 248,
  REAL_TIME: 249,
  METADATA: 250,
  METADATA_MIRROR: 251,
  METADATA_BITMAP: 252
} as const

/** 4/14.6.8 flags besides the allocation descriptor type in bits 0-2. */
export const IcbFlag = {
  AD_MASK: 0x0007,
  /** Allocation descriptor type 1: long_ads, which name a partition (data in another than the entry's). */
  LONG_AD: 0x0001,
  /** Allocation descriptor type 3: the data is in the entry itself, where descriptors would be. */
  EMBEDDED: 0x0003,
  SORTED: 0x0008,
  NON_RELOCATABLE: 0x0010,
  ARCHIVE: 0x0020,
  SETUID: 0x0040,
  SETGID: 0x0080,
  STICKY: 0x0100,
  CONTIGUOUS: 0x0200,
  SYSTEM: 0x0400,
  TRANSFORMED: 0x0800,
  MULTI_VERSIONS: 0x1000,
  STREAM: 0x2000
} as const

export interface IcbTag {
  priorRecordedEntries: number
  /** 4 (one entry) in practice; 4096 (UDF 2.3.5.1: an entry and an indirect entry) on write-once media. */
  strategyType: number
  strategyParameter: number
  maxEntries: number
  reserved: number
  fileType: number
  parent: LbAddr
  flags: number
}

export function parseIcbTag (buf: Buffer, offset: number): IcbTag {
  return {
    priorRecordedEntries: buf.readUInt32LE(offset),
    strategyType: buf.readUInt16LE(offset + 4),
    strategyParameter: buf.readUInt16LE(offset + 6),
    maxEntries: buf.readUInt16LE(offset + 8),
    reserved: buf[offset + 10],
    fileType: buf[offset + 11],
    parent: parseLbAddr(buf, offset + 12),
    flags: buf.readUInt16LE(offset + 18)
  }
}

export function serializeIcbTag (icb: IcbTag, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(icb.priorRecordedEntries, offset)
  buf.writeUInt16LE(icb.strategyType, offset + 4)
  buf.writeUInt16LE(icb.strategyParameter, offset + 6)
  buf.writeUInt16LE(icb.maxEntries, offset + 8)
  buf[offset + 10] = icb.reserved
  buf[offset + 11] = icb.fileType
  serializeLbAddr(icb.parent, buf, offset + 12)
  buf.writeUInt16LE(icb.flags, offset + 18)
}

/** 4/14.7 */
export interface IndirectEntry {
  tag: DescriptorTag
  icbTag: IcbTag
  indirect: LongAd
}

export const INDIRECT_ENTRY_SIZE = 52

export function parseIndirectEntry (buf: Buffer, tag: DescriptorTag): IndirectEntry {
  return { tag, icbTag: parseIcbTag(buf, 16), indirect: parseLongAd(buf, 36) }
}

export function serializeIndirectEntry (entry: IndirectEntry): Buffer {
  const buf = Buffer.alloc(INDIRECT_ENTRY_SIZE)
  serializeTag(entry.tag, buf)
  serializeIcbTag(entry.icbTag, buf, 16)
  serializeLongAd(entry.indirect, buf, 36)
  sealDescriptor(buf, 0, entry.tag.crcLength)
  return buf
}
