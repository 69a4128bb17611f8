import { InvalidInputError } from '../../errors'
import { BOOTABLE, Emulation, NOT_BOOTABLE, Platform, type BootEntry } from '../codec/el-torito'
import { parseMbr } from '../codec/mbr'
import { allBootImages, type BootConfiguration, type BootImage, type HybridConfiguration } from '../model/boot'
import { readAll } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Names, Node } from '../model/node'

/** What `addElTorito` takes: mkisofs's -b/-e family of flags as options. */
export interface ElToritoOptions {
  /** Path of the boot file in the image. */
  bootFile: string
  /**
   * The boot file itself, when it has no directory record (mkisofs -hide of the boot file, which still
   * boots: El Torito points at data, not at names). `bootFile` then only names it in messages.
   */
  bootInode?: Inode
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
export async function bootImageFor (inode: Inode, options: ElToritoOptions): Promise<BootImage> {
  const size = inode.data.size
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
      const mbr = parseMbr(await readAll(inode.data, 512))
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
  return { inode, entry, autoSectorCount: options.loadSize === undefined, bootInfoTable: options.bootInfoTable === true }
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

/** isolinux.bin carries this at byte 64 when it can boot from a disk (syslinux isohybrid checks it). */
const ISOHYBRID_SIGNATURE = 0x7078c0fb

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

export async function isohybridFor (boot: BootConfiguration | undefined, options: IsohybridOptions): Promise<HybridConfiguration> {
  if (boot === undefined) throw new InvalidInputError('BAD_ARGUMENT', 'isohybrid needs an El Torito boot entry (add one first)')
  const bios = [boot.defaultImage, ...boot.sections.flatMap(s => s.images)]
    .find(i => i === boot.defaultImage && (i.entry.media & 0x0f) === Emulation.NONE)
  if (bios === undefined) throw new InvalidInputError('BAD_ARGUMENT', 'isohybrid needs a no-emulation default boot entry')
  const head = await readAll(bios.inode.data, 68)
  if (head.length < 68 || head.readUInt32LE(64) !== ISOHYBRID_SIGNATURE) {
    throw new InvalidInputError('BAD_ARGUMENT', 'the default boot file has no isohybrid signature (isolinux.bin from syslinux 3.72 or later has one)')
  }
  if (options.mbr.length < 432) throw new InvalidInputError('BAD_ARGUMENT', `MBR template of ${options.mbr.length} bytes is shorter than 432`)
  const entries = allBootImages(boot)
  if (options.gptEntry !== undefined && entries[options.gptEntry] === undefined) {
    throw new InvalidInputError('BAD_ARGUMENT', `there is no boot entry ${options.gptEntry} to mark in the GPT (the catalog has ${entries.length})`)
  }
  const efi = options.gptEntry !== undefined
    ? entries[options.gptEntry]
    : boot.sections.flatMap(s => s.platform === Platform.EFI ? s.images : [])[0] ??
      (boot.validation.platform === Platform.EFI ? boot.defaultImage : undefined)
  const gpt = options.gpt === true
  return {
    template: Buffer.from(options.mbr.subarray(0, 432)),
    mbr: true,
    partitionType: options.partitionType ?? (gpt ? 0x00 : 0x17),
    bootImage: bios.inode,
    efiImage: efi?.inode,
    gpt
  }
}

/**
 * Boot files replaced by name follow the name: an editor saves by writing a new file and renaming it over
 * the old one (so does `cp x.new && mv x.new x`), and the user means the catalog, which mkisofs -b set up
 * by path, to boot the new file. A boot file removed from its directory with a regular file under the
 * same name there now is replaced by that file in the catalog and the hybrid MBR/GPT. A boot file removed
 * and not replaced stays in the catalog as a hidden file, so the image keeps booting.
 */
export function followReplacedBootFiles (
  boot: BootConfiguration, hybrid: HybridConfiguration | undefined, formerPlaces: WeakMap<Inode, { parent: Node, names: Names }>
): void {
  for (const image of allBootImages(boot)) {
    const replacement = replacementOf(image.inode, formerPlaces)
    if (replacement === undefined) continue
    if (hybrid?.bootImage === image.inode) hybrid.bootImage = replacement
    if (hybrid?.efiImage === image.inode) hybrid.efiImage = replacement
    image.inode = replacement
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
