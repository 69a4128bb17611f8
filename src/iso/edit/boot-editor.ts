import { InvalidInputError } from '../../errors'
import { BOOTABLE, Emulation, NOT_BOOTABLE, Platform, type BootEntry } from '../codec/el-torito'
import { parseMbr } from '../codec/mbr'
import { allBootImages, type BootConfiguration, type BootImage } from '../model/boot'
import { readAll } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Names, Node } from '../model/node'
import { Payload } from '../model/payload'
import type { SystemAreaModel } from '../model/system-area'
import { hybridSystemArea } from './hybrid-builder'

/** What `addElTorito` takes: mkisofs's -b/-e family of flags as options. */
export interface ElToritoOptions {
  /** Path of the boot file in the image. */
  bootFile: string
  /**
   * The boot file itself, when it has no directory record (mkisofs -hide of the boot file, which still
   * boots: El Torito points at data, not at names). `bootFile` then only names it in messages.
   */
  bootInode?: Inode
  /**
   * Bytes no tree names, such as an appended partition (xorriso -e --interval:appended_partition_2:all::):
   * see IsoImage.region(). `bootFile` then only names it in messages.
   */
  bootPayload?: Payload
  /** Path of the catalog file (default /boot.cat); it is created. */
  catalogPath?: string
  /** Record the catalog without a directory entry (xorriso -boot_catalog_hidden). */
  hiddenCatalog?: boolean
  emulation?: 'none' | 'floppy' | 'hard-disk'
  platform?: 'x86' | 'ppc' | 'mac' | 'efi' | number
  /** Virtual 512-byte sectors to load (mkisofs -boot-load-size); default: the whole file (no emulation). */
  loadSize?: number
  /** Load segment (mkisofs -boot-load-seg); 0 means the BIOS default 0x7C0. */
  loadSegment?: number
  /** Patch a boot info table into the boot file (mkisofs -boot-info-table). */
  bootInfoTable?: boolean
  /** Patch GRUB's own address into the boot image at byte 2548 (xorriso --grub2-boot-info). */
  grub2BootInfo?: boolean
  /** false: record the entry as not bootable (mkisofs -no-boot). */
  bootable?: boolean
  /** The catalog's (or section's) identification string. */
  idString?: string
}

const PLATFORMS: Record<string, number> = { x86: Platform.X86, ppc: Platform.POWERPC, mac: Platform.MAC, efi: Platform.EFI }
const FLOPPY_EMULATION: Record<number, number> = {
  1228800: Emulation.FLOPPY_1_2M,
  1474560: Emulation.FLOPPY_1_44M,
  2949120: Emulation.FLOPPY_2_88M
}

export function platformNumber (platform: ElToritoOptions['platform']): number {
  if (typeof platform === 'number') return platform
  const number = PLATFORMS[platform ?? 'x86']
  if (number === undefined) throw new InvalidInputError('BAD_ARGUMENT', `unknown El Torito platform "${platform}" (x86, ppc, mac, efi)`)
  return number
}

/** The catalog entry for a boot file (El Torito 2.2/2.4), with the checks mkisofs makes. */
export async function bootImageFor (payload: Payload, options: ElToritoOptions): Promise<BootImage> {
  const size = payload.data.size
  let media: number
  let systemType = 0
  switch (options.emulation ?? 'none') {
    case 'none':
      media = Emulation.NONE
      break
    case 'floppy': {
      const type = FLOPPY_EMULATION[size]
      if (type === undefined) {
        throw new InvalidInputError('BAD_ARGUMENT', `a floppy-emulation boot image must be 1200, 1440 or 2880 KiB, not ${size} bytes`)
      }
      media = type
      break
    }
    case 'hard-disk': {
      // El Torito 2.2: the image is a disk with one partition; the entry records its type (System Type).
      const mbr = parseMbr(await readAll(payload.data, 512))
      const used = mbr?.partitions.filter(p => p.type !== 0) ?? []
      if (mbr === undefined || used.length !== 1) {
        throw new InvalidInputError('BAD_ARGUMENT', 'a hard-disk-emulation boot image must start with an MBR holding exactly one partition')
      }
      media = Emulation.HARD_DISK
      systemType = used[0].type
      break
    }
    default:
      throw new InvalidInputError('BAD_ARGUMENT', `unknown emulation "${String(options.emulation)}"`)
  }
  if (options.bootInfoTable === true && media !== Emulation.NONE) {
    throw new InvalidInputError('BAD_ARGUMENT', 'a boot info table goes only into a no-emulation boot file')
  }
  if (options.loadSize !== undefined && (!Number.isInteger(options.loadSize) || options.loadSize < 1 || options.loadSize > 0xffff)) {
    throw new InvalidInputError('BAD_ARGUMENT', `boot load size ${options.loadSize} is not 1..65535 sectors`)
  }
  const entry: BootEntry = {
    indicator: options.bootable === false ? NOT_BOOTABLE : BOOTABLE,
    media,
    loadSegment: options.loadSegment ?? 0,
    systemType,
    unused5: 0,
    sectorCount: options.loadSize ?? 0,
    loadRba: 0,
    selectionCriteriaType: 0,
    selectionCriteria: Buffer.alloc(19),
    extensions: []
  }
  return {
    payload,
    entry,
    autoSectorCount: options.loadSize === undefined,
    bootInfoTable: options.bootInfoTable === true,
    grub2BootInfo: options.grub2BootInfo === true
  }
}

/** Adds an entry: the first is the default entry; later ones join a section of their platform. */
export function addBootImage (boot: BootConfiguration | undefined, catalog: Inode, image: BootImage, options: ElToritoOptions): BootConfiguration {
  const platform = platformNumber(options.platform)
  const idString = Buffer.alloc(28)
  if (options.idString !== undefined) idString.write(options.idString, 'latin1')
  if (boot === undefined) {
    return {
      catalog,
      validation: { platform, reserved: 0, idString: idString.subarray(0, 24) },
      defaultImage: image,
      sections: []
    }
  }
  const last = boot.sections[boot.sections.length - 1]
  if (last !== undefined && last.platform === platform) last.images.push(image)
  else boot.sections.push({ platform, idString, images: [image] })
  return boot
}

export interface IsohybridOptions {
  /** The MBR boot code: syslinux's isohdpfx.bin (first 432 bytes are used). */
  mbr: Buffer
  /** Add a GPT (and the EFI boot image as a partition), as xorriso -isohybrid-gpt-basdat. */
  gpt?: boolean
  /**
   * Which boot entry (in catalog order, 0 the default entry) becomes the GPT partition and MBR partition
   * 2: the one xorriso's -isohybrid-gpt-basdat was given for. Default: the first EFI entry.
   */
  gptEntry?: number
  /** MBR type of the partition covering the image (default 0x17; 0x00 with a GPT, as xorriso). */
  partitionType?: number
}

/**
 * The system area of a new hybrid image as syslinux isohybrid and xorriso -isohybrid-mbr write it (see
 * hybrid-builder.ts): the boot code, an MBR partition over the image, the BIOS image's address at byte 432,
 * and with `gpt` a GPT marking the EFI boot image (xorriso -isohybrid-gpt-basdat).
 */
export async function isohybridFor (boot: BootConfiguration | undefined, options: IsohybridOptions): Promise<SystemAreaModel> {
  if (boot === undefined) throw new InvalidInputError('BAD_ARGUMENT', 'isohybrid needs an El Torito boot entry (add one first)')
  const entries = allBootImages(boot)
  let marked: number[] = []
  if (options.gpt === true) {
    const efi = options.gptEntry ?? entries.findIndex((image, i) => i > 0
      ? boot.sections.some(s => s.platform === Platform.EFI && s.images.includes(image))
      : boot.validation.platform === Platform.EFI)
    marked = efi >= 0 ? [efi] : []
  }
  return await hybridSystemArea(boot, {
    mbr: { code: options.mbr, kind: 'isohybrid' },
    gptBootEntries: marked,
    isoPartitionType: options.partitionType
  })
}

/**
 * Boot files replaced by name follow the name: an editor saves by writing a new file and renaming it over
 * the old one (so does `cp x.new && mv x.new x`), and the user means the catalog, which mkisofs -b set up
 * by path, to boot the new file. A boot file removed from its directory with a regular file under the
 * same name there now is replaced by that file in the catalog and the hybrid MBR/GPT. A boot file removed
 * and not replaced stays in the catalog as a hidden file, so the image keeps booting.
 */
export function followReplacedBootFiles (boot: BootConfiguration, formerPlaces: WeakMap<Inode, { parent: Node, names: Names }>): void {
  for (const image of allBootImages(boot)) {
    const holder = image.payload.holder
    if (!image.payload.isFile) continue
    const replacement = replacementOf(holder as Inode, formerPlaces)
    // The payload is shared: the hybrid MBR/GPT entries pointing at the same file follow it too.
    if (replacement !== undefined) image.payload.bind(replacement)
  }
}

function replacementOf (inode: Inode, formerPlaces: WeakMap<Inode, { parent: Node, names: Names }>): Inode | undefined {
  const former = formerPlaces.get(inode)
  if (former === undefined) return undefined
  const children = former.parent.dir?.peek() ?? []
  for (const namespace of ['rr', 'joliet', 'iso'] as const) {
    const name = former.names[namespace]
    if (name === undefined) continue
    const now = children.find(child => child.names[namespace] === name)
    if (now !== undefined && now.inode !== inode && now.inode.kind === 'file') return now.inode
    if (now !== undefined) return undefined
  }
  return undefined
}
