import { BootInfoChecksum, BOOT_INFO_TABLE_OFFSET, serializeBootInfoTable } from '../codec/boot-info-table'
import { bootRecordFields, serializeBootCatalog } from '../codec/el-torito'
import type { BootRecordDescriptor } from '../codec/volume-descriptor'
import { allBootImages, sectorCountFollowsSize, type BootConfiguration } from '../model/boot'
import type { DataSource } from '../model/data-source'
import { GRUB2_BOOT_INFO_OFFSET } from '../read/boot-model'
import { startOf, toCatalogShape, type Layout, type Placed, type WriteContent } from './layout'

/*
 * El Torito (Phoenix/IBM 1995) as written: the boot record descriptor (2.0), the catalog with each entry's
 * load RBA where its image now lies, and what boot images carry about their own place: mkisofs's boot
 * info table and GRUB's boot info (xorriso --grub2-boot-info), patched into them as they are copied.
 */

/** 2.0: the boot record volume descriptor pointing at the catalog. */
export function bootRecordDescriptor (catalogLba: number): BootRecordDescriptor {
  return { type: 0, version: 1, bootId: Buffer.alloc(32), ...bootRecordFields(catalogLba) }
}

export function bootCatalog (layout: Layout, boot: BootConfiguration): Buffer {
  const shape = toCatalogShape(boot)
  const images = allBootImages(boot)
  const entries = [shape.defaultEntry, ...shape.sections.flatMap(s => s.entries)]
  entries.forEach((entry, i) => {
    const image = images[i]
    entry.loadRba = startOf(layout, image.payload) ?? 0
    if (sectorCountFollowsSize(image)) entry.sectorCount = autoSectorCount(image.entry.media & 0x0f, image.payload.data.size)
  })
  return serializeBootCatalog(shape)
}

/**
 * El Torito 2.2 "Sector Count": emulated boots load one sector (the BIOS reads the rest through the
 * emulated drive); a no-emulation image is loaded whole, in 512-byte units, as mkisofs does by default.
 */
function autoSectorCount (emulation: number, size: number): number {
  if (emulation !== 0) return 1
  return Math.min(0xffff, Math.ceil(size / 512))
}


/** Patches one image's bytes get as they are copied: `chunk` holds the file's bytes from `position`. */
export type BootPatch = (chunk: Buffer, position: number) => void

/**
 * What each boot image being written must carry about its own place: a boot info table (PVD LBA, file LBA,
 * length, checksum of the file from byte 64: mkisofs -boot-info-table) and GRUB's 2 KiB LBA x 4 + 5 at
 * byte 2548 (xorriso --grub2-boot-info). Only images the layout writes anew: a kept one is where it was.
 */
export async function bootPatches (layout: Layout, content: WriteContent): Promise<Map<Placed, BootPatch>> {
  const patches = new Map<Placed, BootPatch>()
  for (const image of content.boot !== undefined ? allBootImages(content.boot) : []) {
    const holder = image.payload.holder
    const lba = startOf(layout, image.payload)
    const source = image.payload.data
    if (lba === undefined || layout.fixed.has(holder) || patches.has(holder)) continue
    const parts: Array<{ offset: number, bytes: Buffer }> = []
    if (image.grub2BootInfo && source.size >= GRUB2_BOOT_INFO_OFFSET + 8) {
      const bytes = Buffer.alloc(8)
      bytes.writeBigUInt64LE(BigInt(lba) * 4n + 5n)
      parts.push({ offset: GRUB2_BOOT_INFO_OFFSET, bytes })
    }
    const patch: BootPatch = (chunk, position) => { for (const part of parts) patchInto(chunk, position, part.offset, part.bytes) }
    // mkisofs patches only files long enough to hold the table; its checksum covers the bytes as written,
    // GRUB's address included (as xorriso computes it).
    if (image.bootInfoTable && source.size >= 64) parts.push({ offset: BOOT_INFO_TABLE_OFFSET, bytes: await bootInfoTableFor(source, lba, layout.primaryLba, patch) })
    if (parts.length > 0) patches.set(holder, patch)
  }
  return patches
}

/** Puts `bytes` (which belong at `offset` of the file) where this chunk, at `position` of the file, covers them. */
function patchInto (chunk: Buffer, position: number, offset: number, bytes: Buffer): void {
  const from = Math.max(position, offset)
  const to = Math.min(position + chunk.length, offset + bytes.length)
  if (from < to) bytes.copy(chunk, from - position, from - offset, to - offset)
}

/** mkisofs -boot-info-table: bytes 8-63 of the file: PVD LBA, file LBA, length and the checksum from byte 64. */
async function bootInfoTableFor (source: DataSource, lba: number, primaryLba: number, patch: BootPatch): Promise<Buffer> {
  const checksum = new BootInfoChecksum()
  const buf = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, Math.max(1, source.size)))
  for (let position = 0; position < source.size;) {
    const n = await source.read(buf, 0, Math.min(buf.length, source.size - position), position)
    if (n === 0) break
    patch(buf.subarray(0, n), position)
    checksum.update(buf.subarray(0, n), position)
    position += n
  }
  const table = Buffer.alloc(64)
  serializeBootInfoTable({ pvdLba: primaryLba, fileLba: lba, fileLength: source.size, checksum: checksum.digest() }, table)
  return table.subarray(BOOT_INFO_TABLE_OFFSET, 64)
}
