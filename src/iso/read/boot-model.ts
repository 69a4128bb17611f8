import { Emulation, emulationOf, Platform, type BootEntry } from '../codec/el-torito'
import { parseMbr } from '../codec/mbr'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import type { BootConfiguration, BootImage } from '../model/boot'
import { ImageExtentsSource } from '../model/data-source'
import { Inode, S_IFREG } from '../model/inode'
import { Payload, Region } from '../model/payload'
import type { ElToritoInfo } from './el-torito'

/*
 * The El Torito catalog of an opened image as a model whose entries point at payloads (payload.ts), built
 * at open from the catalog alone: no directory needs to be read. A payload starts as a region of the image
 * and is bound to the file whose data starts there when that file's directory is loaded.
 */

/** Floppy images have fixed sizes (El Torito 2.2 media types 1-3). */
const FLOPPY_BYTES: Record<number, number> = { 1: 1228800, 2: 1474560, 3: 2949120 }
/** xorriso --grub2-boot-info: where GRUB's El Torito core image keeps its own address (xorrisofs(1)). */
export const GRUB2_BOOT_INFO_OFFSET = 2548

/**
 * The payloads of one image by first 2 KiB sector: one object per range, whoever points at it, and the
 * roles files take when found there (tree-loader.ts calls `fileAt` for every file it reads).
 */
export class PayloadIndex {
  private readonly byLba = new Map<number, Payload>()
  private readonly catalogs = new Map<number, (inode: Inode) => void>()
  private readonly guesses = new Set<Region>()

  constructor (private readonly source: ByteSource) {}

  /**
   * The payload at `lba`, made a region of `bytes` if none is there yet. A region made with `guess` has a
   * size implied by a catalog entry rather than known (a hidden no-emulation image loads only its first
   * sectors): resolveGuessedSizes settles it when the whole tree is known.
   */
  at (lba: number, bytes: number, place: Region['place'], label: string, guess = false): Payload {
    const found = this.byLba.get(lba)
    if (found !== undefined) {
      const region = found.holder
      if (region instanceof Region && !guess && (this.guesses.has(region) || bytes > region.data.size)) {
        // A partition entry knows the size a catalog entry only hinted at.
        region.data = this.extent(lba, bytes)
        this.guesses.delete(region)
      }
      return found
    }
    const region = new Region(this.extent(lba, bytes), place, label)
    if (guess) this.guesses.add(region)
    const payload = new Payload(region)
    this.byLba.set(lba, payload)
    return payload
  }

  get (lba: number): Payload | undefined {
    return this.byLba.get(lba)
  }

  payloads (): Payload[] {
    return [...this.byLba.values()]
  }

  onCatalog (lba: number, bind: (inode: Inode) => void): void {
    this.catalogs.set(lba, bind)
  }

  /** A file whose data starts at `lba` was read: it becomes the payload (or the catalog) found there. */
  fileAt (lba: number, inode: Inode): void {
    const payload = this.byLba.get(lba)
    if (payload !== undefined && !payload.isFile) payload.bind(inode)
    this.catalogs.get(lba)?.(inode)
  }

  /**
   * Hidden no-emulation images whose size was a guess take everything up to the next file (or the end of
   * the volume's data): the loaded sector count is often only the first 2 KiB of a larger loader, which
   * reads the rest itself. Needs every file's start, so it runs once the whole tree is loaded.
   */
  resolveGuessedSizes (fileStarts: readonly number[], dataEnd: number): void {
    const starts = [...fileStarts].sort((a, b) => a - b)
    for (const [lba, payload] of this.byLba) {
      const region = payload.holder
      if (!(region instanceof Region) || !this.guesses.has(region)) continue
      const next = starts.find(s => s > lba) ?? dataEnd
      region.data = this.extent(lba, Math.max(region.data.size, (next - lba) * SECTOR_SIZE))
      this.guesses.delete(region)
    }
  }

  private extent (lba: number, bytes: number): ImageExtentsSource {
    return new ImageExtentsSource(this.source, [{ lba, length: bytes, unitSize: 0, gapSize: 0 }])
  }
}

/**
 * The boot configuration of an opened image's catalog. `dataEnd` is where the ISO volume's data ends: an
 * entry pointing beyond it names an appended partition (xorriso -e --interval:appended_partition_2:all::).
 */
export async function bootConfigurationOf (
  source: ByteSource, info: ElToritoInfo, payloads: PayloadIndex, dataEnd: number
): Promise<BootConfiguration> {
  const catalog = hiddenInode(source, info.catalogLba, SECTOR_SIZE)
  const image = async (entry: BootEntry, index: number, platform: number): Promise<BootImage> => {
    const { bytes, guess } = await impliedSize(source, entry)
    const place = entry.loadRba >= dataEnd ? 'appended' : 'volume'
    const payload = payloads.at(entry.loadRba, bytes, place, `boot image ${index + 1}`, guess)
    return {
      payload,
      entry: { ...entry, selectionCriteria: Buffer.from(entry.selectionCriteria), extensions: entry.extensions.map(e => Buffer.from(e)) },
      bootInfoTable: info.images[index].bootInfoTable,
      grub2BootInfo: platform === Platform.X86 && emulationOf(entry) === Emulation.NONE && await hasGrub2BootInfo(source, entry.loadRba)
    }
  }
  const config: BootConfiguration = {
    catalog,
    validation: { ...info.catalog.validation, idString: Buffer.from(info.catalog.validation.idString) },
    defaultImage: await image(info.images[0].entry, 0, info.catalog.validation.platform),
    sections: []
  }
  let index = 1
  for (const section of info.catalog.sections) {
    const list: BootImage[] = []
    for (const entry of section.entries) list.push(await image(entry, index++, section.platform))
    config.sections.push({ platform: section.platform, idString: Buffer.from(section.idString), images: list })
  }
  // The catalog is rewritten whole at every commit; a file naming it (boot.cat) is that catalog.
  payloads.onCatalog(info.catalogLba, inode => { config.catalog = inode })
  return config
}

/**
 * What an entry says of its image's size: a floppy's, a hard-disk image's partition end, or for no
 * emulation the loaded sectors (a guess: see PayloadIndex.resolveGuessedSizes).
 */
async function impliedSize (source: ByteSource, entry: BootEntry): Promise<{ bytes: number, guess: boolean }> {
  const emulation = emulationOf(entry)
  if (FLOPPY_BYTES[emulation] !== undefined) return { bytes: FLOPPY_BYTES[emulation], guess: false }
  if (emulation === Emulation.HARD_DISK) {
    const head = Buffer.alloc(512)
    await source.read(head, 0, 512, entry.loadRba * SECTOR_SIZE)
    const end = Math.max(0, ...(parseMbr(head)?.partitions ?? []).map(p => p.lbaStart + p.sectors))
    if (end > 0) return { bytes: end * 512, guess: false }
  }
  return { bytes: Math.max(SECTOR_SIZE, entry.sectorCount * 512), guess: true }
}

async function hasGrub2BootInfo (source: ByteSource, lba: number): Promise<boolean> {
  const position = lba * SECTOR_SIZE + GRUB2_BOOT_INFO_OFFSET
  if (position + 8 > source.size) return false
  const field = Buffer.alloc(8)
  await source.read(field, 0, 8, position)
  return field.readBigUInt64LE(0) === BigInt(lba) * 4n + 5n
}

function hiddenInode (source: ByteSource, lba: number, size: number): Inode {
  return new Inode({
    mode: S_IFREG | 0o444,
    times: { mtimeMs: 0, atimeMs: 0, ctimeMs: 0 },
    data: new ImageExtentsSource(source, [{ lba, length: size, unitSize: 0, gapSize: 0 }]),
    ino: 0xffffff00 - lba
  })
}
