import type { BootEntry, ValidationEntry } from '../codec/el-torito'
import type { Inode } from './inode'

/*
 * El Torito and hybrid boot as part of the model: boot entries point at inodes, not LBAs, so that boot
 * files can move (and be edited) and the catalog, boot info tables and MBR/GPT follow them when written.
 */

export interface BootImage {
  inode: Inode
  /** The catalog entry (El Torito 2.2/2.4); its load RBA is filled in when written. */
  entry: BootEntry
  /** Compute the sector count from the file size when written (no-emulation default: the whole file). */
  autoSectorCount: boolean
  /** Patch a boot info table (mkisofs -boot-info-table) into the file when written. */
  bootInfoTable: boolean
}

export interface BootSection {
  platform: number
  idString: Buffer
  images: BootImage[]
}

export interface BootConfiguration {
  /** The catalog's inode: a visible file (boot.cat) or, when no name points at it, hidden. */
  catalog: Inode
  validation: ValidationEntry
  defaultImage: BootImage
  sections: BootSection[]
}

export function allBootImages (boot: BootConfiguration): BootImage[] {
  return [boot.defaultImage, ...boot.sections.flatMap(s => s.images)]
}

/**
 * The system area of a hybrid image (ECMA-119 6.2.1 leaves it to the system): an isohybrid MBR whose
 * boot code comes from a template (syslinux isohdpfx.bin, or the opened image's own), optionally with a
 * GPT for EFI (xorriso -isohybrid-gpt-basdat).
 */
export interface HybridConfiguration {
  /** Up to 32 KiB written at the start of the image before the tables are filled in. */
  template: Buffer
  /** Write the MBR partition table and boot pointer (false: the template is kept as it is). */
  mbr: boolean
  /** MBR type of the partition covering the image: 0x17 (isohybrid), 0x00 next to a GPT (xorriso), … */
  partitionType: number
  /** The El Torito image whose 512-byte LBA goes at MBR offset 432 (isolinux.bin). */
  bootImage?: Inode
  /** An EFI system partition image to expose as MBR partition 2 (type 0xEF) and in the GPT. */
  efiImage?: Inode
  gpt: boolean
}
