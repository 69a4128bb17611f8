import { crc32 } from './crc32'

/*
 * GUID partition table (UEFI 2.x chapter 5) as xorriso writes it into the system area of EFI-bootable
 * hybrid images (-isohybrid-gpt-basdat, -append_partition): header in 512-byte LBA 1, entries from LBA 2,
 * a backup header at the last 512-byte block of the image.
 */

export const GPT_SIGNATURE = 'EFI PART'
export const GPT_HEADER_SIZE = 92
export const GPT_ENTRY_SIZE = 128
/** Bound on entries parsed: UEFI requires room for 128; nobody uses more than a few thousand. */
export const MAX_GPT_ENTRIES = 4096

export interface GptHeader {
  revision: number
  headerSize: number
  headerCrc: number
  currentLba: number
  backupLba: number
  firstUsableLba: number
  lastUsableLba: number
  diskGuid: Buffer
  entriesLba: number
  entryCount: number
  entrySize: number
  entriesCrc: number
}

export interface GptPartition {
  /** 1-based entry number in the table (empty entries are skipped, so this is not the list position). */
  index?: number
  typeGuid: Buffer
  uniqueGuid: Buffer
  firstLba: number
  lastLba: number
  attributes: bigint
  name: string
}

export function parseGptHeader (block: Buffer): GptHeader | undefined {
  if (block.length < GPT_HEADER_SIZE || block.toString('latin1', 0, 8) !== GPT_SIGNATURE) return undefined
  return {
    revision: block.readUInt32LE(8),
    headerSize: block.readUInt32LE(12),
    headerCrc: block.readUInt32LE(16),
    currentLba: Number(block.readBigUInt64LE(24)),
    backupLba: Number(block.readBigUInt64LE(32)),
    firstUsableLba: Number(block.readBigUInt64LE(40)),
    lastUsableLba: Number(block.readBigUInt64LE(48)),
    diskGuid: Buffer.from(block.subarray(56, 72)),
    entriesLba: Number(block.readBigUInt64LE(72)),
    entryCount: block.readUInt32LE(80),
    entrySize: block.readUInt32LE(84),
    entriesCrc: block.readUInt32LE(88)
  }
}

/** The header CRC is taken over headerSize bytes with the CRC field zeroed (UEFI 5.3.2). */
export function gptHeaderCrcMatches (block: Buffer, header: GptHeader): boolean {
  if (header.headerSize < GPT_HEADER_SIZE || header.headerSize > block.length) return false
  const copy = Buffer.from(block.subarray(0, header.headerSize))
  copy.writeUInt32LE(0, 16)
  return crc32(copy) === header.headerCrc
}

export function serializeGptHeader (header: GptHeader): Buffer {
  const block = Buffer.alloc(512)
  block.write(GPT_SIGNATURE, 0, 'latin1')
  block.writeUInt32LE(header.revision, 8)
  block.writeUInt32LE(GPT_HEADER_SIZE, 12)
  block.writeBigUInt64LE(BigInt(header.currentLba), 24)
  block.writeBigUInt64LE(BigInt(header.backupLba), 32)
  block.writeBigUInt64LE(BigInt(header.firstUsableLba), 40)
  block.writeBigUInt64LE(BigInt(header.lastUsableLba), 48)
  header.diskGuid.copy(block, 56, 0, 16)
  block.writeBigUInt64LE(BigInt(header.entriesLba), 72)
  block.writeUInt32LE(header.entryCount, 80)
  block.writeUInt32LE(header.entrySize, 84)
  block.writeUInt32LE(header.entriesCrc >>> 0, 88)
  block.writeUInt32LE(crc32(block.subarray(0, GPT_HEADER_SIZE)), 16)
  return block
}

const EMPTY_GUID = Buffer.alloc(16)

export function parseGptEntries (buf: Buffer, count: number, entrySize: number): GptPartition[] {
  const partitions: GptPartition[] = []
  for (let i = 0; i < count && (i + 1) * entrySize <= buf.length; i++) {
    const e = buf.subarray(i * entrySize, i * entrySize + entrySize)
    const typeGuid = Buffer.from(e.subarray(0, 16))
    if (typeGuid.equals(EMPTY_GUID)) continue
    partitions.push({
      index: i + 1,
      typeGuid,
      uniqueGuid: Buffer.from(e.subarray(16, 32)),
      firstLba: Number(e.readBigUInt64LE(32)),
      lastLba: Number(e.readBigUInt64LE(40)),
      attributes: e.readBigUInt64LE(48),
      name: decodeUtf16le(e.subarray(56, Math.min(128, entrySize)))
    })
  }
  return partitions
}

export function serializeGptEntries (partitions: readonly GptPartition[], count: number): Buffer {
  const buf = Buffer.alloc(count * GPT_ENTRY_SIZE)
  partitions.forEach((p, i) => serializeGptEntry(p).copy(buf, i * GPT_ENTRY_SIZE))
  return buf
}

/** One 128-byte entry (UEFI 5.3.3); the name is cut at 36 UTF-16 units. */
export function serializeGptEntry (p: GptPartition): Buffer {
  const e = Buffer.alloc(GPT_ENTRY_SIZE)
  p.typeGuid.copy(e, 0)
  p.uniqueGuid.copy(e, 16)
  e.writeBigUInt64LE(BigInt(p.firstLba), 32)
  e.writeBigUInt64LE(BigInt(p.lastLba), 40)
  e.writeBigUInt64LE(p.attributes, 48)
  e.write(p.name.slice(0, 36), 56, 72, 'utf16le')
  return e
}

/** GUIDs are stored mixed-endian (UEFI appendix A); this prints the usual text form. */
export function guidToString (guid: Buffer): string {
  const hex = (b: Buffer): string => b.toString('hex')
  const swapped = (start: number, end: number): string => hex(Buffer.from(guid.subarray(start, end)).reverse())
  return `${swapped(0, 4)}-${swapped(4, 6)}-${swapped(6, 8)}-${hex(guid.subarray(8, 10))}-${hex(guid.subarray(10, 16))}`
}

export function guidFromString (text: string): Buffer {
  const hex = text.replace(/-/g, '')
  const raw = Buffer.from(hex, 'hex')
  return Buffer.concat([
    Buffer.from(raw.subarray(0, 4)).reverse(), Buffer.from(raw.subarray(4, 6)).reverse(),
    Buffer.from(raw.subarray(6, 8)).reverse(), raw.subarray(8, 16)
  ])
}

export const GptType = {
  BASIC_DATA: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7',
  EFI_SYSTEM: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  HFS_PLUS: '48465300-0000-11aa-aa11-00306543ecac'
} as const

/** UTF-16LE text that ends at the first NUL (GPT partition names are fixed-size fields). */
function decodeUtf16le (bytes: Buffer): string {
  const text = Buffer.from(bytes.subarray(0, bytes.length & ~1)).toString('utf16le')
  const nul = text.indexOf('\0')
  return nul === -1 ? text : text.slice(0, nul)
}
