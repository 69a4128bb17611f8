import { InvalidInputError } from '../../errors'
import { Emulation, Platform } from '../codec/el-torito'
import { GptType, guidFromString } from '../codec/gpt'
import { chsOf } from '../codec/mbr'
import { allBootImages, type BootConfiguration, type BootImage } from '../model/boot'
import { readAll } from '../model/data-source'
import type { Payload } from '../model/payload'
import { APM_ENTRY_SIZE, type ApmEntry } from '../codec/apm'
import type { ApmModel, Coverage, GptSlot, MbrSlot, SystemAreaModel } from '../model/system-area'
import { SYSTEM_AREA_BYTES } from '../write/system-area-writer'

/*
 * The system area of a new image, from xorriso -as mkisofs's options, as xorriso 1.5 lays it out (checked
 * against its -report_system_area for each combination, test/write/mkisofs-hybrid.test.ts):
 *
 * - MBR boot code: -isohybrid-mbr (syslinux isohdpfx: byte 432 holds the BIOS image's 512-byte address) or
 *   --grub2-mbr (GRUB's boot_hybrid.img: the first boot image's address + 4);
 * - the partition covering the ISO: isohybrid's from the partition offset (type 0x17, 0x00 with a GPT),
 *   --protective-msdos-label's from block 1 (type 0xcd), or with -appended_part_as_gpt the GPT's protective
 *   0xEE; it covers the whole device, or only the volume's data when partitions are appended after it;
 * - -append_partition N TYPE FILE: partition N in the MBR, or a GPT entry "AppendedN";
 * - -isohybrid-gpt-basdat: a GPT with the ISO ("ISOHybrid") and each marked boot image ("ISOHybrid1"...)
 *   as Basic Data, the marked images also as MBR partitions of type 0xEF;
 * - with -appended_part_as_gpt, the volume as "Gap0" (or "ISO9660" from a partition offset) and the holes
 *   left as "GapN";
 * - --mbr-force-bootable: a one-block bootable partition when nothing else is bootable;
 * - -partition_offset alone: one MBR partition (type 0xcd) from the offset.
 */

/** xorriso's GPT: 248 entries from block 2, so that the array ends with the system area (first usable 64). */
const GPT_ENTRIES = 248
/** xorriso's Basic Data attributes: bit 0 "required by the platform", bit 60 "read-only". */
const ISO_GPT_ATTRIBUTES = 0x1000000000000001n
/** isohybrid's fake geometry: 64 heads x 32 sectors, whole 1 MiB cylinders. */
const CYLINDER_SECTORS = 512
/** isolinux.bin carries this at byte 64 when it can boot from a disk (syslinux isohybrid checks it). */
const ISOHYBRID_SIGNATURE = 0x7078c0fb

export interface AppendedPartition {
  /** MBR slot, 1-4 (xorriso -append_partition's number). */
  number: number
  /** MBR type byte, or a GPT type GUID ("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"). */
  type: number | string
  payload: Payload
}

export interface HybridOptions {
  /** MBR boot code and how it finds the BIOS boot image: syslinux isohdpfx.bin, or GRUB's boot_hybrid.img. */
  mbr?: { code: Buffer, kind: 'isohybrid' | 'grub2' }
  /** --protective-msdos-label: an MBR partition from block 1 over the image. */
  protectiveMsdosLabel?: boolean
  /** -isohybrid-gpt-basdat: the catalog entries (0 is the default entry) to mark as GPT Basic Data partitions. */
  gptBootEntries?: number[]
  /** -isohybrid-apm-hfsplus: the catalog entries to mark in an Apple Partition Map (type Apple_HFS). */
  apmBootEntries?: number[]
  /** -append_partition. */
  appended?: AppendedPartition[]
  /** -appended_part_as_gpt: appended partitions go into a GPT, the MBR becomes protective. */
  appendedAsGpt?: boolean
  /** -iso_mbr_part_type: the type of the partition that covers the ISO (MBR byte or GPT type GUID). */
  isoPartitionType?: number | string
  /** --mbr-force-bootable. */
  forceBootable?: boolean
  /** -partition_offset, in 2 KiB sectors: where the ISO partition starts (the second tree set: settings). */
  partitionOffset?: number
  /** -partition_cyl_align: pad to whole cylinders; auto (the default) does so for plain isohybrid images. */
  cylinderAlign?: 'auto' | 'on' | 'off'
}

export async function hybridSystemArea (boot: BootConfiguration | undefined, options: HybridOptions): Promise<SystemAreaModel> {
  const images = boot !== undefined ? allBootImages(boot) : []
  const appended = [...options.appended ?? []].sort((a, b) => a.number - b.number)
  for (const a of appended) {
    if (!Number.isInteger(a.number) || a.number < 1 || a.number > 4) throw new InvalidInputError('BAD_ARGUMENT', `appended partition number ${a.number} is not 1-4`)
  }
  const bytes = Buffer.alloc(SYSTEM_AREA_BYTES)
  let bootPointer: SystemAreaModel['bootPointer']
  if (options.mbr !== undefined) {
    if (options.mbr.code.length < 432) throw new InvalidInputError('BAD_ARGUMENT', `MBR boot code of ${options.mbr.code.length} bytes is shorter than 432`)
    options.mbr.code.copy(bytes, 0, 0, 432)
    bootPointer = { payload: await pointedBootImage(boot, options.mbr.kind), offset: options.mbr.kind === 'grub2' ? 4 : 0 }
  }
  const entry = (i: number): BootImage => {
    const image = images[i]
    if (image === undefined) throw new InvalidInputError('BAD_ARGUMENT', `there is no boot entry ${i} to mark (the catalog has ${images.length})`)
    return image
  }
  const marked = (options.gptBootEntries ?? []).map(entry)
  const apmMarked = (options.apmBootEntries ?? []).map(entry)
  const apm = apmMarked.length > 0 ? apmFor(bytes, apmMarked, options) : undefined
  const gptKind = options.appendedAsGpt === true && appended.length > 0 ? 'appended' : marked.length > 0 ? 'basdat' : undefined
  const offsetBlocks = (options.partitionOffset ?? 0) * 4
  const isoCoverage: Coverage = appended.length > 0 || gptKind === 'appended' ? { kind: 'volume' } : { kind: 'device' }

  const slots: Array<MbrSlot | undefined> = [undefined, undefined, undefined, undefined]
  const mbrType = typeof options.isoPartitionType === 'number' ? options.isoPartitionType : undefined
  if (gptKind === 'appended') {
    slots[0] = mbrSlot(0x00, 0xee, 1, { kind: 'device' })
  } else if (options.protectiveMsdosLabel === true) {
    slots[0] = mbrSlot(0x80, mbrType ?? 0xcd, 1, isoCoverage)
  } else if (options.mbr?.kind === 'isohybrid') {
    slots[0] = mbrSlot(0x80, mbrType ?? (gptKind === 'basdat' || apm !== undefined ? 0x00 : 0x17), offsetBlocks, isoCoverage)
  } else if (offsetBlocks > 0) {
    // -partition_offset alone: "a partition table with a single partition that begins at the given block".
    slots[0] = mbrSlot(0x00, mbrType ?? 0xcd, offsetBlocks, isoCoverage)
  }
  if (gptKind !== 'appended') {
    for (const a of appended) {
      if (typeof a.type !== 'number') throw new InvalidInputError('BAD_ARGUMENT', `appended partition ${a.number}: a GPT type GUID needs -appended_part_as_gpt`)
      slots[a.number - 1] = mbrSlot(0x00, a.type, 0, { kind: 'payload', payload: a.payload })
    }
    // "The first three boot images which are marked by GPT will also show up as partition entries in MBR."
    for (const image of marked.slice(0, 3)) {
      if (appended.some(a => a.payload === image.payload)) continue
      const free = slots.findIndex((s, i) => s === undefined && i > 0)
      if (free >= 0) slots[free] = mbrSlot(0x00, 0xef, 0, { kind: 'payload', payload: image.payload })
    }
  }
  if (options.forceBootable === true && !slots.some(s => s !== undefined && s.entry.status === 0x80)) {
    const free = slots.findIndex(s => s === undefined)
    if (free >= 0) {
      slots[free] = mbrSlot(0x80, 0x00, 0, { kind: 'fixed' }, 1)
      // Kept as given (it never moves), so given its CHS address now: block 0 is cylinder 0, head 0, sector 1.
      slots[free].entry.chsStart = slots[free].entry.chsEnd = chsOf(0, 64, 32)
    }
  }

  const gptSlots: GptSlot[] = []
  const isoTypeGuid = typeof options.isoPartitionType === 'string' ? guidFromString(options.isoPartitionType) : guidFromString(GptType.BASIC_DATA)
  if (gptKind === 'basdat') {
    gptSlots.push(gptSlot(0, 'ISOHybrid', isoTypeGuid, ISO_GPT_ATTRIBUTES, offsetBlocks, isoCoverage))
    marked.forEach((image, i) => gptSlots.push(gptSlot(i + 1, `ISOHybrid${i + 1}`, guidFromString(GptType.BASIC_DATA), ISO_GPT_ATTRIBUTES, 0, { kind: 'payload', payload: image.payload })))
  } else if (gptKind === 'appended') {
    gptSlots.push(offsetBlocks > 0
      ? gptSlot(0, 'ISO9660', isoTypeGuid, ISO_GPT_ATTRIBUTES, offsetBlocks, { kind: 'volume' })
      : gptSlot(0, 'Gap0', isoTypeGuid, ISO_GPT_ATTRIBUTES, 0, { kind: 'gap' }))
    for (const a of appended) {
      const type = typeof a.type === 'string' ? guidFromString(a.type) : a.type === 0xef ? guidFromString(GptType.EFI_SYSTEM) : guidFromString(GptType.BASIC_DATA)
      gptSlots.push(gptSlot(gptSlots.length, `Appended${a.number}`, type, 0n, 0, { kind: 'payload', payload: a.payload }))
    }
    gptSlots.push(gptSlot(gptSlots.length, 'Gap1', guidFromString(GptType.BASIC_DATA), ISO_GPT_ATTRIBUTES, 0, { kind: 'gap' }))
  }

  // "auto": padding "happens only if option -isohybrid-mbr is given" (xorrisofs(1)); with the MBR protective
  // for a GPT of appended partitions xorriso 1.5.4 leaves it off.
  const aligned = options.cylinderAlign === 'on' ||
    (options.cylinderAlign !== 'off' && options.mbr?.kind === 'isohybrid' && gptKind !== 'appended')
  return {
    bytes,
    mbr: slots.some(s => s !== undefined) ? { slots } : undefined,
    gpt: gptKind !== undefined
      ? { diskGuid: Buffer.alloc(16), revision: 0x00010000, entriesLba: 2, entryCount: GPT_ENTRIES, entrySize: 128, firstUsableLba: 64, slots: gptSlots, inDiskOrder: true }
      : undefined,
    apm,
    bootPointer,
    geometry: { heads: 64, sectorsPerTrack: 32 },
    alignSectors: aligned ? CYLINDER_SECTORS : 1,
    // With a partition offset or a protective MBR label, xorriso 1.5.4 records the whole device as the
    // volume's size, appended partitions included (checked for each option combination).
    volumeCoversDevice: offsetBlocks > 0 || options.protectiveMsdosLabel === true,
    derivedIdentifiers: true
  }
}

/**
 * The boot image the MBR code starts: isohdpfx boots the default entry's isolinux.bin, which must carry
 * the isohybrid signature (syslinux isohybrid checks it); GRUB's code the first boot image.
 */
async function pointedBootImage (boot: BootConfiguration | undefined, kind: 'isohybrid' | 'grub2'): Promise<Payload> {
  const first: BootImage | undefined = boot?.defaultImage
  if (first === undefined) throw new InvalidInputError('BAD_ARGUMENT', `${kind === 'grub2' ? '--grub2-mbr' : '-isohybrid-mbr'} needs an El Torito boot image (-b)`)
  if ((first.entry.media & 0x0f) !== Emulation.NONE || boot?.validation.platform !== Platform.X86) {
    throw new InvalidInputError('BAD_ARGUMENT', 'the MBR boot code needs a no-emulation BIOS default boot entry')
  }
  if (kind === 'isohybrid') {
    const head = await readAll(first.payload.data, 68)
    if (head.length < 68 || head.readUInt32LE(64) !== ISOHYBRID_SIGNATURE) {
      throw new InvalidInputError('BAD_ARGUMENT', 'the default boot file has no isohybrid signature (isolinux.bin from syslinux 3.72 or later has one; for GRUB\'s eltorito.img use --grub2-mbr)')
    }
  }
  return first.payload
}

/** The no-op x86 code isohdpfx.bin starts with (bytes 2-31), which an APM header mock-up may replace. */
const NOP = 0x90
/** APM entry status xorriso gives the boot image's partition: valid, allocated, in use, readable, bootable (0x40000013). */
const APM_BOOT_STATUS = 0x40000013

/**
 * xorriso -isohybrid-apm-hfsplus: an Apple Partition Map of 2 KiB blocks whose driver descriptor map
 * ("ER") replaces the first 32 bytes of isohdpfx's boot code (a no-op there), with the map's own entry
 * and one Apple_HFS entry per marked boot image.
 */
function apmFor (bytes: Buffer, images: BootImage[], options: HybridOptions): ApmModel {
  if (options.mbr?.kind !== 'isohybrid' || !bytes.subarray(2, 32).every(b => b === NOP)) {
    throw new InvalidInputError('BAD_ARGUMENT', '-isohybrid-apm-hfsplus needs -isohybrid-mbr with syslinux\'s isohdpfx*.bin (its first 32 bytes are replaced by the map\'s header)')
  }
  const header = Buffer.alloc(32)
  header.write('ER', 0, 'latin1')
  header.writeUInt16BE(2048, 2)
  header.writeUInt32BE(0x9090, 4)
  header.copy(bytes, 0)
  const entry = (name: string, type: string, status: number): ApmEntry => ({
    mapBlocks: 0, start: 0, blocks: 0, name, type, dataStart: 0, dataBlocks: 0, status, rest: Buffer.alloc(APM_ENTRY_SIZE - 92)
  })
  return {
    blockSize: 2048,
    slots: [
      { entry: { ...entry('Apple', 'Apple_partition_map', 3), start: 1 }, coverage: { kind: 'map' } },
      ...images.map(image => ({ entry: entry('EFI', 'Apple_HFS', APM_BOOT_STATUS), coverage: { kind: 'payload' as const, payload: image.payload } }))
    ]
  }
}

function mbrSlot (status: number, type: number, start: number, coverage: Coverage, blocks = 0): MbrSlot {
  return { entry: { status, type, chsStart: Buffer.alloc(3), chsEnd: Buffer.alloc(3), lbaStart: start, sectors: blocks }, coverage }
}

function gptSlot (slot: number, name: string, typeGuid: Buffer, attributes: bigint, start: number, coverage: Coverage): GptSlot {
  return { slot, entry: { typeGuid, uniqueGuid: Buffer.alloc(16), firstLba: start, lastLba: start, attributes, name }, coverage }
}
