import { InvalidInputError } from '../errors'
import { Platform } from '../iso/codec/el-torito'

/*
 * genisoimage's command line (and the xorriso -as mkisofs flags people use with it): single-dash long
 * options, some with an argument, boot options that apply to the boot entry named last. An option we do
 * not implement is an error naming it, never silently ignored.
 */

/** One El Torito catalog entry as the command line describes it. */
export interface BootEntryArgs {
  image: string
  /** El Torito platform id (0 x86, 1 PowerPC, 2 Mac, 0xEF EFI, or any 0-255 xorriso accepts). */
  platform: number
  /** Unset: a 1.44 MB floppy, the default of genisoimage and xorriso alike (for -e too). */
  emulation?: 'none' | 'hard-disk'
  noBoot: boolean
  loadSize?: number
  loadSegment?: number
  bootInfoTable: boolean
  /** -isohybrid-gpt-basdat was given for this entry: it becomes a GPT (and MBR) partition. */
  gpt: boolean
  /** --grub2-boot-info for this entry: GRUB's core image gets its own address at byte 2548. */
  grub2BootInfo: boolean
  /** -isohybrid-apm-hfsplus was given for this entry: it becomes an Apple Partition Map partition. */
  apm: boolean
}

export interface MkisofsArgs {
  output?: string
  rockRidge: boolean
  rationalRock: boolean
  rockRidgeVersion: '1.09' | '1.10' | '1.12'
  joliet: boolean
  jolietLong: boolean
  level: 1 | 2 | 3 | 4
  volumeId?: string
  systemId?: string
  applicationId?: string
  preparerId?: string
  publisherId?: string
  volumeSetId?: string
  volumeSetSize?: number
  volumeSetSequence?: number
  copyright?: string
  abstract?: string
  bibliographic?: string
  catalog?: string
  boots: BootEntryArgs[]
  hide: string[]
  hideJoliet: string[]
  hidden: string[]
  exclude: string[]
  excludePaths: string[]
  excludeLists: string[]
  graftPoints: boolean
  pathLists: string[]
  quiet: boolean
  verbose: boolean
  printSize: boolean
  pad: boolean
  isohybridMbr?: string
  isohybridGpt: boolean
  /** --grub2-mbr: GRUB's boot_hybrid.img (a path or an --interval: reader string). */
  grub2Mbr?: string
  protectiveMsdosLabel: boolean
  /** -append_partition N TYPE FILE, in the order given. */
  appended: Array<{ number: number, type: string, file: string }>
  appendedAsGpt: boolean
  /** -partition_offset, in 2 KiB sectors. */
  partitionOffset?: number
  /** -iso_mbr_part_type: "default", an MBR type number, or a GPT type GUID. */
  isoMbrPartType?: string
  mbrForceBootable: boolean
  /** -partition_cyl_align: pad the image to whole 1 MiB cylinders (on), never (off), or as isohybrid wants (auto). */
  cylinderAlign: 'auto' | 'on' | 'off'
  help: boolean
  paths: string[]
}

/**
 * El Torito options as genisoimage and xorriso -as mkisofs collect them: every boot option (before or
 * after -b) goes into the entry being described; -eltorito-alt-boot closes it (one without a boot image
 * is no entry: its options carry on to the next, as xorriso's Xorriso_attach_boot_image does nothing
 * then); the end of the command line closes the last. -b or -e given twice in one entry replace its
 * image. The platform -b records is the one -eltorito-platform set last, which stays in force for every
 * later -b (xorriso's mkisofs_b_platform_id; schily mkisofs inherits the previous entry's); -e is EFI.
 */
interface BootState {
  entry: BootEntryArgs
  platform: number
}

type Handler = (args: MkisofsArgs, value: string, boot: BootState, more: string[]) => void

/** Each option: how many values it takes (0 for a flag) and what it does with them. */
const flags = new Map<string, { values: number, apply: Handler }>()
function flag (names: string[], apply: (args: MkisofsArgs, boot: BootState) => void): void {
  for (const name of names) flags.set(name, { values: 0, apply: (args, _value, boot) => apply(args, boot) })
}
function option (names: string[], apply: Handler, values = 1): void {
  for (const name of names) flags.set(name, { values, apply })
}

function newEntry (): BootEntryArgs {
  return { image: '', platform: Platform.X86, noBoot: false, bootInfoTable: false, gpt: false, grub2BootInfo: false, apm: false }
}

/** -eltorito-alt-boot, or a platform change after a boot image: the entry is complete. */
function closeEntry (args: MkisofsArgs, boot: BootState): void {
  if (boot.entry.image === '') return
  args.boots.push(boot.entry)
  boot.entry = newEntry()
}

/** xorriso's platform names (case as it takes them: "PPC", "Mac") and numbers 0-255, decimal or 0x. */
const PLATFORM_NAMES: Record<string, number> = { x86: Platform.X86, PPC: Platform.POWERPC, Mac: Platform.MAC, efi: Platform.EFI }

function platformOf (value: string): number {
  const named = PLATFORM_NAMES[value]
  if (named !== undefined) return named
  if (/^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(value)) {
    const n = Number(value)
    if (n <= 0xff) return n
  }
  throw new InvalidInputError('BAD_ARGUMENT', `-eltorito-platform: "${value}" is not x86, PPC, Mac, efi or a number from 0 to 255 (0x00 to 0xff)`)
}

function integer (value: string, option: string, min: number, max: number): number {
  const n = /^0x[0-9a-f]+$/i.test(value) ? parseInt(value, 16) : /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidInputError('BAD_ARGUMENT', `${option}: "${value}" is not a number from ${min} to ${max}`)
  return n
}

flag(['-R', '-rock'], a => { a.rockRidge = true })
flag(['-r', '-rational-rock'], a => { a.rockRidge = true; a.rationalRock = true })
flag(['-rrip110'], a => { a.rockRidgeVersion = '1.10' })
flag(['-rrip112'], a => { a.rockRidgeVersion = '1.12' })
flag(['-J', '-joliet'], a => { a.joliet = true })
flag(['-joliet-long'], a => { a.joliet = true; a.jolietLong = true })
option(['-iso-level'], (a, v) => { a.level = integer(v, '-iso-level', 1, 4) as 1 | 2 | 3 | 4 })
option(['-o', '-output'], (a, v) => { a.output = v })
option(['-V', '-volid'], (a, v) => { a.volumeId = v })
option(['-sysid'], (a, v) => { a.systemId = v })
option(['-A', '-appid'], (a, v) => { a.applicationId = v })
option(['-p', '-preparer'], (a, v) => { a.preparerId = v })
option(['-P', '-publisher'], (a, v) => { a.publisherId = v })
option(['-volset'], (a, v) => { a.volumeSetId = v })
option(['-volset-size'], (a, v) => { a.volumeSetSize = integer(v, '-volset-size', 1, 65535) })
option(['-volset-seqno'], (a, v) => { a.volumeSetSequence = integer(v, '-volset-seqno', 1, 65535) })
option(['-copyright'], (a, v) => { a.copyright = v })
option(['-abstract'], (a, v) => { a.abstract = v })
option(['-biblio'], (a, v) => { a.bibliographic = v })
option(['-b', '-eltorito-boot'], (_a, v, b) => { b.entry.image = v; b.entry.platform = b.platform })
// xorriso: -e names the EFI boot image (platform 0xEF); it emulates a floppy unless -no-emul-boot follows.
option(['-e', '-efi-boot'], (_a, v, b) => { b.entry.image = v; b.entry.platform = Platform.EFI })
option(['-c', '-eltorito-catalog'], (a, v) => { a.catalog = v })
flag(['-no-emul-boot'], (_a, b) => { b.entry.emulation = 'none' })
flag(['-hard-disk-boot'], (_a, b) => { b.entry.emulation = 'hard-disk' })
flag(['-no-boot'], (_a, b) => { b.entry.noBoot = true })
option(['-boot-load-size'], (_a, v, b) => {
  // xorriso: "full" asks for the default, the whole file.
  b.entry.loadSize = v === 'full' ? undefined : integer(v, '-boot-load-size', 1, 65535)
})
option(['-boot-load-seg'], (_a, v, b) => { b.entry.loadSegment = integer(v, '-boot-load-seg', 0, 65535) })
flag(['-boot-info-table'], (_a, b) => { b.entry.bootInfoTable = true })
flag(['-eltorito-alt-boot'], closeEntry)
option(['-eltorito-platform'], (a, v, b) => {
  const platform = platformOf(v)
  // xorrisofs(1): "If the new platform id differs from the previous one, -eltorito-alt-boot gets performed."
  if (platform !== b.platform) closeEntry(a, b)
  b.platform = platform
})
option(['-hide'], (a, v) => { a.hide.push(v) })
option(['-hide-joliet'], (a, v) => { a.hideJoliet.push(v) })
option(['-hidden'], (a, v) => { a.hidden.push(v) })
option(['-m', '-exclude'], (a, v) => { a.exclude.push(v) })
option(['-x'], (a, v) => { a.excludePaths.push(v) })
option(['-exclude-list'], (a, v) => { a.excludeLists.push(v) })
flag(['-graft-points'], a => { a.graftPoints = true })
option(['-path-list'], (a, v) => { a.pathLists.push(v) })
option(['-input-charset'], (_a, v) => {
  if (!/^(utf-?8|default)$/i.test(v)) throw new InvalidInputError('BAD_ARGUMENT', `-input-charset ${v}: only UTF-8 file names are supported`)
})
flag(['-quiet'], a => { a.quiet = true })
flag(['-v', '-verbose'], a => { a.verbose = true })
flag(['-print-size'], a => { a.printSize = true })
flag(['-pad'], a => { a.pad = true })
flag(['-no-pad'], a => { a.pad = false })
option(['-isohybrid-mbr'], (a, v) => { a.isohybridMbr = v })
// xorrisofs(1): "Mark the current El Torito boot image (see options -b and -e) in an actually invalid GPT
// as partition of type Basic Data."
flag(['-isohybrid-gpt-basdat'], (a, b) => { a.isohybridGpt = true; b.entry.gpt = true })
flag(['-isohybrid-apm-hfsplus'], (_a, b) => { b.entry.apm = true })
// xorriso -as mkisofs's system-area options (xorrisofs(1)), which distribution build scripts use.
option(['--grub2-mbr'], (a, v) => { a.grub2Mbr = v })
flag(['--grub2-boot-info'], (_a, b) => { b.entry.grub2BootInfo = true })
flag(['--protective-msdos-label'], a => { a.protectiveMsdosLabel = true })
option(['-append_partition'], (a, value, _b, [type, file]) => {
  const number = integer(value, '-append_partition', 1, 4)
  // Given twice for one number, the last one counts.
  a.appended = [...a.appended.filter(p => p.number !== number), { number, type, file }]
}, 3)
flag(['-appended_part_as_gpt'], a => { a.appendedAsGpt = true })
flag(['-appended_part_as_apm'], () => {
  throw new InvalidInputError('UNSUPPORTED', '-appended_part_as_apm is not supported (appended partitions go into the MBR, or the GPT with -appended_part_as_gpt)')
})
option(['-partition_offset'], (a, v) => {
  const offset = integer(v, '-partition_offset', 0, 0xffffff)
  if (offset !== 0 && offset < 16) throw new InvalidInputError('BAD_ARGUMENT', '-partition_offset: a non-zero offset must be at least 16 (xorrisofs(1))')
  a.partitionOffset = offset === 0 ? undefined : offset
})
option(['-iso_mbr_part_type'], (a, v) => { a.isoMbrPartType = v })
flag(['--mbr-force-bootable'], a => { a.mbrForceBootable = true })
option(['-partition_cyl_align'], (a, v) => {
  // "all" also pads appended partitions to whole cylinders; here it aligns the image as "on" does.
  if (!['auto', 'on', 'off', 'all'].includes(v)) throw new InvalidInputError('BAD_ARGUMENT', `-partition_cyl_align: "${v}" is not auto, on, off or all`)
  a.cylinderAlign = v === 'all' ? 'on' : v as MkisofsArgs['cylinderAlign']
})
flag(['-help', '--help', '-h'], a => { a.help = true })

export function parseMkisofsArgs (argv: readonly string[]): MkisofsArgs {
  const args: MkisofsArgs = {
    rockRidge: false,
    rationalRock: false,
    rockRidgeVersion: '1.09',
    joliet: false,
    jolietLong: false,
    level: 1,
    boots: [],
    hide: [],
    hideJoliet: [],
    hidden: [],
    exclude: [],
    excludePaths: [],
    excludeLists: [],
    graftPoints: false,
    pathLists: [],
    quiet: false,
    verbose: false,
    printSize: false,
    pad: true,
    isohybridGpt: false,
    protectiveMsdosLabel: false,
    appended: [],
    appendedAsGpt: false,
    mbrForceBootable: false,
    cylinderAlign: 'auto',
    help: false,
    paths: []
  }
  const boot: BootState = { entry: newEntry(), platform: Platform.X86 }
  let i = 0
  while (i < argv.length) {
    const arg = argv[i++]
    if (arg === '--') {
      args.paths.push(...argv.slice(i))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      args.paths.push(arg)
      continue
    }
    // genisoimage also accepts "--flag" for "-flag", and "-flag=value".
    const [rawName, inlineValue] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const name = rawName.startsWith('--') && !flags.has(rawName) ? rawName.slice(1) : rawName
    const spec = flags.get(name)
    if (spec === undefined) throw new InvalidInputError('BAD_ARGUMENT', `unsupported option ${arg} (see isotool mkisofs -help)`)
    if (spec.values > 0) {
      const value = inlineValue ?? argv[i++]
      const more = argv.slice(i, i + spec.values - 1)
      i += more.length
      if (value === undefined || more.length < spec.values - 1) throw new InvalidInputError('BAD_ARGUMENT', `${name} needs ${spec.values === 1 ? 'a value' : `${spec.values} values`}`)
      spec.apply(args, value, boot, more)
    } else {
      if (inlineValue !== undefined) throw new InvalidInputError('BAD_ARGUMENT', `${name} takes no value`)
      spec.apply(args, '', boot, [])
    }
  }
  closeEntry(args, boot)
  return args
}

export const MKISOFS_HELP = `Usage: isotool mkisofs [options] -o OUTPUT PATH...
Masters an ISO9660 image from host files, with genisoimage's options:
  -o FILE                 output (without it the image goes to standard output)
  -R | -rock              Rock Ridge (modes, owners, times, symlinks, long names)
  -r | -rational-rock     Rock Ridge with sane permissions (owner 0, readable, not writable)
  -rrip110 | -rrip112     Rock Ridge 1.10 / 1.12 instead of 1.09
  -J | -joliet            Joliet (level 3)            -joliet-long   103-character Joliet names
  -iso-level N            interchange level 1-4 (default 1; 4 is ISO 9660:1999)
  -V -sysid -A -p -P -volset ID, -volset-size N, -volset-seqno N, -copyright -abstract -biblio FILE
  -b FILE                 El Torito boot image (path in the image); -c FILE  catalog (default boot.catalog)
  -no-emul-boot | -hard-disk-boot   emulation of the current boot image (default: floppy)
  -no-boot  -boot-load-size N  -boot-load-seg N  -boot-info-table
  -eltorito-alt-boot      start another boot entry;  -e FILE  EFI boot image
  -eltorito-platform x86|PPC|Mac|efi|0-255   platform of the next -b (boot options may come before -b)
  -isohybrid-mbr FILE     isohybrid MBR (syslinux isohdpfx.bin);  -isohybrid-gpt-basdat  add a GPT
  -isohybrid-apm-hfsplus  mark the current boot image in an Apple Partition Map (old Macs)
  --grub2-mbr FILE        GRUB's boot_hybrid.img as MBR;  --grub2-boot-info  patch GRUB's core image
  --protective-msdos-label  an MBR partition over the image from block 1;  --mbr-force-bootable
  -append_partition N TYPE FILE   FILE appended after the volume as partition N (TYPE 0xef, a GUID, …)
  -appended_part_as_gpt   appended partitions go into a GPT;  -iso_mbr_part_type TYPE|GUID
  -partition_offset N     a second descriptor set and trees from 2 KiB sector N (16), as xorriso writes
  -partition_cyl_align auto|on|off|all   pad the image to whole 1 MiB cylinders
  -e --interval:appended_partition_N:all::   an El Torito image that is appended partition N
  FILE arguments of these options may be --interval:local_fs:FROM-TO:ZEROIZERS:PATH (xorrisofs(1))
  -hide GLOB  -hide-joliet GLOB  -hidden GLOB  -m GLOB  -x PATH  -exclude-list FILE
  -graft-points           PATH arguments may be IMAGEPATH=HOSTPATH;  -path-list FILE
  -input-charset UTF-8    -quiet  -v  -print-size  -pad | -no-pad
`
