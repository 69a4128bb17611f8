import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ISOLINUX, isolinuxConfig, writeIsolinuxTree } from './boot'
import type { BootOptions, Firmware, Medium } from './qemu'
import { DEBIAN_IMAGES, run, writeTree } from './tools'

/*
 * The bootable images issue 10 is about, each made by the tools that make them in the wild (xorriso with
 * the distributions' flags, grub-mkrescue, grub-mkstandalone, mkfs.vfat + mtools, syslinux), never by
 * our code, plus the real ISOs Debian packages ship. Each comes with what proves it booted, per firmware:
 * a marker the loader prints, and where the marker comes from — a plain config file of the ISO tree, so a
 * test can edit it through a mount (`sed -i s/TOKEN/NEW/g`) and expect `marker.after(NEW)` instead.
 */

export interface BootMode {
  firmware: Firmware
  as: Medium
}

export interface Marker {
  /** What the console (or, with `screen`, the text screen) shows once this firmware's loader has run. */
  text: string
  /** The loader's config file in the ISO tree, and the token in it that `text` contains. */
  config?: {
    path: string
    /** The config sits in a FAT image that is itself this file of the ISO (a boot floppy): its path there, for mtools. */
    inFat?: string
    token: string
  }
  /** `text` once every `config.token` in the file is replaced by `token`. */
  after?: (token: string) => string
  /** Shown only on the screen (see BootOptions.screen). */
  screen?: boolean
}

export interface BuiltImage {
  name: string
  /** The built (or copied) image. Shared by every caller in a run: copy it before editing. */
  path: string
  /** How it is laid out, in a line. */
  layout: string
  markers: Partial<Record<Firmware, Marker>>
  /** The modes it boots in. */
  modes: BootMode[]
  /** The modes it does not boot in, and why. */
  unsupported: Array<BootMode & { why: string }>
  /**
   * The loader an ESP named by the partition table holds (EFI/BOOT/<file>), when the table names one.
   * Checked apart from booting: OVMF reads a GPT first, then El Torito, and the MBR only when neither is
   * there (EDK II PartitionDxe's mPartitionDetectRoutineTable), so a UEFI disk boot of an image with El
   * Torito never proves an MBR 0xef entry.
   */
  espFile?: string
}

export const ALL_MODES: BootMode[] = [
  { firmware: 'bios', as: 'cd' }, { firmware: 'bios', as: 'disk' }, { firmware: 'uefi', as: 'cd' }, { firmware: 'uefi', as: 'disk' }
]
const BIOS_ONLY = ALL_MODES.filter(m => m.firmware === 'bios')

/** What `bootImage` needs to boot `image` in `mode` and recognise its marker (after `token` replaced the config's token). */
export function bootOptionsFor (image: BuiltImage, mode: BootMode, token?: string): BootOptions {
  const marker = image.markers[mode.firmware]
  if (marker === undefined) throw new Error(`${image.name} has no ${mode.firmware} loader`)
  if (token !== undefined && marker.after === undefined) throw new Error(`${image.name}: the ${mode.firmware} marker comes from no config`)
  const expect = token === undefined ? marker.text : (marker.after as (token: string) => string)(token)
  return { firmware: mode.firmware, as: mode.as, expect, screen: marker.screen === true }
}

// ---------------------------------------------------------------------------------------------------------
// The pieces: loaders' configs, GRUB images, the EFI System Partition.

const GRUB = {
  pcModules: '/usr/lib/grub/i386-pc',
  efiModules: '/usr/lib/grub/x86_64-efi',
  hybridMbr: '/usr/lib/grub/i386-pc/boot_hybrid.img'
} as const
/** syslinux's MBR (package syslinux): boots the active partition, as any DOS-style MBR does. */
const SYSLINUX_MBR = '/usr/lib/SYSLINUX/mbr.bin'

/** Real ISOs from Debian packages (scripts/setup.sh installs them). */
export const MEMTEST = {
  x64: '/usr/lib/memtest86+/memtest86+x64.iso',
  ia32: '/usr/lib/memtest86+/memtest86+ia32.iso'
} as const

/**
 * A GRUB config that talks on the serial line and powers the machine off: the marker line says which
 * GRUB read it ($grub_platform: pc or efi), where that GRUB was loaded from ($cmdpath: e.g.
 * (cd0)/EFI/BOOT, or (hd0,gpt2)/EFI/BOOT when OVMF took the ESP partition) and which device it read this
 * file from ($root: (hd0) is the ISO read from the disk's start, (hd0,gpt1) or (hd0,msdos1) the partition,
 * which with -partition_offset 16 is a second superblock and directory tree).
 */
export function grubConfig (token: string): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial',
    'terminal_output serial',
    `echo "isomount-marker ${token} on $grub_platform from $cmdpath root $root"`,
    'halt',
    ''
  ].join('\n')
}

export function grubSays (token: string, platform?: 'pc' | 'efi'): string {
  return `isomount-marker ${token} on ${platform ?? ''}`.trimEnd()
}

/** The file GRUB's embedded configs search for to find the ISO filesystem (Ubuntu's own EFI GRUB searches /.disk/info). */
const SEARCH_FILE = '/.disk/info'

/** What GRUB needs in a standalone or core image to find the ISO, read its config and print on the serial line. */
const GRUB_MODULES = ['search', 'search_fs_file', 'configfile', 'echo', 'serial', 'terminal', 'iso9660', 'part_msdos', 'part_gpt', 'fat', 'normal', 'halt', 'test']

/**
 * The EFI System Partition Ubuntu appends: FAT (mkfs.vfat), EFI/BOOT/BOOTX64.EFI (mtools) made by
 * grub-mkstandalone, whose embedded config finds the ISO filesystem by a file on it and reads its grub.cfg.
 */
function buildEsp (work: string): string {
  const embedded = path.join(work, 'embedded.cfg')
  fs.writeFileSync(embedded, `search --no-floppy --set=root --file ${SEARCH_FILE}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n`)
  const efi = path.join(work, 'BOOTX64.EFI')
  const modules = GRUB_MODULES.join(' ')
  run('grub-mkstandalone', ['-O', 'x86_64-efi', `--install-modules=${modules}`, `--modules=${modules}`, '--locales=', '--themes=', '--fonts=',
    '-o', efi, `boot/grub/grub.cfg=${embedded}`])
  const esp = path.join(work, 'efi.img')
  run('mkfs.vfat', ['-C', '-n', 'ESP', esp, '2048'])
  run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT'])
  run('mcopy', ['-i', esp, efi, '::/EFI/BOOT/BOOTX64.EFI'])
  fs.rmSync(efi)
  fs.rmSync(embedded)
  return esp
}

/** A 1.44 MB FAT floppy made bootable by syslinux (package syslinux), whose syslinux.cfg prints `Loading /TOKEN`. */
function buildFloppy (work: string, token: string): string {
  const floppy = path.join(work, 'floppy.img')
  run('mkfs.vfat', ['-C', '-n', 'FLOPPY', floppy, '1440'])
  const cfg = path.join(work, 'syslinux.cfg')
  fs.writeFileSync(cfg, isolinuxConfig(token))
  run('mcopy', ['-i', floppy, cfg, '::/syslinux.cfg'])
  fs.rmSync(cfg)
  run('syslinux', ['--install', floppy])
  return floppy
}

function xorriso (out: string, args: string[], tree: string): void {
  run('xorriso', ['-as', 'mkisofs', '-quiet', ...args, '-o', out, tree])
}

function grubTree (tree: string, token: string): void {
  writeTree(tree, { '.disk': { info: 'isomount boot test image\n' }, boot: { grub: { 'grub.cfg': grubConfig(token) } } })
}

// ---------------------------------------------------------------------------------------------------------
// The cache: each image built once per directory, even across test processes.

/** Inputs whose change makes a cached image stale: the tools' and boot files' identities. */
const INPUTS = ['/usr/bin/xorriso', '/usr/bin/grub-mkstandalone', '/usr/bin/grub-mkrescue', '/usr/bin/syslinux', ISOLINUX.bin, ISOLINUX.mbr,
  ISOLINUX.ldlinux, `${GRUB.efiModules}/kernel.img`, `${GRUB.pcModules}/kernel.img`, GRUB.hybridMbr, SYSLINUX_MBR]

const built = new Map<string, BuiltImage>()
/** Bumped when what a builder records (not only what it builds) changes, so older records are not reused. */
const RECORD_VERSION = 2

/**
 * Builds an image once into `dir`: in a temporary directory renamed into place when complete, so two test
 * processes building the same image at once both end with one whole copy. The name carries a hash of the
 * recipe (the builder's source and its inputs), so a changed recipe never reuses an old image.
 */
function once (dir: string, name: string, recipe: string, build: (work: string) => Omit<BuiltImage, 'name' | 'path'> & { file: string }): BuiltImage {
  const hash = createHash('sha256').update(`${RECORD_VERSION}\n${recipe}`)
  for (const input of INPUTS) {
    const st = fs.statSync(input, { throwIfNoEntry: false })
    hash.update(`${input}:${st?.size ?? '-'}:${st?.mtimeMs ?? '-'}\n`)
  }
  const final = path.join(dir, `${name}-${hash.digest('hex').slice(0, 12)}`)
  const cached = built.get(final)
  if (cached !== undefined) return cached
  const record = path.join(final, 'image.json')
  if (!fs.existsSync(record)) {
    fs.mkdirSync(dir, { recursive: true })
    const work = fs.mkdtempSync(`${final}.tmp-`)
    try {
      const { file, ...rest } = build(work)
      fs.writeFileSync(path.join(work, 'image.json'), JSON.stringify({ file: path.relative(work, file), ...rest }))
      try {
        fs.renameSync(work, final)
      } catch (err) {
        // Another process finished the same image first: keep its copy.
        if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  }
  const saved = JSON.parse(fs.readFileSync(record, 'utf8')) as Omit<BuiltImage, 'name' | 'path'> & { file: string }
  const image = withAfter({ name, path: path.join(final, saved.file), layout: saved.layout, markers: saved.markers, modes: saved.modes, unsupported: saved.unsupported, espFile: saved.espFile })
  built.set(final, image)
  return image
}

/** Markers come back from JSON without their `after`: each kind of loader prints its token its own way. */
function withAfter (image: BuiltImage): BuiltImage {
  for (const [firmware, marker] of Object.entries(image.markers) as Array<[Firmware, Marker]>) {
    const token = marker.config?.token
    if (token === undefined) continue
    // The marker text is the token with what the loader prints around it (always the same, so it is cut out).
    const at = marker.text.indexOf(token)
    const before = marker.text.slice(0, at)
    const rest = marker.text.slice(at + token.length)
    image.markers[firmware] = { ...marker, after: (t: string) => `${before}${t}${rest}` }
  }
  return image
}

function recipeOf (...parts: unknown[]): string {
  return JSON.stringify(parts, (_k, v: unknown) => typeof v === 'function' ? v.toString() : v)
}

// ---------------------------------------------------------------------------------------------------------
// The images.

const UBUNTU_ISOLINUX_FLAGS = ['-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
  '-isohybrid-mbr', ISOLINUX.mbr, '-append_partition', '2', '0xef', 'ESP', '-appended_part_as_gpt', '-eltorito-alt-boot',
  '-e', '--interval:appended_partition_2:all::', '-no-emul-boot', '-isohybrid-gpt-basdat']

/**
 * (a) Issue 10's Ubuntu-style image: isolinux with isohdpfx for BIOS, and an EFI System Partition appended
 * after the ISO filesystem, listed in the GPT (appended_part_as_gpt) and booted as a CD through an El
 * Torito entry that names the partition's blocks.
 */
export function ubuntuIsolinux (dir: string): BuiltImage {
  const bios = 'isomount-ubuntu-bios'
  const efi = 'isomount-ubuntu-efi'
  return once(dir, 'ubuntu-isolinux', recipeOf(UBUNTU_ISOLINUX_FLAGS, grubConfig, isolinuxConfig, buildEsp, bios, efi), work => {
    const tree = path.join(work, 'tree')
    writeIsolinuxTree(tree, bios)
    grubTree(tree, efi)
    const esp = buildEsp(work)
    const file = path.join(work, 'ubuntu-isolinux.iso')
    xorriso(file, ['-r', '-J', '-V', 'ISOMOUNT_UBUNTU', ...UBUNTU_ISOLINUX_FLAGS.map(a => a === 'ESP' ? esp : a)], tree)
    return {
      file,
      layout: 'isolinux + isohdpfx MBR, GPT with the ISO (basic data) and an appended ESP (partition 2), El Torito EFI entry = the appended partition',
      markers: {
        bios: { text: `Loading /${bios}`, config: { path: '/isolinux/isolinux.cfg', token: bios } },
        uefi: { text: grubSays(efi, 'efi'), config: { path: '/boot/grub/grub.cfg', token: efi } }
      },
      modes: ALL_MODES,
      unsupported: [],
      espFile: 'BOOTX64.EFI'
    }
  })
}

const UBUNTU_GRUB_FLAGS = ['--grub2-mbr', GRUB.hybridMbr, '--protective-msdos-label', '-partition_cyl_align', 'off', '-partition_offset', '16',
  '--mbr-force-bootable', '-append_partition', '2', '0xef', 'ESP', '-appended_part_as_gpt', '-iso_mbr_part_type', 'a2a0d0ebe5b9334487c068b6b72699c7',
  '-c', 'boot.catalog', '-b', 'boot/grub/i386-pc/eltorito.img', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info',
  '-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::', '-no-emul-boot']

/**
 * (b) As Ubuntu 22.04 and later build their ISOs (`xorriso -report_el_torito as_mkisofs` on them): GRUB
 * for BIOS too (eltorito.img from grub-mkimage, its core's LBA patched into boot_hybrid.img by
 * --grub2-boot-info), partition offset 16 (a second superblock and directory tree set for the partition),
 * the appended ESP in the GPT. Both GRUBs read the same /boot/grub/grub.cfg.
 */
export function ubuntuGrub (dir: string): BuiltImage {
  const token = 'isomount-ubuntu-grub'
  return once(dir, 'ubuntu-grub', recipeOf(UBUNTU_GRUB_FLAGS, grubConfig, buildEsp, GRUB_MODULES, token), work => {
    const tree = path.join(work, 'tree')
    grubTree(tree, token)
    fs.mkdirSync(path.join(tree, 'boot/grub/i386-pc'))
    // The BIOS core: cdboot.img + core.img (grub-mkimage -O i386-pc-eltorito), prefix /boot/grub on the boot device.
    run('grub-mkimage', ['-O', 'i386-pc-eltorito', '-p', '/boot/grub', '-o', path.join(tree, 'boot/grub/i386-pc/eltorito.img'), 'biosdisk', ...GRUB_MODULES])
    const esp = buildEsp(work)
    const file = path.join(work, 'ubuntu-grub.iso')
    xorriso(file, ['-r', '-J', '-V', 'ISOMOUNT_UBUNTU_GRUB', ...UBUNTU_GRUB_FLAGS.map(a => a === 'ESP' ? esp : a)], tree)
    const config = { path: '/boot/grub/grub.cfg', token }
    return {
      file,
      layout: 'GRUB boot_hybrid MBR (protective msdos label), partition offset 16, GPT with the ISO and an appended ESP, El Torito: GRUB eltorito.img (grub2-boot-info) + the appended partition',
      markers: { bios: { text: grubSays(token, 'pc'), config }, uefi: { text: grubSays(token, 'efi'), config } },
      modes: ALL_MODES,
      unsupported: [],
      espFile: 'BOOTX64.EFI'
    }
  })
}

/**
 * (c) grub-mkrescue (grub-pc-bin + grub-efi-amd64-bin installed: BIOS and EFI): its own MBR, GPT, APM and
 * HFS+ (it always asks xorriso for -hfsplus and APM), and an efi.img inside the ISO. Its EFI core finds
 * the ISO by `search --fs-uuid`, the volume's modification date (grub-mkrescue.c): an edit that changes
 * that date loses the EFI boot.
 */
export function grubMkrescue (dir: string): BuiltImage {
  const token = 'isomount-mkrescue'
  return once(dir, 'grub-mkrescue', recipeOf(grubConfig, token, 'locales fonts themes none'), work => {
    const tree = path.join(work, 'tree')
    grubTree(tree, token)
    const file = path.join(work, 'grub-mkrescue.iso')
    // No locales, fonts or themes: a 10 MB image instead of 20, the same layout.
    run('grub-mkrescue', ['--locales=', '--fonts=', '--themes=', '-o', file, tree, '--', '-volid', 'ISOMOUNT_RESCUE'])
    const config = { path: '/boot/grub/grub.cfg', token }
    return {
      file,
      layout: 'grub-mkrescue: GRUB MBR (protective msdos label type 0xcd), GPT, APM, HFS+, El Torito GRUB eltorito.img + /efi.img (also a GPT ESP)',
      markers: { bios: { text: grubSays(token, 'pc'), config }, uefi: { text: grubSays(token, 'efi'), config } },
      modes: ALL_MODES,
      unsupported: [],
      espFile: 'BOOTX64.EFI'
    }
  })
}

const ISOHYBRID_FLAGS = ['-isohybrid-mbr', ISOLINUX.mbr, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-boot-load-size', '4',
  '-boot-info-table', '-no-emul-boot']
/** debian-cd's flags for Debian 8 to 10 (and the isolinux side of later ones): the EFI image is a file in the ISO. */
const ISOHYBRID_EFI_FLAGS = [...ISOHYBRID_FLAGS, '-eltorito-alt-boot', '-e', 'boot/grub/efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat', '-isohybrid-apm-hfsplus']

/** (d) An isolinux isohybrid: BIOS only (no EFI boot image, so nothing for UEFI to start). */
export function isolinuxHybrid (dir: string): BuiltImage {
  const token = 'isomount-isohybrid'
  return once(dir, 'isolinux-hybrid', recipeOf(ISOHYBRID_FLAGS, isolinuxConfig, token), work => {
    const tree = path.join(work, 'tree')
    writeIsolinuxTree(tree, token)
    const file = path.join(work, 'isolinux-hybrid.iso')
    xorriso(file, ['-r', '-J', '-V', 'ISOMOUNT_ISOHYBRID', ...ISOHYBRID_FLAGS], tree)
    return {
      file,
      layout: 'isolinux + isohdpfx MBR (one partition: the image), no EFI',
      markers: { bios: { text: `Loading /${token}`, config: { path: '/isolinux/isolinux.cfg', token } } },
      modes: BIOS_ONLY,
      unsupported: ALL_MODES.filter(m => m.firmware === 'uefi').map(m => ({ ...m, why: 'no EFI boot image: isolinux boots BIOS only' }))
    }
  })
}

/** (d') An isolinux isohybrid with an EFI image inside the ISO, marked in MBR, GPT and APM, as debian-cd made them. */
export function isolinuxHybridEfi (dir: string): BuiltImage {
  const bios = 'isomount-isohybrid-bios'
  const efi = 'isomount-isohybrid-efi'
  return once(dir, 'isolinux-hybrid-efi', recipeOf(ISOHYBRID_EFI_FLAGS, isolinuxConfig, grubConfig, buildEsp, bios, efi), work => {
    const tree = path.join(work, 'tree')
    writeIsolinuxTree(tree, bios)
    grubTree(tree, efi)
    fs.renameSync(buildEsp(work), path.join(tree, 'boot/grub/efi.img'))
    const file = path.join(work, 'isolinux-hybrid-efi.iso')
    xorriso(file, ['-r', '-J', '-joliet-long', '-V', 'ISOMOUNT_ISOHYBRID_EFI', ...ISOHYBRID_EFI_FLAGS], tree)
    return {
      file,
      layout: 'isolinux + isohdpfx MBR (the image + the EFI image as 0xef), GPT and APM naming /boot/grub/efi.img inside the ISO',
      markers: {
        bios: { text: `Loading /${bios}`, config: { path: '/isolinux/isolinux.cfg', token: bios } },
        uefi: { text: grubSays(efi, 'efi'), config: { path: '/boot/grub/grub.cfg', token: efi } }
      },
      modes: ALL_MODES,
      unsupported: [],
      espFile: 'BOOTX64.EFI'
    }
  })
}

const FLOPPY_EFI_FLAGS = ['-G', SYSLINUX_MBR, '-append_partition', '2', '0xef', 'ESP', '-c', 'boot/boot.cat', '-b', 'boot/floppy.img',
  '-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::', '-no-emul-boot']

/**
 * (e) Issue 10's third image: a floppy-emulation BIOS entry (a syslinux FAT floppy, a file of the ISO), an
 * EFI image beyond the volume's end (an appended partition the El Torito EFI entry names by its blocks),
 * and MBR partitions for both: xorriso lists the appended ESP as partition 2, and sfdisk (util-linux)
 * then points partition 1, active, at the floppy's blocks. The MBR code is syslinux's mbr.bin, which boots
 * the active partition: the floppy, whose syslinux finds itself through the partition offset mbr.bin
 * hands over. (memtest86+'s ISOs have the same three things, with the floppy as partition 1 covering the
 * whole ISO instead.)
 */
export function floppyAndEfiBeyond (dir: string): BuiltImage {
  const bios = 'isomount-floppy'
  const efi = 'isomount-beyond-efi'
  return once(dir, 'floppy-efi-beyond', recipeOf(FLOPPY_EFI_FLAGS, isolinuxConfig, grubConfig, buildEsp, buildFloppy, bios, efi), work => {
    const tree = path.join(work, 'tree')
    grubTree(tree, efi)
    fs.renameSync(buildFloppy(work, bios), path.join(tree, 'boot/floppy.img'))
    const esp = buildEsp(work)
    const file = path.join(work, 'floppy-efi-beyond.iso')
    xorriso(file, ['-r', '-J', '-V', 'ISOMOUNT_FLOPPY', ...FLOPPY_EFI_FLAGS.map(a => a === 'ESP' ? esp : a)], tree)
    const lba = floppyLba(file)
    const before = fs.readFileSync(file)
    run('sfdisk', ['-N', '1', '--wipe', 'never', '--no-reread', '--no-tell-kernel', '-q', file], { input: `${lba * 4},2880,1,*\n` })
    const after = fs.readFileSync(file)
    // sfdisk must have changed partition entry 1 and nothing else (no signature wiped, no boot code touched).
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== before[i] && (i < 446 || i >= 462)) throw new Error(`sfdisk changed byte ${i} of ${file}`)
    }
    return {
      file,
      layout: 'syslinux mbr.bin; MBR 1 (active, 0x01) = /boot/floppy.img inside the volume, MBR 2 (0xef) = ESP appended after the volume; El Torito: 1.44 MB floppy emulation + EFI = the appended partition',
      markers: {
        bios: { text: `Loading /${bios}`, config: { path: '/boot/floppy.img', inFat: '/syslinux.cfg', token: bios } },
        uefi: { text: grubSays(efi, 'efi'), config: { path: '/boot/grub/grub.cfg', token: efi } }
      },
      modes: ALL_MODES,
      unsupported: [],
      espFile: 'BOOTX64.EFI'
    }
  })
}

/** The floppy's 2048-byte block, from xorriso's own report. */
function floppyLba (iso: string): number {
  const report = run('xorriso', ['-indev', iso, '-find', '/boot/floppy.img', '-exec', 'report_lba', '--'])
  const m = /File data lba:\s*\d+\s*,\s*(\d+)\s*,/.exec(report.stdout + report.stderr)
  if (m === null) throw new Error(`no LBA for /boot/floppy.img in ${report.stdout}${report.stderr}`)
  return Number(m[1])
}

// ---------------------------------------------------------------------------------------------------------
// Real images shipped in Debian packages: copied (never edited where the package put them).

function copied (dir: string, name: string, source: string, rest: Omit<BuiltImage, 'name' | 'path'>): BuiltImage {
  return once(dir, name, recipeOf(rest, fs.statSync(source).size, fs.statSync(source).mtimeMs), work => {
    const file = path.join(work, path.basename(source))
    fs.copyFileSync(source, file)
    return { file, ...rest }
  })
}

/**
 * ipxe's ipxe.iso (package ipxe): isolinux + isohdpfx (one MBR partition, type 0x17) and /efi.img for
 * UEFI with no partition for it. BIOS: isolinux prints its config's SAY line through the BIOS (SeaBIOS's
 * serial copy of the console shows it), then iPXE starts. UEFI: OVMF puts the console on the serial line.
 * UEFI as a disk boots too, though no partition names the EFI image: OVMF reads El Torito on hard disks.
 */
export function ipxeIso (dir: string): BuiltImage {
  return copied(dir, 'ipxe', DEBIAN_IMAGES.ipxe, {
    layout: 'isolinux + isohdpfx MBR (one partition 0x17: the image), El Torito: isolinux.bin + /efi.img (no partition for it)',
    markers: {
      bios: { text: 'iPXE ISO boot image', config: { path: '/isolinux.cfg', token: 'iPXE ISO boot image' } },
      uefi: { text: 'iPXE initialising devices' }
    },
    modes: ALL_MODES,
    unsupported: []
  })
}

/**
 * grub-rescue-pc's grub-rescue-cdrom.iso: GRUB for BIOS only (no EFI entry). GRUB draws its menu through
 * the BIOS: the menu of its sample /boot/grub/grub.cfg shows on SeaBIOS's serial copy of the console.
 */
export function grubRescueIso (dir: string): BuiltImage {
  return copied(dir, 'grub-rescue', DEBIAN_IMAGES.grubRescue, {
    layout: 'GRUB MBR, protective msdos label (one partition 0xcd from block 1), El Torito: GRUB eltorito.img only',
    markers: { bios: { text: 'Change the colors', config: { path: '/boot/grub/grub.cfg', token: 'Change the colors' } } },
    modes: BIOS_ONLY,
    unsupported: ALL_MODES.filter(m => m.firmware === 'uefi').map(m => ({ ...m, why: 'grub-rescue-pc is GRUB for BIOS (i386-pc) only: no EFI entry' }))
  })
}

/**
 * memtest86+'s ISOs (package memtest86+): a floppy-emulation BIOS entry, an ESP appended after the volume
 * (MBR partition 2, 0xef; the El Torito EFI entry names its blocks), MBR partition 1 the ISO. memtest86+
 * prints nothing on the serial line unless told on its command line, which these boots have none of: its
 * title is read from the screen (VGA text memory under BIOS, its shadow of the framebuffer under UEFI).
 */
export function memtestIso (dir: string, arch: 'x64' | 'ia32' = 'x64'): BuiltImage {
  return copied(dir, `memtest86+${arch}`, MEMTEST[arch], {
    layout: 'memtest86+: MBR 1 (active, 0x00) = the image, MBR 2 (0xef) = ESP appended after the volume; El Torito: floppy emulation /boot/floppy.img + EFI = the appended partition',
    markers: arch === 'x64'
      ? { bios: { text: 'Memtest86+ v', screen: true }, uefi: { text: 'Memtest86+ v', screen: true } }
      : { bios: { text: 'Memtest86+ v', screen: true } },
    espFile: arch === 'x64' ? 'BOOTX64.EFI' : 'BOOTIA32.EFI',
    modes: arch === 'x64' ? ALL_MODES : BIOS_ONLY,
    unsupported: arch === 'x64' ? [] : ALL_MODES.filter(m => m.firmware === 'uefi').map(m => ({ ...m, why: 'its EFI program is 32-bit (BOOTIA32.EFI); OVMF_CODE.fd is x86_64 firmware' }))
  })
}

/**
 * Edits a file inside a FAT image with mtools (mtype, then mcopy -o): how a test changes the config of a
 * boot floppy (`Marker.config.inFat`) it copied out of a mount, before copying the floppy back.
 */
export function editFatFile (fatImage: string, inFat: string, edit: (text: string) => string): void {
  const text = run('mtype', ['-i', fatImage, `::${inFat}`]).stdout
  const temporary = `${fatImage}.edit-${process.pid}`
  fs.writeFileSync(temporary, edit(text))
  try {
    run('mcopy', ['-o', '-i', fatImage, temporary, `::${inFat}`])
  } finally {
    fs.rmSync(temporary, { force: true })
  }
}

const ESP_TYPES = new Set(['EF', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'])

/**
 * The EFI System Partitions the image's partition table names, as util-linux's sfdisk reads the table (the
 * GPT when there is a valid one, else the MBR), each with the directory EFI/BOOT of the FAT there as
 * mtools lists it (`mdir -i image@@offset`): independent readers of what a firmware booting the disk finds.
 */
export function espPartitions (image: string): Array<{ label: string, start: number, sectors: number, efiBoot: string }> {
  const table = JSON.parse(run('sfdisk', ['--json', image]).stdout) as { partitiontable: { label: string, partitions: Array<{ start: number, size: number, type: string }> } }
  return table.partitiontable.partitions.filter(p => ESP_TYPES.has(p.type.toUpperCase())).map(p => ({
    label: table.partitiontable.label,
    start: p.start,
    sectors: p.size,
    efiBoot: run('mdir', ['-b', '-i', `${image}@@${p.start * 512}`, '::/EFI/BOOT'], { allowFailure: true }).stdout
  }))
}

/** Every image of issue 10, built (or copied) into `dir`. */
export function allBootImages (dir: string): BuiltImage[] {
  return [ubuntuIsolinux(dir), ubuntuGrub(dir), grubMkrescue(dir), isolinuxHybrid(dir), isolinuxHybridEfi(dir), floppyAndEfiBeyond(dir),
    ipxeIso(dir), grubRescueIso(dir), memtestIso(dir, 'x64'), memtestIso(dir, 'ia32')]
}
