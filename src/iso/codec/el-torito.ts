import { InvalidImageError, type ImageLocation } from '../../errors'
import type { Diagnostics } from './diagnostics'
import { SECTOR_SIZE } from './volume-descriptor'

/*
 * El Torito Bootable CD-ROM Format Specification 1.0 (Phoenix/IBM, 1995). The boot record volume descriptor
 * (section 2.0) points at the boot catalog: a validation entry, the initial/default entry, then optional
 * section headers each followed by section entries and their extension entries. Every entry is 32 bytes.
 */

export const EL_TORITO_SYSTEM_ID = 'EL TORITO SPECIFICATION'
export const CATALOG_ENTRY_SIZE = 32

export const Platform = { X86: 0x00, POWERPC: 0x01, MAC: 0x02, EFI: 0xef } as const

export const Emulation = { NONE: 0, FLOPPY_1_2M: 1, FLOPPY_1_44M: 2, FLOPPY_2_88M: 3, HARD_DISK: 4 } as const

export const BOOTABLE = 0x88
export const NOT_BOOTABLE = 0x00
const SECTION_HEADER_MORE = 0x90
const SECTION_HEADER_FINAL = 0x91
const EXTENSION_INDICATOR = 0x44
/** Section entry media byte, bit 5: an extension entry follows (2.4). */
const MEDIA_EXTENSION_FOLLOWS = 0x20
/** Extension entry flag byte, bit 5: another extension entry follows (2.5). */
const EXTENSION_MORE_FOLLOWS = 0x20

/** 2.1 */
export interface ValidationEntry {
  platform: number
  reserved: number
  idString: Buffer
}

/** 2.2 (initial/default entry) and 2.4 (section entry) share this layout; the default has no criteria. */
export interface BootEntry {
  indicator: number
  /** Bits 0-3: emulation type; bits 6-7: ATAPI / SCSI driver present (2.4). Bit 5 is derived on write. */
  media: number
  loadSegment: number
  systemType: number
  unused5: number
  sectorCount: number
  loadRba: number
  selectionCriteriaType: number
  selectionCriteria: Buffer
  /** 30-byte vendor unique fields of the extension entries that follow (2.5). */
  extensions: Buffer[]
}

/** 2.3 */
export interface Section {
  platform: number
  idString: Buffer
  entries: BootEntry[]
}

export interface BootCatalog {
  validation: ValidationEntry
  defaultEntry: BootEntry
  sections: Section[]
}

export function emulationOf (entry: BootEntry): number {
  return entry.media & 0x0f
}

/**
 * The catalog pointer of an El Torito boot record (2.0: boot system use, bytes 71-74 of the descriptor,
 * little-endian), or undefined when the record is some other boot system.
 */
export function catalogLocation (bootSystemId: Buffer, bootSystemUse: Buffer): number | undefined {
  if (bootSystemId.toString('latin1').replace(/\0+$/, '') !== EL_TORITO_SYSTEM_ID) return undefined
  return bootSystemUse.readUInt32LE(0)
}

export function bootRecordFields (catalogLba: number): { bootSystemId: Buffer, bootSystemUse: Buffer } {
  const bootSystemId = Buffer.alloc(32)
  bootSystemId.write(EL_TORITO_SYSTEM_ID, 'latin1')
  const bootSystemUse = Buffer.alloc(SECTOR_SIZE - 71)
  bootSystemUse.writeUInt32LE(catalogLba, 0)
  return { bootSystemId, bootSystemUse }
}

/** 2.1: the sixteen 16-bit words of the validation entry sum to zero. */
function validationChecksum (entry: Buffer): number {
  let sum = 0
  for (let i = 0; i < CATALOG_ENTRY_SIZE; i += 2) sum = (sum + entry.readUInt16LE(i)) & 0xffff
  return sum
}

/** How many sectors of catalog to read at most; real catalogs take one, xorriso's largest a few. */
export const MAX_CATALOG_SECTORS = 32

/**
 * Parses a catalog from `buf` (its sector(s)), or returns 'need more' when the catalog goes on past `buf`
 * (the caller reads more and calls again). A catalog without its validation entry is refused (nothing in
 * it can be trusted); a malformed section header or extension entry ends the catalog there, with a
 * warning: the entries before it are kept.
 */
export function parseBootCatalog (buf: Buffer, diag: Diagnostics, where: ImageLocation): BootCatalog | 'need more' {
  const entryAt = (i: number): Buffer => buf.subarray(i * CATALOG_ENTRY_SIZE, (i + 1) * CATALOG_ENTRY_SIZE)
  const slots = Math.floor(buf.length / CATALOG_ENTRY_SIZE)
  if (slots < 2) return 'need more'
  const v = entryAt(0)
  if (v[0] !== 0x01 || v[30] !== 0x55 || v[31] !== 0xaa) {
    throw new InvalidImageError('IMAGE_BAD_BOOT_CATALOG', 'validation entry header or key 55 AA missing', { ...where, offset: 0 })
  }
  if (validationChecksum(v) !== 0) diag.warn({ ...where, field: 'validation entry checksum' }, 'checksum does not sum to zero')
  const catalog: BootCatalog = {
    validation: { platform: v[1], reserved: v.readUInt16LE(2), idString: Buffer.from(v.subarray(4, 28)) },
    defaultEntry: parseBootEntry(entryAt(1)),
    sections: []
  }
  const stop = (detail: string, index: number): BootCatalog => {
    diag.warn({ ...where, offset: index * CATALOG_ENTRY_SIZE }, `${detail}; the catalog is read up to there`)
    return catalog
  }
  let index = 2
  let final = false
  while (!final) {
    if (index >= slots) return 'need more'
    const header = entryAt(index)
    if (header[0] !== SECTION_HEADER_MORE && header[0] !== SECTION_HEADER_FINAL) {
      // No (more) section headers: the catalog ends. Writers leave the rest of the sector zero.
      if (header[0] !== 0 && catalog.sections.length > 0) return stop(`expected a section header, found 0x${header[0].toString(16)}`, index)
      break
    }
    final = header[0] === SECTION_HEADER_FINAL
    const section: Section = { platform: header[1], idString: Buffer.from(header.subarray(4, 32)), entries: [] }
    const count = header.readUInt16LE(2)
    index++
    for (let n = 0; n < count; n++) {
      if (index >= slots) return 'need more'
      const entry = parseBootEntry(entryAt(index))
      let more = (entryAt(index)[1] & MEDIA_EXTENSION_FOLLOWS) !== 0
      index++
      while (more) {
        if (index >= slots) return 'need more'
        const ext = entryAt(index)
        if (ext[0] !== EXTENSION_INDICATOR) {
          section.entries.push(entry)
          catalog.sections.push(section)
          return stop('extension entry expected (indicator 0x44)', index)
        }
        entry.extensions.push(Buffer.from(ext.subarray(2, 32)))
        more = (ext[1] & EXTENSION_MORE_FOLLOWS) !== 0
        index++
      }
      section.entries.push(entry)
    }
    catalog.sections.push(section)
  }
  return catalog
}

function parseBootEntry (e: Buffer): BootEntry {
  return {
    indicator: e[0],
    media: e[1] & ~MEDIA_EXTENSION_FOLLOWS,
    loadSegment: e.readUInt16LE(2),
    systemType: e[4],
    unused5: e[5],
    sectorCount: e.readUInt16LE(6),
    loadRba: e.readUInt32LE(8),
    selectionCriteriaType: e[12],
    selectionCriteria: Buffer.from(e.subarray(13, 32)),
    extensions: []
  }
}

export function bootCatalogSize (catalog: BootCatalog): number {
  let entries = 2
  for (const s of catalog.sections) {
    entries += 1
    for (const e of s.entries) entries += 1 + e.extensions.length
  }
  return entries * CATALOG_ENTRY_SIZE
}

/** Serializes into whole sectors (the catalog occupies its own extent). */
export function serializeBootCatalog (catalog: BootCatalog): Buffer {
  const size = bootCatalogSize(catalog)
  const buf = Buffer.alloc(Math.ceil(size / SECTOR_SIZE) * SECTOR_SIZE)
  const v = buf.subarray(0, CATALOG_ENTRY_SIZE)
  v[0] = 0x01
  v[1] = catalog.validation.platform
  v.writeUInt16LE(catalog.validation.reserved, 2)
  catalog.validation.idString.copy(v, 4, 0, 24)
  v[30] = 0x55
  v[31] = 0xaa
  v.writeUInt16LE((0x10000 - validationChecksum(v)) & 0xffff, 28)
  serializeBootEntry(catalog.defaultEntry, buf.subarray(32, 64), false)
  let at = 64
  catalog.sections.forEach((section, i) => {
    const h = buf.subarray(at, at + CATALOG_ENTRY_SIZE)
    h[0] = i === catalog.sections.length - 1 ? SECTION_HEADER_FINAL : SECTION_HEADER_MORE
    h[1] = section.platform
    h.writeUInt16LE(section.entries.length, 2)
    section.idString.copy(h, 4, 0, 28)
    at += CATALOG_ENTRY_SIZE
    for (const entry of section.entries) {
      serializeBootEntry(entry, buf.subarray(at, at + CATALOG_ENTRY_SIZE), entry.extensions.length > 0)
      at += CATALOG_ENTRY_SIZE
      entry.extensions.forEach((ext, n) => {
        const x = buf.subarray(at, at + CATALOG_ENTRY_SIZE)
        x[0] = EXTENSION_INDICATOR
        x[1] = n < entry.extensions.length - 1 ? EXTENSION_MORE_FOLLOWS : 0
        ext.copy(x, 2, 0, 30)
        at += CATALOG_ENTRY_SIZE
      })
    }
  })
  return buf
}

function serializeBootEntry (entry: BootEntry, e: Buffer, extensionFollows: boolean): void {
  e[0] = entry.indicator
  e[1] = entry.media | (extensionFollows ? MEDIA_EXTENSION_FOLLOWS : 0)
  e.writeUInt16LE(entry.loadSegment, 2)
  e[4] = entry.systemType
  e[5] = entry.unused5
  e.writeUInt16LE(entry.sectorCount, 6)
  e.writeUInt32LE(entry.loadRba, 8)
  e[12] = entry.selectionCriteriaType
  entry.selectionCriteria.copy(e, 13, 0, 19)
}

/** All entries of a catalog, default first, each with the platform it boots. */
export function allBootEntries (catalog: BootCatalog): Array<{ entry: BootEntry, platform: number }> {
  const list = [{ entry: catalog.defaultEntry, platform: catalog.validation.platform }]
  for (const s of catalog.sections) for (const entry of s.entries) list.push({ entry, platform: s.platform })
  return list
}
