import type { Diagnostics } from '../codec/diagnostics'
import {
  GPT_ENTRY_SIZE, gptHeaderCrcMatches, MAX_GPT_ENTRIES, parseGptEntries, parseGptHeader, type GptHeader, type GptPartition
} from '../codec/gpt'
import { crc32 } from '../codec/crc32'
import { isohybridBootLba512, parseMbr, type Mbr } from '../codec/mbr'
import { parseApm, parseApmBlockSize, type ApmEntry } from '../codec/apm'
import { DESCRIPTORS_START, SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/** ECMA-119 6.2.1: the first 16 sectors are the system area, free for the system's use. */
export const SYSTEM_AREA_SIZE = DESCRIPTORS_START * SECTOR_SIZE

/** What hybrid-boot structures the system area holds (isohybrid MBR, GPT). */
export interface SystemAreaInfo {
  /** Whether any byte of the system area is non-zero. */
  used: boolean
  /** The system area as recorded (when used): the template a remaster starts from. */
  bytes?: Buffer
  mbr?: Mbr
  /** The El Torito boot image an isohybrid MBR points at, in 512-byte sectors (isohybrid offset 432). */
  isohybridBootLba512?: number
  gpt?: { header: GptHeader, partitions: GptPartition[], headerCrcValid: boolean, entriesCrcValid: boolean }
  /** An Apple Partition Map (xorriso -hfsplus, grub-mkrescue): its block size and entries. */
  apm?: { blockSize: number, entries: ApmEntry[] }
}

export async function readSystemArea (source: ByteSource, diag: Diagnostics): Promise<SystemAreaInfo> {
  const area = await readExactly(source, 0, Math.min(SYSTEM_AREA_SIZE, source.size), { structure: 'system area', lba: 0 })
  const info: SystemAreaInfo = { used: area.some(b => b !== 0) }
  if (!info.used) return info
  info.bytes = area
  const mbr = parseMbr(area.subarray(0, 512))
  if (mbr !== undefined) {
    info.mbr = mbr
    const lba512 = isohybridBootLba512(mbr)
    if (lba512 !== 0) info.isohybridBootLba512 = lba512
  }
  const apmBlockSize = parseApmBlockSize(area)
  if (apmBlockSize !== undefined) {
    const entries = parseApm(area, apmBlockSize)
    if (entries.length > 0) info.apm = { blockSize: apmBlockSize, entries }
  }
  const header = parseGptHeader(area.subarray(512, 1024))
  if (header !== undefined) {
    const count = Math.min(header.entryCount, MAX_GPT_ENTRIES)
    if (count < header.entryCount) diag.warn({ structure: 'GPT header', field: 'number of entries' }, `only ${count} of ${header.entryCount} entries read`)
    const entrySize = header.entrySize >= GPT_ENTRY_SIZE && header.entrySize <= 4096 ? header.entrySize : GPT_ENTRY_SIZE
    const start = header.entriesLba * 512
    const length = count * entrySize
    const headerCrcValid = gptHeaderCrcMatches(area.subarray(512, 1024), header)
    if (!headerCrcValid) diag.warn({ structure: 'GPT header', field: 'header CRC32' }, 'CRC does not match')
    if (start + length > source.size) {
      // A damaged or foreign GPT: the ISO9660 volume does not depend on it (Linux mounts such images).
      diag.warn({ structure: 'GPT header', field: 'partition entries LBA' },
        `${count} entries at 512-byte LBA ${header.entriesLba} lie beyond the end of the image; partitions not read`)
      info.gpt = { header, partitions: [], headerCrcValid, entriesCrcValid: false }
      return info
    }
    const entries = start + length <= area.length
      ? area.subarray(start, start + length)
      : await readExactly(source, start, length, { structure: 'GPT partition entries' })
    info.gpt = {
      header,
      partitions: parseGptEntries(entries, count, entrySize),
      headerCrcValid,
      entriesCrcValid: crc32(entries) === header.entriesCrc
    }
    if (!info.gpt.entriesCrcValid) diag.warn({ structure: 'GPT header', field: 'partition entries CRC32' }, 'CRC does not match the entries')
  }
  return info
}
