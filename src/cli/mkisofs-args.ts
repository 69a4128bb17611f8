import { InvalidInputError } from '../errors'

/*
 * genisoimage's command line (and the xorriso -as mkisofs flags people use with it): single-dash long
 * options, some with an argument, boot options that apply to the boot entry named last. An option we do
 * not implement is an error naming it, never silently ignored.
 */

export interface BootEntryArgs {
  image: string
  platform: 'x86' | 'efi' | 'ppc' | 'mac'
  emulation?: 'none' | 'hard-disk'
  noBoot: boolean
  loadSize?: number
  loadSegment?: number
  bootInfoTable: boolean
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
  help: boolean
  paths: string[]
}

type Handler = (args: MkisofsArgs, value: string) => void

const flags = new Map<string, { takesValue: boolean, apply: Handler }>()
function flag (names: string[], apply: (args: MkisofsArgs) => void): void {
  for (const name of names) flags.set(name, { takesValue: false, apply: args => apply(args) })
}
function option (names: string[], apply: Handler): void {
  for (const name of names) flags.set(name, { takesValue: true, apply })
}

function currentBoot (args: MkisofsArgs, option: string): BootEntryArgs {
  const boot = args.boots[args.boots.length - 1]
  if (boot === undefined) throw new InvalidInputError('BAD_ARGUMENT', `${option} needs a boot image first (-b or -e)`)
  return boot
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
/** -b and -e fill the entry -eltorito-alt-boot opened, or open one. */
function startEntry (args: MkisofsArgs, image: string, platform?: BootEntryArgs['platform']): BootEntryArgs {
  let entry = args.boots[args.boots.length - 1]
  if (entry === undefined || entry.image !== '') {
    entry = { image: '', platform: 'x86', noBoot: false, bootInfoTable: false }
    args.boots.push(entry)
  }
  entry.image = image
  if (platform !== undefined) entry.platform = platform
  return entry
}

option(['-b', '-eltorito-boot'], (a, v) => { startEntry(a, v) })
// xorriso: -e names the EFI boot image, a no-emulation image of platform 0xEF.
option(['-e', '-efi-boot'], (a, v) => { startEntry(a, v, 'efi').emulation = 'none' })
option(['-c', '-eltorito-catalog'], (a, v) => { a.catalog = v })
flag(['-no-emul-boot'], a => { currentBoot(a, '-no-emul-boot').emulation = 'none' })
flag(['-hard-disk-boot'], a => { currentBoot(a, '-hard-disk-boot').emulation = 'hard-disk' })
flag(['-no-boot'], a => { currentBoot(a, '-no-boot').noBoot = true })
option(['-boot-load-size'], (a, v) => { currentBoot(a, '-boot-load-size').loadSize = integer(v, '-boot-load-size', 1, 65535) })
option(['-boot-load-seg'], (a, v) => { currentBoot(a, '-boot-load-seg').loadSegment = integer(v, '-boot-load-seg', 0, 65535) })
flag(['-boot-info-table'], a => { currentBoot(a, '-boot-info-table').bootInfoTable = true })
flag(['-eltorito-alt-boot'], a => {
  // The next -b/-e fills this entry; an -eltorito-platform in between applies to it.
  a.boots.push({ image: '', platform: 'x86', noBoot: false, bootInfoTable: false })
})
option(['-eltorito-platform'], (a, v) => {
  const platform = ({ x86: 'x86', '0': 'x86', efi: 'efi', '0xef': 'efi', ppc: 'ppc', powerpc: 'ppc', '1': 'ppc', mac: 'mac', '2': 'mac' } as const)[v.toLowerCase() as 'x86']
  if (platform === undefined) throw new InvalidInputError('BAD_ARGUMENT', `-eltorito-platform: unknown platform "${v}" (x86, efi, ppc, mac)`)
  currentBoot(a, '-eltorito-platform').platform = platform
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
flag(['-isohybrid-gpt-basdat'], a => { a.isohybridGpt = true })
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
    help: false,
    paths: []
  }
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
    if (spec.takesValue) {
      const value = inlineValue ?? argv[i++]
      if (value === undefined) throw new InvalidInputError('BAD_ARGUMENT', `${name} needs a value`)
      spec.apply(args, value)
    } else {
      if (inlineValue !== undefined) throw new InvalidInputError('BAD_ARGUMENT', `${name} takes no value`)
      spec.apply(args, '')
    }
  }
  args.boots = args.boots.filter(b => b.image !== '')
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
  -b FILE                 El Torito boot image (path in the image); -c FILE  boot catalog path
  -no-emul-boot | -hard-disk-boot   emulation of the current boot image (default: floppy)
  -no-boot  -boot-load-size N  -boot-load-seg N  -boot-info-table
  -eltorito-alt-boot      start another boot entry;  -e FILE  EFI boot image;  -eltorito-platform P
  -isohybrid-mbr FILE     isohybrid MBR (syslinux isohdpfx.bin);  -isohybrid-gpt-basdat  add a GPT
  -hide GLOB  -hide-joliet GLOB  -hidden GLOB  -m GLOB  -x PATH  -exclude-list FILE
  -graft-points           PATH arguments may be IMAGEPATH=HOSTPATH;  -path-list FILE
  -input-charset UTF-8    -quiet  -v  -print-size  -pad | -no-pad
`
