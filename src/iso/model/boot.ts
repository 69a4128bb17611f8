import type { BootEntry, ValidationEntry } from '../codec/el-torito'
import type { Inode } from './inode'
import type { Payload } from './payload'

/*
 * El Torito as part of the model: boot entries point at payloads (a file, or a region no tree names), not at
 * LBAs, so that boot files can move (and be edited) and the catalog, boot info tables and GRUB's boot info
 * follow them when written.
 */

export interface BootImage {
  payload: Payload
  /** The catalog entry (El Torito 2.2/2.4); its load RBA is filled in when written. */
  entry: BootEntry
  /**
   * Compute the sector count from the image size when written (a no-emulation image loaded whole: EFI
   * images, mkisofs's default). Undefined for an image read from a catalog: decided from what the count
   * covered once the image's file is known (see sectorCountFollowsSize).
   */
  autoSectorCount?: boolean
  /** Patch a boot info table (mkisofs -boot-info-table) into the file when written. */
  bootInfoTable: boolean
  /**
   * xorriso --grub2-boot-info: bytes 2548-2555 of the image hold its own 2 KiB LBA x 4 + 5 (64-bit
   * little-endian), where GRUB's El Torito core image looks for itself.
   */
  grub2BootInfo: boolean
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

/** El Torito 2.2 media type, bits 0-3: 0 is no emulation. */
export function isNoEmulation (image: BootImage): boolean {
  return (image.entry.media & 0x0f) === 0
}

/**
 * Whether the entry's sector count follows the image's size: asked for by the option that made it, or,
 * for an entry read from an image, when it loaded the whole file (more than the 4 sectors BIOS loaders
 * ask for) as it was when bound.
 */
export function sectorCountFollowsSize (image: BootImage): boolean {
  if (image.autoSectorCount !== undefined) return image.autoSectorCount
  const size = image.payload.boundSize
  return isNoEmulation(image) && size !== undefined && image.entry.sectorCount > 4 && image.entry.sectorCount === Math.ceil(size / 512)
}
