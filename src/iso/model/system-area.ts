import type { GptPartition } from '../codec/gpt'
import type { MbrPartition } from '../codec/mbr'
import type { ApmEntry } from '../codec/apm'
import type { Payload } from './payload'

/*
 * Everything in and around the system area (ECMA-119 6.2.1: sectors 0-15 are the system's) that hybrid
 * images carry, as a model of what each structure depends on:
 *
 * - structures we own and rewrite on every commit: partition entries that describe the image, the ISO
 *   volume, a boot image or a carried region (MBR, GPT primary and backup, APM), the boot pointer at MBR
 *   byte 432 (isohybrid, GRUB's boot_hybrid.img);
 * - bytes we carry without interpreting them: the boot code, the disk signature, the APM's driver map,
 *   entries that cover only the system area itself, GPT header fields (disk GUID, entry array placement);
 *   every partition's own content (a Region, see payload.ts).
 *
 * A new image gets the same model from its options (edit/boot-editor.ts), so one writer serves both.
 */

/** What a partition entry covers, which says how it follows a commit. */
export type Coverage =
  /** The ISO volume's data from the entry's own start (isohybrid's partition 1 from 0, xorriso's "ISO9660" from 64). */
  | { kind: 'volume' }
  /** Everything to the end of the device: GPT's protective 0xEE entry, an isohybrid partition over the whole padded image. */
  | { kind: 'device' }
  /** A boot image or a carried region: the entry moves and resizes with it. */
  | { kind: 'payload', payload: Payload }
  /** xorriso's gap fillers ("Gap0", "Gap1": GPT Basic Data, APM ISO9660_data): recomputed to fill the holes the others leave. */
  | { kind: 'gap' }
  /** Lies within the system area, which never moves (--mbr-force-bootable's one-block partition): kept as it is. */
  | { kind: 'fixed' }

export interface MbrSlot {
  /** Status, type and CHS as recorded; start, size and CHS are rewritten when what it covers moves. */
  entry: MbrPartition
  coverage: Coverage
}

export interface MbrModel {
  /** The four slots in table order; undefined is an empty slot. */
  slots: Array<MbrSlot | undefined>
}

export interface GptSlot {
  /** 0-based slot in the entry array (empty slots keep their place, as fdisk numbers them). */
  slot: number
  /** Type and unique GUIDs, attributes and name as recorded: kept. */
  entry: GptPartition
  coverage: Coverage
}

export interface GptModel {
  diskGuid: Buffer
  revision: number
  /** Where the primary entry array lies (512-byte block) and its shape: kept (xorriso places it after an APM). */
  entriesLba: number
  entryCount: number
  entrySize: number
  firstUsableLba: number
  slots: GptSlot[]
  /**
   * Number the entries in the order they lie on the device, as xorriso does for the images it makes; an
   * opened image's slots keep their numbers (they name the devices: /dev/sdb2).
   */
  inDiskOrder?: boolean
}

export interface ApmSlot {
  entry: ApmEntry
  coverage: Coverage | { kind: 'map' }
}

export interface ApmModel {
  blockSize: number
  slots: ApmSlot[]
}

export interface SystemAreaModel {
  /** The 16 sectors as read, or a template: every byte not rewritten from the tables below is kept. */
  bytes: Buffer
  mbr?: MbrModel
  gpt?: GptModel
  apm?: ApmModel
  /**
   * The 64-bit pointer at MBR byte 432: a boot image's start in 512-byte blocks plus `offset` (syslinux
   * isohybrid: 0; xorriso --grub2-mbr, GRUB's boot_hybrid.img: 4).
   */
  bootPointer?: { payload: Payload, offset: number }
  /** MBR geometry for the CHS fields of entries that move (isohybrid and xorriso use 64 heads, 32 sectors). */
  geometry: { heads: number, sectorsPerTrack: number }
  /**
   * isohybrid pads to whole cylinders (1 MiB: 512 sectors): the device, or with appended partitions the
   * volume's data before them (xorriso -partition_cyl_align); 1 when nothing is padded.
   */
  alignSectors: number
  /**
   * The primary volume descriptor's size covers the whole device, appended partitions included (xorriso
   * with -partition_offset does so), rather than the ISO data only.
   */
  volumeCoversDevice: boolean
  /**
   * Sectors after the appended partitions (before a backup GPT): xorriso puts its 300 KiB padding there,
   * and a commit keeps it (sgdisk, converting an MBR to a GPT in memory, needs room for a backup table).
   */
  appendedTailSectors?: number
  /**
   * A new image's identifiers (MBR disk signature, GPT disk and partition GUIDs) are left zero and derived
   * from the volume when written, so the same input gives the same image; an opened image's are kept.
   */
  derivedIdentifiers?: boolean
}
