import { forgiving, type Diagnostics } from '../codec/diagnostics'
import { parseBootInfoTable } from '../codec/boot-info-table'
import {
  allBootEntries, catalogLocation, emulationOf, MAX_CATALOG_SECTORS, parseBootCatalog, type BootCatalog, type BootEntry
} from '../codec/el-torito'
import { SECTOR_SIZE, type BootRecordDescriptor } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/** One boot entry as users see it (xorriso -report_el_torito shows the same columns). */
export interface BootImageInfo {
  /** 1-based position in the catalog, default entry first. */
  index: number
  platform: number
  bootable: boolean
  emulation: number
  loadSegment: number
  systemType: number
  /** Virtual 512-byte sectors the BIOS loads (2.2 "Sector Count"). */
  sectorCount: number
  loadLba: number
  selectionCriteriaType: number
  /** The boot file carries a genisoimage boot info table that matches its place in this image. */
  bootInfoTable: boolean
  entry: BootEntry
}

export interface ElToritoInfo {
  bootRecordLba: number
  catalogLba: number
  catalog: BootCatalog
  images: BootImageInfo[]
}

export async function readElTorito (
  source: ByteSource, bootRecord: { descriptor: BootRecordDescriptor, lba: number }, primaryLba: number, diag: Diagnostics
): Promise<ElToritoInfo | undefined> {
  const catalogLba = catalogLocation(bootRecord.descriptor.bootSystemId, bootRecord.descriptor.bootSystemUse)
  if (catalogLba === undefined) return undefined
  const where = { structure: 'El Torito boot catalog', lba: catalogLba }
  let catalog: BootCatalog | 'need more' = 'need more'
  for (let sectors = 1; catalog === 'need more'; sectors++) {
    if (sectors > MAX_CATALOG_SECTORS || (catalogLba + sectors) * SECTOR_SIZE > source.size) {
      diag.warn(where, 'boot catalog does not end within the image; ignored')
      return undefined
    }
    const buf = await readExactly(source, catalogLba * SECTOR_SIZE, sectors * SECTOR_SIZE, where)
    // Linux never reads the catalog, so images with a broken one mount; here El Torito is then absent.
    const parsed = forgiving(diag, 'El Torito ignored', () => parseBootCatalog(buf, diag, where))
    if (parsed === undefined) return undefined
    catalog = parsed
  }
  const images: BootImageInfo[] = []
  for (const [i, { entry, platform }] of allBootEntries(catalog).entries()) {
    images.push({
      index: i + 1,
      platform,
      bootable: entry.indicator === 0x88,
      emulation: emulationOf(entry),
      loadSegment: entry.loadSegment,
      systemType: entry.systemType,
      sectorCount: entry.sectorCount,
      loadLba: entry.loadRba,
      selectionCriteriaType: entry.selectionCriteriaType,
      bootInfoTable: await hasBootInfoTable(source, entry, primaryLba),
      entry
    })
  }
  return { bootRecordLba: bootRecord.lba, catalogLba, catalog, images }
}

/** A boot info table is recognised by its first two fields: the PVD's LBA and the file's own (mkisofs). */
async function hasBootInfoTable (source: ByteSource, entry: BootEntry, primaryLba: number): Promise<boolean> {
  if (emulationOf(entry) !== 0 || (entry.loadRba + 1) * SECTOR_SIZE > source.size) return false
  const head = Buffer.alloc(64)
  await source.read(head, 0, 64, entry.loadRba * SECTOR_SIZE)
  const table = parseBootInfoTable(head)
  return table !== undefined && table.pvdLba === primaryLba && table.fileLba === entry.loadRba
}
