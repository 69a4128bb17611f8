import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import type { ImageExtentsSource } from '../model/data-source'
import type { ApmSlot, Coverage, GptSlot, MbrSlot, SystemAreaModel } from '../model/system-area'
import type { PayloadIndex } from './boot-model'
import type { ReadOnlyReason } from './read-only-reasons'
import type { SystemAreaInfo } from './system-area'

/*
 * Classifies every partition entry of an opened image's system area by what it covers (model/system-area.ts),
 * at open, from the tables alone. Nothing is refused for being unfamiliar: an entry that names the image,
 * the volume, a boot image or a range of its own is kept valid through a commit; only a file system that
 * shares the ISO volume's file data (HFS, HFS+: it would go stale or break when files change) makes the
 * image read-only, unless the user asks to drop it.
 */

const BLOCKS_PER_SECTOR = SECTOR_SIZE / 512
/** The system area, in 512-byte blocks: an entry ending within it covers nothing a commit moves. */
const SYSTEM_AREA_BLOCKS = 64
/** HFS and HFS+ volume headers: at byte 1024 of their partition, "BD", "H+" or "HX" (Apple TN1150). */
const HFS_SIGNATURES = new Set(['BD', 'H+', 'HX'])
/** xorriso's names for what it writes to fill holes between partitions. */
const GAP_NAME = /^Gap\d+$/

/**
 * A second volume descriptor set at a partition's start + 16 (xorriso -partition_offset, which real Ubuntu
 * and Debian images use): the volume is then mountable from the partition too, through a second set of
 * directory trees whose addresses count from the partition. Returns its offset (2 KiB sectors) and the
 * volume size it records, if the image has one.
 */
export async function readPartitionOffset (source: ByteSource, area: SystemAreaInfo): Promise<{ offset: number, volumeSectors: number } | undefined> {
  const starts = [
    ...(area.mbr?.partitions ?? []).filter(p => p.sectors > 0).map(p => p.lbaStart),
    ...(area.gpt?.partitions ?? []).map(p => p.firstLba)
  ]
  for (const start of new Set(starts)) {
    const offset = start / BLOCKS_PER_SECTOR
    if (!Number.isInteger(offset) || offset < 16 || offset > 1024) continue
    const lba = offset + 16
    if ((lba + 1) * SECTOR_SIZE > source.size) continue
    const sector = Buffer.alloc(SECTOR_SIZE)
    await source.read(sector, 0, SECTOR_SIZE, lba * SECTOR_SIZE)
    if (sector[0] === 1 && sector.toString('latin1', 1, 6) === 'CD001') return { offset, volumeSectors: sector.readUInt32LE(80) }
  }
  return undefined
}

export interface SystemAreaReading {
  model: SystemAreaModel
  readOnlyReasons: ReadOnlyReason[]
}

export interface ClassifyOptions {
  /** Drop an HFS/HFS+ tree sharing the volume's data (its partition entries and the APM): mount option nohfsplus. */
  dropHfsPlus: boolean
  /** The second volume descriptor set's offset in 2 KiB sectors (xorriso -partition_offset), 0 if none. */
  partitionOffset: number
}

/**
 * Where the ISO volume's data ends, in 2 KiB sectors: the volume size, unless an entry that starts with
 * the volume ends earlier (xorriso -partition_offset records the whole device as the volume's size, while
 * its "ISO9660" partition ends where the appended partitions begin), or the second descriptor set says so.
 */
export function dataEndOf (
  area: SystemAreaInfo, imageSize: number, volumeSectors: number, partitionOffset: number, mirrorVolumeSectors?: number
): number {
  let end = volumeSectors
  if (mirrorVolumeSectors !== undefined) end = Math.min(end, partitionOffset + mirrorVolumeSectors)
  const fileBlocks = Math.ceil(imageSize / 512)
  const candidates = [
    ...(area.mbr?.partitions ?? []).filter(p => p.sectors > 0 && p.type !== 0xee).map(p => ({ start: p.lbaStart, end: p.lbaStart + p.sectors })),
    ...(area.gpt?.partitions ?? []).filter(p => !GAP_NAME.test(p.name)).map(p => ({ start: p.firstLba, end: p.lastLba + 1 }))
  ]
  for (const c of candidates) {
    const startsWithVolume = c.start <= SYSTEM_AREA_BLOCKS || (partitionOffset > 0 && c.start === partitionOffset * BLOCKS_PER_SECTOR)
    if (startsWithVolume && c.end > SYSTEM_AREA_BLOCKS && c.end < fileBlocks && c.end % BLOCKS_PER_SECTOR === 0) {
      end = Math.min(end, Math.max(c.end / BLOCKS_PER_SECTOR, 17))
    }
  }
  return end
}

/**
 * The model of an opened image's system area. `dataEnd` is where the volume's data ends (dataEndOf), and
 * `volumeSectors` the volume size its descriptor records.
 */
export async function systemAreaModelOf (
  source: ByteSource, area: SystemAreaInfo & { bytes: Buffer }, payloads: PayloadIndex,
  extent: { dataEnd: number, volumeSectors: number }, options: ClassifyOptions
): Promise<SystemAreaReading> {
  const { dataEnd } = extent
  const fileBlocks = Math.ceil(source.size / 512)
  const reasons: ReadOnlyReason[] = []
  const classify = (start: number, blocks: number, label: string, hint: { protective?: boolean, name?: string } = {}): Coverage => {
    const end = start + blocks
    if (hint.protective === true) return { kind: 'device' }
    if (end <= SYSTEM_AREA_BLOCKS) return { kind: 'fixed' }
    if (hint.name !== undefined && GAP_NAME.test(hint.name)) return { kind: 'gap' }
    const startsWithVolume = start <= SYSTEM_AREA_BLOCKS || (options.partitionOffset > 0 && start === options.partitionOffset * BLOCKS_PER_SECTOR)
    if (startsWithVolume) return end >= fileBlocks - (BLOCKS_PER_SECTOR - 1) ? { kind: 'device' } : { kind: 'volume' }
    const lba = start / BLOCKS_PER_SECTOR
    if (!Number.isInteger(lba)) {
      // Every range we lay out starts on a 2 KiB sector; this one could not follow a change.
      reasons.push({
        code: 'SYSTEM_AREA',
        reason: `${label} starts at 512-byte block ${start}, not on a 2 KiB boundary, so isomount cannot keep it valid when the image changes`,
        remedy: 'master a new image with the partitions you need (isotool mkisofs or xorriso)'
      })
      return { kind: 'fixed' }
    }
    const payload = payloads.at(lba, blocks * 512, lba >= dataEnd ? 'appended' : 'volume', label)
    return { kind: 'payload', payload }
  }

  const model: SystemAreaModel = {
    bytes: Buffer.from(area.bytes),
    geometry: { heads: 64, sectorsPerTrack: 32 },
    alignSectors: alignmentOf(source.size, area, dataEnd),
    volumeCoversDevice: false
  }

  if (area.mbr !== undefined) {
    model.mbr = {
      slots: area.mbr.partitions.map((p, i): MbrSlot | undefined => {
        if (p.type === 0 && p.sectors === 0) return undefined
        const protective = p.type === 0xee && p.lbaStart === 1
        return { entry: p, coverage: classify(p.lbaStart, p.sectors, `MBR partition ${i + 1}`, { protective }) }
      })
    }
    model.geometry = geometryOf(area.mbr.partitions) ?? model.geometry
  }
  if (area.gpt !== undefined) {
    const { header, partitions } = area.gpt
    model.gpt = {
      diskGuid: header.diskGuid,
      revision: header.revision,
      entriesLba: header.entriesLba,
      entryCount: header.entryCount,
      entrySize: header.entrySize,
      firstUsableLba: header.firstUsableLba,
      slots: partitions.map((p, i): GptSlot => ({
        slot: (p.index ?? i + 1) - 1,
        entry: p,
        coverage: classify(p.firstLba, p.lastLba - p.firstLba + 1, `GPT partition ${p.index ?? i + 1} "${p.name}"`, { name: p.name })
      }))
    }
  }
  if (area.apm !== undefined) {
    const scale = area.apm.blockSize / 512
    model.apm = {
      blockSize: area.apm.blockSize,
      slots: area.apm.entries.map((e, i): ApmSlot => ({
        entry: e,
        coverage: e.type === 'Apple_partition_map' ? { kind: 'map' } : classify(e.start * scale, e.blocks * scale, `APM partition ${i + 1} "${e.name}"`, { name: e.name })
      }))
    }
  }

  model.bootPointer = bootPointerOf(area, payloads)
  // File systems sharing the volume's data: not carried, since a change of the files would break them.
  const foreign = new Set<number>()
  for (const coverage of allCoverages(model)) {
    if (coverage.kind !== 'payload' || coverage.payload.isFile) continue
    const lba = (coverage.payload.data as ImageExtentsSource).lba
    if (lba < dataEnd && await hasHfsHeader(source, lba)) foreign.add(lba)
  }
  if (foreign.size > 0) {
    if (options.dropHfsPlus) {
      dropForeign(model, foreign, area.apm?.blockSize)
    } else {
      reasons.push({
        code: 'HFSPLUS',
        reason: `the image also holds an HFS+ file system for booting Macs (at sector ${[...foreign][0]}), which shares the files' data ` +
          'and which isomount cannot update: a change would leave it stale or broken',
        remedy: 'mount with -o nohfsplus to drop it (BIOS and UEFI boot are kept; only the Mac HFS+ view goes), or edit the image with a tool that writes HFS+'
      })
    }
  }
  model.volumeCoversDevice = extent.volumeSectors > dataEnd
  model.appendedTailSectors = appendedTail(source.size, model, dataEnd)
  return { model, readOnlyReasons: reasons }
}

/**
 * The pointer at MBR byte 432, if it names a boot image: syslinux's isohdpfx holds the image's start in
 * 512-byte blocks, GRUB's boot_hybrid.img (xorriso --grub2-mbr) that plus 4. Other boot code has its own
 * bytes there, which are carried as they are.
 */
function bootPointerOf (area: SystemAreaInfo, payloads: PayloadIndex): SystemAreaModel['bootPointer'] {
  const pointer = area.isohybridBootLba512
  if (pointer === undefined) return undefined
  for (const offset of [0, 4]) {
    const lba = (pointer - offset) / BLOCKS_PER_SECTOR
    const payload = Number.isInteger(lba) ? payloads.get(lba) : undefined
    if (payload !== undefined) return { payload, offset }
  }
  return undefined
}

/** What lies after the last appended partition and before the backup GPT, in sectors. */
function appendedTail (size: number, model: SystemAreaModel, dataEnd: number): number {
  let end = 0
  for (const coverage of allCoverages(model)) {
    if (coverage.kind !== 'payload' || coverage.payload.isFile) continue
    const region = coverage.payload.data as ImageExtentsSource
    if (region.lba >= dataEnd) end = Math.max(end, region.lba + Math.ceil(region.size / SECTOR_SIZE))
  }
  if (end === 0) return 0
  const backup = model.gpt !== undefined ? Math.ceil((Math.ceil(model.gpt.entryCount * model.gpt.entrySize / 512) + 1) / BLOCKS_PER_SECTOR) : 0
  return Math.max(0, Math.floor(size / SECTOR_SIZE) - end - backup)
}

function allCoverages (model: SystemAreaModel): Coverage[] {
  const list: Coverage[] = []
  for (const slot of model.mbr?.slots ?? []) if (slot !== undefined) list.push(slot.coverage)
  for (const slot of model.gpt?.slots ?? []) list.push(slot.coverage)
  for (const slot of model.apm?.slots ?? []) if (slot.coverage.kind !== 'map') list.push(slot.coverage)
  return list
}

/**
 * Removes the entries of a dropped HFS/HFS+ tree; with it goes the Apple Partition Map, which exists for
 * it (its entry blocks are cleared; the map's first 8 bytes stay, as they double as x86 code in front of
 * the MBR's boot code).
 */
function dropForeign (model: SystemAreaModel, lbas: Set<number>, apmBlockSize: number | undefined): void {
  const isForeign = (c: Coverage | { kind: 'map' }): boolean => c.kind === 'payload' && !c.payload.isFile && lbas.has((c.payload.data as ImageExtentsSource).lba)
  if (model.mbr !== undefined) model.mbr.slots = model.mbr.slots.map(s => s !== undefined && isForeign(s.coverage) ? undefined : s)
  if (model.gpt !== undefined) model.gpt.slots = model.gpt.slots.filter(s => !isForeign(s.coverage))
  if (model.apm !== undefined && apmBlockSize !== undefined) {
    model.bytes.fill(0, apmBlockSize, (model.apm.slots.length + 1) * apmBlockSize)
    model.apm = undefined
  }
}

async function hasHfsHeader (source: ByteSource, lba: number): Promise<boolean> {
  const position = lba * SECTOR_SIZE + 1024
  if (position + 2 > source.size) return false
  const signature = Buffer.alloc(2)
  await source.read(signature, 0, 2, position)
  return HFS_SIGNATURES.has(signature.toString('latin1'))
}

/**
 * isohybrid pads to whole 1 MiB cylinders (64 heads x 32 sectors): the image, or with appended partitions
 * the volume's data before them (xorriso -partition_cyl_align); keep doing so where the image was.
 */
function alignmentOf (size: number, area: SystemAreaInfo, dataEnd: number): number {
  const cylinder = 1024 * 1024
  if (area.mbr === undefined) return 1
  return size % cylinder === 0 || (dataEnd * SECTOR_SIZE % cylinder === 0 && dataEnd * SECTOR_SIZE < size) ? cylinder / SECTOR_SIZE : 1
}

/** The geometry the recorded CHS values were computed with, if they tell (heads, sectors per track). */
function geometryOf (partitions: ReadonlyArray<{ chsEnd: Buffer, lbaStart: number, sectors: number }>): { heads: number, sectorsPerTrack: number } | undefined {
  for (const p of partitions) {
    if (p.sectors === 0) continue
    const sectorsPerTrack = p.chsEnd[1] & 0x3f
    const heads = p.chsEnd[0] + 1
    if (sectorsPerTrack > 0 && heads > 1) return { heads, sectorsPerTrack }
  }
  return undefined
}
