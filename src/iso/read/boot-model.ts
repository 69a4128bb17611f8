import { InvalidImageError } from '../../errors'
import { Emulation, emulationOf, type BootEntry } from '../codec/el-torito'
import { parseMbr } from '../codec/mbr'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import type { BootConfiguration, BootImage, HybridConfiguration } from '../model/boot'
import { ImageExtentsSource } from '../model/data-source'
import { Inode, S_IFREG } from '../model/inode'
import type { Node } from '../model/node'
import type { ElToritoInfo } from './el-torito'
import type { SystemAreaInfo } from './system-area'

/*
 * Turns an opened image's El Torito catalog and system area, which point at LBAs, into the model's boot
 * and hybrid configuration, which point at inodes, so a remaster or commit can move boot files and keep
 * booting. Needs the whole tree loaded (to find which file sits at each LBA).
 */

/** Floppy images have fixed sizes (El Torito 2.2 media types 1-3). */
const FLOPPY_BYTES: Record<number, number> = { 1: 1228800, 2: 1474560, 3: 2949120 }

export function inodesByStart (root: Node): Map<number, Inode> {
  const found = new Map<number, Inode>()
  const stack: Node[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    for (const child of node.dir?.peek() ?? []) {
      if (child.dir !== undefined) stack.push(child)
      const data = child.inode.compressed?.raw ?? child.inode.data
      if (data instanceof ImageExtentsSource && data.size > 0 && !found.has(data.lba)) found.set(data.lba, child.inode)
    }
  }
  return found
}

export async function bootConfigurationOf (
  source: ByteSource, info: ElToritoInfo, byStart: Map<number, Inode>, volumeSectors: number
): Promise<BootConfiguration> {
  const starts = [...byStart.keys()].sort((a, b) => a - b)
  const catalog = byStart.get(info.catalogLba) ?? hiddenInode(source, info.catalogLba, SECTOR_SIZE)
  const image = async (entry: BootEntry, index: number): Promise<BootImage> => {
    const visible = byStart.get(entry.loadRba)
    const inode = visible ?? hiddenInode(source, entry.loadRba, await hiddenImageSize(source, entry, starts, volumeSectors))
    const wholeFile = Math.ceil(inode.data.size / 512)
    return {
      inode,
      entry: { ...entry, selectionCriteria: Buffer.from(entry.selectionCriteria), extensions: entry.extensions.map(e => Buffer.from(e)) },
      // A count that loaded the whole file (EFI images, mkisofs's default) follows the file's new size.
      autoSectorCount: emulationOf(entry) === Emulation.NONE && entry.sectorCount === wholeFile && wholeFile > 4,
      bootInfoTable: info.images[index].bootInfoTable
    }
  }
  const images = info.images
  const config: BootConfiguration = {
    catalog,
    validation: { ...info.catalog.validation, idString: Buffer.from(info.catalog.validation.idString) },
    defaultImage: await image(images[0].entry, 0),
    sections: []
  }
  let index = 1
  for (const section of info.catalog.sections) {
    const list: BootImage[] = []
    for (const entry of section.entries) list.push(await image(entry, index++))
    config.sections.push({ platform: section.platform, idString: Buffer.from(section.idString), images: list })
  }
  return config
}

/**
 * A boot image no directory record names (xorriso -hide, or genisoimage's hidden boot images): its size is
 * what the entry implies — a floppy's, a hard disk image's partition end, or for no emulation everything up
 * to the next file (the loaded sector count is often only the first 2 KiB of a larger loader).
 */
async function hiddenImageSize (source: ByteSource, entry: BootEntry, starts: number[], volumeSectors: number): Promise<number> {
  const emulation = emulationOf(entry)
  if (FLOPPY_BYTES[emulation] !== undefined) return FLOPPY_BYTES[emulation]
  if (emulation === Emulation.HARD_DISK) {
    const head = Buffer.alloc(512)
    await source.read(head, 0, 512, entry.loadRba * SECTOR_SIZE)
    const mbr = parseMbr(head)
    const end = Math.max(0, ...(mbr?.partitions ?? []).map(p => p.lbaStart + p.sectors))
    if (end === 0) throw new InvalidImageError('IMAGE_BAD_BOOT_CATALOG', 'hidden hard-disk boot image has no partition table', { structure: 'boot image', lba: entry.loadRba })
    return end * 512
  }
  const next = starts.find(s => s > entry.loadRba) ?? volumeSectors
  return Math.max(entry.sectorCount * 512, (next - entry.loadRba) * SECTOR_SIZE)
}

function hiddenInode (source: ByteSource, lba: number, size: number): Inode {
  return new Inode({
    mode: S_IFREG | 0o444,
    times: { mtimeMs: 0, atimeMs: 0, ctimeMs: 0 },
    data: new ImageExtentsSource(source, [{ lba, length: size, unitSize: 0, gapSize: 0 }]),
    ino: 0xffffff00 - lba
  })
}

/**
 * The hybrid configuration of an opened image, if its system area holds what isohybrid or xorriso write:
 * an MBR whose partitions are the whole image and (optionally) the EFI boot image, with or without a GPT
 * describing the same. Anything else there (an Apple partition map, a partition pointing at unknown
 * data) cannot be kept correct when files move, and is refused.
 */
export function hybridConfigurationOf (area: SystemAreaInfo, boot: BootConfiguration | undefined, byStart: Map<number, Inode>, volumeSectors: number): HybridConfiguration | undefined {
  if (!area.used || area.bytes === undefined) return undefined
  const mbr = area.mbr
  const refuse = (detail: string): never => {
    throw new InvalidImageError('IMAGE_BAD_PARTITION_TABLE', `${detail}; it cannot be kept valid when the image changes (remove the hybrid boot structures to write)`, { structure: 'system area', lba: 0 })
  }
  if (mbr === undefined) {
    if (area.gpt !== undefined) refuse('a GPT without an MBR')
    // Boot code or a signature in the system area but no partition table: kept as it is (nothing in it
    // points into the image).
    return { template: area.bytes, mbr: false, partitionType: 0, gpt: false }
  }
  const bootImages = boot === undefined ? [] : [boot.defaultImage, ...boot.sections.flatMap(s => s.images)]
  let partitionType: number | undefined
  let efiImage: Inode | undefined
  for (const p of mbr.partitions) {
    if (p.type === 0 && p.sectors === 0) continue
    if (p.lbaStart === 0 || (p.type === 0xee && p.lbaStart === 1)) {
      partitionType = p.type
      continue
    }
    const image = byStart.get(p.lbaStart / 4) ?? bootImages.find(b => (b.inode.data as ImageExtentsSource).lba * 4 === p.lbaStart)?.inode
    if (image !== undefined && p.lbaStart % 4 === 0 && efiImage === undefined) {
      efiImage = image
      continue
    }
    refuse(`MBR partition of type 0x${p.type.toString(16)} at block ${p.lbaStart} is not the image or a boot image`)
  }
  const bootImage = area.isohybridBootLba512 !== undefined
    ? bootImages.find(b => imageLba(b.inode) * 4 === area.isohybridBootLba512)?.inode
    : undefined
  if (area.isohybridBootLba512 !== undefined && bootImage === undefined) refuse('the isohybrid boot pointer names no El Torito boot image')
  if (area.gpt !== undefined) {
    for (const p of area.gpt.partitions) {
      const coversImage = p.firstLba <= 64 && p.lastLba >= Math.min(volumeSectors * 4 - 1, p.lastLba)
      const isEfi = efiImage !== undefined && p.firstLba === imageLba(efiImage) * 4
      if (!coversImage && !isEfi) refuse(`GPT partition "${p.name}" at block ${p.firstLba} is not the image or the EFI boot image`)
    }
  }
  return { template: area.bytes, mbr: true, partitionType: partitionType ?? 0x17, bootImage, efiImage, gpt: area.gpt !== undefined }
}

function imageLba (inode: Inode): number {
  const data = inode.compressed?.raw ?? inode.data
  return data instanceof ImageExtentsSource ? data.lba : -1
}
