import { createHash } from 'node:crypto'
import { crc32 } from '../codec/crc32'
import {
  GPT_ENTRY_SIZE, GptType, guidFromString, serializeGptEntries, serializeGptHeader, type GptHeader, type GptPartition
} from '../codec/gpt'
import {
  chsOf, ISOHYBRID_BOOT_LBA_OFFSET, MBR_DISK_ID_OFFSET, serializeMbr, type MbrPartition
} from '../codec/mbr'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { HybridConfiguration } from '../model/boot'
import type { Inode } from '../model/inode'
import type { Layout, WriteContent } from './layout'

/*
 * The system area of hybrid images, as syslinux isohybrid and xorriso write it: the image padded to whole
 * fake cylinders of 64 heads x 32 sectors (1 MiB), an MBR whose first partition covers the image (and a
 * second one, type 0xEF, the EFI boot image), the El Torito boot image's 512-byte LBA at byte 432, and
 * for EFI a GPT with its backup at the very end of the image.
 */

const HEADS = 64
const SECTORS_PER_TRACK = 32
const CYLINDER_BLOCKS = HEADS * SECTORS_PER_TRACK
const BLOCKS_PER_SECTOR = SECTOR_SIZE / 512
export const SYSTEM_AREA_BYTES = 16 * SECTOR_SIZE
/** Primary GPT: header in block 1, 128 entries of 128 bytes in blocks 2-33 (UEFI 5.3). */
const GPT_ENTRIES = 128
const GPT_ENTRY_BLOCKS = GPT_ENTRIES * GPT_ENTRY_SIZE / 512
const GPT_BACKUP_BLOCKS = GPT_ENTRY_BLOCKS + 1
const XORRISO_GPT_ATTRIBUTES = 0x1000000000000001n

export function hybridTotalSectors (volumeSectors: number, hybrid: HybridConfiguration): number {
  if (!hybrid.mbr) return volumeSectors
  const blocks = volumeSectors * BLOCKS_PER_SECTOR + (hybrid.gpt ? GPT_BACKUP_BLOCKS : 0)
  return Math.ceil(blocks / CYLINDER_BLOCKS) * CYLINDER_BLOCKS / BLOCKS_PER_SECTOR
}

export async function buildSystemArea (layout: Layout, content: WriteContent): Promise<Buffer> {
  const area = Buffer.alloc(SYSTEM_AREA_BYTES)
  const hybrid = content.hybrid
  if (hybrid === undefined) return area
  hybrid.template.copy(area, 0, 0, Math.min(hybrid.template.length, SYSTEM_AREA_BYTES))
  if (!hybrid.mbr) return area
  const totalBlocks = layout.totalSectors * BLOCKS_PER_SECTOR
  const head = Buffer.from(area.subarray(0, 446))
  head.fill(0, ISOHYBRID_BOOT_LBA_OFFSET, MBR_DISK_ID_OFFSET)
  const boot = hybrid.bootImage !== undefined ? startBlock(layout, hybrid.bootImage) : undefined
  if (boot !== undefined) head.writeBigUInt64LE(BigInt(boot), ISOHYBRID_BOOT_LBA_OFFSET)
  if (head.readUInt32LE(MBR_DISK_ID_OFFSET) === 0) digest(layout, 'mbr id').copy(head, MBR_DISK_ID_OFFSET, 0, 4)
  head.writeUInt16LE(0, 444)
  const partitions: MbrPartition[] = [partition(0x80, hybrid.partitionType, 0, totalBlocks)]
  const efi = efiRange(layout, hybrid)
  if (efi !== undefined) partitions.push(partition(0x00, 0xef, efi.start, efi.blocks))
  while (partitions.length < 4) partitions.push(partition(0, 0, 0, 0, true))
  serializeMbr({ head, partitions }).copy(area, 0)
  if (hybrid.gpt) {
    const { header, entries } = gpt(layout, hybrid, 'primary')
    header.copy(area, 512)
    entries.copy(area, 1024)
  }
  return area
}

/** The backup GPT (entries, then header in the last block) at the end of the image. */
export function buildTrailer (layout: Layout, content: WriteContent): { lba: number, bytes: Buffer } | undefined {
  if (content.hybrid?.gpt !== true || !content.hybrid.mbr) return undefined
  const { header, entries } = gpt(layout, content.hybrid, 'backup')
  const totalBlocks = layout.totalSectors * BLOCKS_PER_SECTOR
  const firstBlock = totalBlocks - GPT_BACKUP_BLOCKS
  const lba = Math.floor(firstBlock / BLOCKS_PER_SECTOR)
  const bytes = Buffer.alloc((layout.totalSectors - lba) * SECTOR_SIZE)
  const at = (firstBlock - lba * BLOCKS_PER_SECTOR) * 512
  entries.copy(bytes, at)
  header.copy(bytes, at + entries.length)
  return { lba, bytes }
}

function gpt (layout: Layout, hybrid: HybridConfiguration, copy: 'primary' | 'backup'): { header: Buffer, entries: Buffer } {
  const totalBlocks = layout.totalSectors * BLOCKS_PER_SECTOR
  // As xorriso -isohybrid-gpt-basdat writes them (xorriso -report_system_area of its images): both the ISO
  // and the marked boot image are of type Basic Data (the option's name), named ISOHybrid and ISOHybrid1,
  // with attributes 0x1000000000000001 (bit 0 "required by the platform", bit 60 "read-only").
  const partitions: GptPartition[] = [{
    typeGuid: guidFromString(GptType.BASIC_DATA),
    uniqueGuid: guid(layout, 'partition 1'),
    firstLba: 0,
    lastLba: layout.volumeSectors * BLOCKS_PER_SECTOR - 1,
    attributes: XORRISO_GPT_ATTRIBUTES,
    name: 'ISOHybrid'
  }]
  const efi = efiRange(layout, hybrid)
  if (efi !== undefined) {
    partitions.push({
      typeGuid: guidFromString(GptType.BASIC_DATA),
      uniqueGuid: guid(layout, 'partition 2'),
      firstLba: efi.start,
      lastLba: efi.start + efi.blocks - 1,
      attributes: XORRISO_GPT_ATTRIBUTES,
      name: 'ISOHybrid1'
    })
  }
  const entries = serializeGptEntries(partitions, GPT_ENTRIES)
  const header: GptHeader = {
    revision: 0x00010000,
    headerSize: 92,
    headerCrc: 0,
    currentLba: copy === 'primary' ? 1 : totalBlocks - 1,
    backupLba: copy === 'primary' ? totalBlocks - 1 : 1,
    firstUsableLba: 2 + GPT_ENTRY_BLOCKS,
    lastUsableLba: totalBlocks - GPT_BACKUP_BLOCKS - 1,
    diskGuid: guid(layout, 'disk'),
    entriesLba: copy === 'primary' ? 2 : totalBlocks - GPT_BACKUP_BLOCKS,
    entryCount: GPT_ENTRIES,
    entrySize: GPT_ENTRY_SIZE,
    entriesCrc: crc32(entries)
  }
  return { header: serializeGptHeader(header), entries }
}

function partition (status: number, type: number, start: number, blocks: number, empty = false): MbrPartition {
  if (empty) return { status: 0, type: 0, chsStart: Buffer.alloc(3), chsEnd: Buffer.alloc(3), lbaStart: 0, sectors: 0 }
  return {
    status,
    type,
    chsStart: chsOf(start, HEADS, SECTORS_PER_TRACK),
    chsEnd: chsOf(start + blocks - 1, HEADS, SECTORS_PER_TRACK),
    lbaStart: start,
    sectors: blocks
  }
}

function startBlock (layout: Layout, inode: Inode): number | undefined {
  const sections = layout.files.get(inode)
  return sections === undefined ? undefined : sections[0].lba * BLOCKS_PER_SECTOR
}

function efiRange (layout: Layout, hybrid: HybridConfiguration): { start: number, blocks: number } | undefined {
  if (hybrid.efiImage === undefined) return undefined
  const start = startBlock(layout, hybrid.efiImage)
  if (start === undefined) return undefined
  return { start, blocks: Math.ceil(hybrid.efiImage.data.size / 512) }
}

/** Identifiers derived from the volume, so the same input gives the same image (SOURCE_DATE_EPOCH). */
function digest (layout: Layout, purpose: string): Buffer {
  const v = layout.settings.volume
  return createHash('sha256').update(`${v.volumeId}\0${v.createdMs}\0${layout.totalSectors}\0${purpose}`).digest()
}

function guid (layout: Layout, purpose: string): Buffer {
  const bytes = digest(layout, purpose).subarray(0, 16)
  bytes[7] = (bytes[7] & 0x0f) | 0x40 // version 4 (stored little-endian: byte 7 is the high byte of field 3)
  bytes[8] = (bytes[8] & 0x3f) | 0x80 // RFC 4122 variant
  return Buffer.from(bytes)
}

