import { createHash } from 'node:crypto'
import { InternalError } from '../../errors'
import { APM_ENTRY_SIZE, serializeApmEntry, type ApmEntry } from '../codec/apm'
import { crc32 } from '../codec/crc32'
import { serializeGptEntry, serializeGptHeader, type GptPartition } from '../codec/gpt'
import { chsOf, ISOHYBRID_BOOT_LBA_OFFSET, MBR_DISK_ID_OFFSET, MBR_PARTITION_TABLE, type MbrPartition } from '../codec/mbr'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { allBootImages } from '../model/boot'
import type { Payload } from '../model/payload'
import type { ApmModel, Coverage, GptModel, SystemAreaModel } from '../model/system-area'
import type { Layout, WriteContent } from './layout'

/*
 * Writes the system area (sectors 0-15) and the backup GPT from the model (model/system-area.ts): the
 * recorded bytes first, then only what we own on top: partition entries that follow the volume, the
 * device or a payload, xorriso's gap fillers recomputed, the boot pointer at MBR byte 432, the GPT headers
 * and CRCs. Disk and partition identifiers are kept; a new image's (left zero) are derived from the volume.
 */

const BLOCKS_PER_SECTOR = SECTOR_SIZE / 512
export const SYSTEM_AREA_BYTES = 16 * SECTOR_SIZE

/** Every payload the boot catalog and the system area point at, boot images first, each once. */
export function payloadsOf (content: WriteContent): Payload[] {
  const found = new Set<Payload>()
  for (const image of content.boot !== undefined ? allBootImages(content.boot) : []) found.add(image.payload)
  const model = content.systemArea
  if (model !== undefined) {
    for (const coverage of coveragesOf(model)) if (coverage.kind === 'payload') found.add(coverage.payload)
    if (model.bootPointer !== undefined) found.add(model.bootPointer.payload)
  }
  return [...found]
}

/** 512-byte blocks the backup GPT takes at the end of the device: its entry array, then its header. */
export function trailerBlocks (model: SystemAreaModel | undefined): number {
  const gpt = model?.gpt
  return gpt === undefined ? 0 : entryArrayBlocks(gpt) + 1
}

export function buildSystemArea (layout: Layout, content: WriteContent): Buffer {
  const area = Buffer.alloc(SYSTEM_AREA_BYTES)
  const model = content.systemArea
  if (model === undefined) return area
  model.bytes.copy(area, 0, 0, Math.min(model.bytes.length, SYSTEM_AREA_BYTES))
  const ranges = new Ranges(layout)
  if (model.mbr !== undefined) {
    model.mbr.slots.forEach((slot, i) => {
      if (slot === undefined) return
      const [start, blocks] = ranges.of(slot.coverage, [slot.entry.lbaStart, slot.entry.sectors], 0xffffffff)
      mbrEntry(slot.entry, start, blocks, model).copy(area, MBR_PARTITION_TABLE + i * 16)
    })
    area[510] = 0x55
    area[511] = 0xaa
    if (model.derivedIdentifiers === true && area.readUInt32LE(MBR_DISK_ID_OFFSET) === 0) {
      digest(layout, 'mbr id').copy(area, MBR_DISK_ID_OFFSET, 0, 4)
    }
  }
  if (model.bootPointer !== undefined) {
    const start = ranges.payloadStart(model.bootPointer.payload)
    area.writeBigUInt64LE(BigInt(start + model.bootPointer.offset), ISOHYBRID_BOOT_LBA_OFFSET)
  }
  if (model.gpt !== undefined) {
    const { header, entries } = gptCopy(layout, model.gpt, ranges, 'primary')
    header.copy(area, 512)
    if (model.gpt.entriesLba * 512 + entries.length > SYSTEM_AREA_BYTES) {
      throw new InternalError('the primary GPT entry array lies beyond the system area')
    }
    entries.copy(area, model.gpt.entriesLba * 512)
  }
  if (model.apm !== undefined) writeApm(area, model.apm, ranges)
  return area
}

/**
 * The Apple Partition Map's entries, from block 1 on: the map itself, entries that follow what they
 * cover, and gap fillers taking the holes left (one without a hole goes, and the map shrinks).
 */
function writeApm (area: Buffer, apm: ApmModel, ranges: Ranges): void {
  const scale = apm.blockSize / 512
  const placed = apm.slots.map(slot => slot.coverage.kind === 'map' || slot.coverage.kind === 'gap'
    ? undefined
    : ranges.of(slot.coverage, [slot.entry.start * scale, slot.entry.blocks * scale], Number.MAX_SAFE_INTEGER))
  const holes = holesBetween(placed.filter((r): r is [number, number] => r !== undefined), SYSTEM_AREA_BLOCKS, ranges.deviceBlocks - 1)
  const written: ApmEntry[] = []
  apm.slots.forEach((slot, i) => {
    const range = slot.coverage.kind === 'gap' ? holes.shift() : placed[i]
    if (slot.coverage.kind === 'gap' && range === undefined) return
    const entry = { ...slot.entry }
    if (range !== undefined) {
      entry.start = Math.floor(range[0] / scale)
      entry.blocks = Math.ceil(range[1] / scale)
      entry.dataBlocks = entry.blocks
    }
    written.push(entry)
  })
  area.fill(0, apm.blockSize, (apm.slots.length + 1) * apm.blockSize)
  written.forEach((entry, i) => {
    entry.mapBlocks = written.length
    if (apm.slots[0].coverage.kind === 'map' && i === 0) entry.blocks = entry.dataBlocks = written.length
    serializeApmEntry(entry).copy(area, (i + 1) * apm.blockSize, 0, APM_ENTRY_SIZE)
  })
}

/** The backup GPT (entry array, then header in the last block) at the end of the device. */
export function buildTrailer (layout: Layout, content: WriteContent): { lba: number, bytes: Buffer } | undefined {
  const gpt = content.systemArea?.gpt
  if (gpt === undefined || content.systemArea === undefined) return undefined
  const ranges = new Ranges(layout)
  const { header, entries } = gptCopy(layout, gpt, ranges, 'backup')
  const firstBlock = ranges.deviceBlocks - trailerBlocks(content.systemArea)
  const lba = Math.floor(firstBlock / BLOCKS_PER_SECTOR)
  const bytes = Buffer.alloc((layout.totalSectors - lba) * SECTOR_SIZE)
  const at = (firstBlock - lba * BLOCKS_PER_SECTOR) * 512
  entries.copy(bytes, at)
  header.copy(bytes, at + entryArrayBlocks(gpt) * 512)
  return { lba, bytes }
}

/** The SYSTEM_AREA in 512-byte blocks: where gap fillers may begin. */
const SYSTEM_AREA_BLOCKS = SYSTEM_AREA_BYTES / 512

function coveragesOf (model: SystemAreaModel): Coverage[] {
  return [
    ...(model.mbr?.slots ?? []).flatMap(s => s === undefined ? [] : [s.coverage]),
    ...(model.gpt?.slots ?? []).map(s => s.coverage),
    ...(model.apm?.slots ?? []).flatMap(s => s.coverage.kind === 'map' ? [] : [s.coverage])
  ]
}

function entryArrayBlocks (gpt: GptModel): number {
  return Math.ceil(gpt.entryCount * gpt.entrySize / 512)
}

/** Where each coverage lies in the layout being written, in 512-byte blocks. */
class Ranges {
  readonly deviceBlocks: number
  readonly dataBlocks: number

  constructor (private readonly layout: Layout) {
    this.deviceBlocks = layout.totalSectors * BLOCKS_PER_SECTOR
    this.dataBlocks = layout.dataSectors * BLOCKS_PER_SECTOR
  }

  payloadStart (payload: Payload): number {
    const sections = this.layout.placed.get(payload.holder)
    if (sections === undefined) throw new InternalError('a partition or boot pointer names something the layout did not place')
    return sections[0].lba * BLOCKS_PER_SECTOR
  }

  /** [start, blocks] of one entry; `recorded` is what it had; `limit` caps the size field. */
  of (coverage: Coverage, recorded: [number, number], limit: number): [number, number] {
    const [start] = recorded
    switch (coverage.kind) {
      case 'volume': return [start, Math.min(limit, this.dataBlocks - start)]
      case 'device': return [start, Math.min(limit, this.deviceBlocks - start)]
      case 'payload': return [this.payloadStart(coverage.payload), Math.min(limit, Math.ceil(coverage.payload.data.size / 512))]
      case 'gap':
      case 'fixed': return recorded
    }
  }

}

/**
 * The holes that `used` ranges ([start, blocks] in 512-byte blocks) leave between `first` and `last`
 * (inclusive), in order: xorriso's gap fillers take them one each, so every block of the device stays
 * claimed as it was; a filler with no hole left goes.
 */
function holesBetween (used: Array<[number, number]>, first: number, last: number): Array<[number, number]> {
  const holes: Array<[number, number]> = []
  let at = first
  for (const [start, blocks] of [...used].filter(([, b]) => b > 0).sort((x, y) => x[0] - y[0])) {
    if (start > at) holes.push([at, Math.min(start, last + 1) - at])
    at = Math.max(at, start + blocks)
  }
  if (at <= last) holes.push([at, last - at + 1])
  return holes.filter(([, blocks]) => blocks > 0)
}

function mbrEntry (recorded: MbrPartition, start: number, blocks: number, model: SystemAreaModel): Buffer {
  const e = Buffer.alloc(16)
  const moved = start !== recorded.lbaStart || blocks !== recorded.sectors
  const { heads, sectorsPerTrack } = model.geometry
  e[0] = recorded.status
  ;(moved ? chsOf(start, heads, sectorsPerTrack) : recorded.chsStart).copy(e, 1, 0, 3)
  e[4] = recorded.type
  ;(moved ? chsOf(start + Math.max(1, blocks) - 1, heads, sectorsPerTrack) : recorded.chsEnd).copy(e, 5, 0, 3)
  e.writeUInt32LE(start >>> 0, 8)
  e.writeUInt32LE(blocks >>> 0, 12)
  return e
}

function gptCopy (layout: Layout, gpt: GptModel, ranges: Ranges, copy: 'primary' | 'backup'): { header: Buffer, entries: Buffer } {
  const arrayBlocks = entryArrayBlocks(gpt)
  const lastUsable = ranges.deviceBlocks - arrayBlocks - 2
  const placed = gpt.slots.map(slot => {
    if (slot.coverage.kind === 'gap') return undefined
    const [first, blocks] = ranges.of(slot.coverage, [slot.entry.firstLba, slot.entry.lastLba - slot.entry.firstLba + 1], Number.MAX_SAFE_INTEGER)
    return slot.coverage.kind === 'device' ? [first, lastUsable - first + 1] as [number, number] : [first, blocks] as [number, number]
  })
  const holes = holesBetween(placed.filter((r): r is [number, number] => r !== undefined), gpt.firstUsableLba, lastUsable)
  const written: Array<{ slot: number, entry: GptPartition }> = []
  for (const [i, slot] of gpt.slots.entries()) {
    const range = slot.coverage.kind === 'gap' ? holes.shift() : placed[i]
    if (range === undefined) continue // a gap filler with no hole left goes
    const [first, blocks] = range
    written.push({ slot: slot.slot, entry: { ...slot.entry, firstLba: first, lastLba: first + blocks - 1 } })
  }
  if (gpt.inDiskOrder === true) {
    const slots = written.map(w => w.slot).sort((a, b) => a - b)
    written.sort((a, b) => a.entry.firstLba - b.entry.firstLba).forEach((w, i) => { w.slot = slots[i] })
  }
  const entries = Buffer.alloc(arrayBlocks * 512)
  for (const { slot, entry } of written) {
    if (isZero(entry.uniqueGuid)) entry.uniqueGuid = guid(layout, `partition ${slot + 1}`)
    serializeGptEntry(entry).copy(entries, slot * gpt.entrySize)
  }
  const header = serializeGptHeader({
    revision: gpt.revision,
    headerSize: 92,
    headerCrc: 0,
    currentLba: copy === 'primary' ? 1 : ranges.deviceBlocks - 1,
    backupLba: copy === 'primary' ? ranges.deviceBlocks - 1 : 1,
    firstUsableLba: gpt.firstUsableLba,
    lastUsableLba: lastUsable,
    diskGuid: isZero(gpt.diskGuid) ? guid(layout, 'disk') : gpt.diskGuid,
    entriesLba: copy === 'primary' ? gpt.entriesLba : ranges.deviceBlocks - 1 - arrayBlocks,
    entryCount: gpt.entryCount,
    entrySize: gpt.entrySize,
    entriesCrc: crc32(entries.subarray(0, gpt.entryCount * gpt.entrySize))
  })
  return { header, entries }
}

function isZero (bytes: Buffer): boolean {
  return bytes.every(b => b === 0)
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
