import { InvalidInputError } from '../errors'
import { Platform } from '../iso/codec/el-torito'
import type { IsoNameRules } from '../iso/naming/iso9660'
import { UDF_REVISIONS, type UdfRevisionText } from '../iso/write/udf/layout'

/*
 * genisoimage's command line (and the xorriso -as mkisofs flags people use with it): single-dash long
 * options, some with an argument, boot options that apply to the boot entry named last.
 *
 * One table, one line per option, in three kinds: options that work as genisoimage's do; options accepted
 * and ignored, each with a one-line note on stderr saying why (they change nothing that matters here,
 * or only what genisoimage itself ignores without another option); and options refused with the reason
 * (what they ask for is a structure isotool does not write, and an image without it would be wrong). An
 * option in none of them is an error naming it, never silently ignored.
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
  jolietLevel: 1 | 2 | 3
  level: 1 | 2 | 3 | 4
  /** -l, -d, -N, -U and the other relaxations of ISO9660 names. */
  isoNames: IsoNameRules
  /** -D: deep directories stay where they are. */
  keepDeepDirectories: boolean
  /** -hide-rr-moved: the relocation directory is .rr_moved in Rock Ridge. */
  hideRrMoved: boolean
  /** -XA / -xa: CD-ROM XA records, with the files' owners and modes or rationalized ones. */
  xa?: 'recorded' | 'rational'
  /** -udf (1.02, as genisoimage), -udf-rev REV: a UDF file system over the same files. */
  udf?: UdfRevisionText
  /** -udf-rev's revision, when given (-udf-metadata's default is 2.60, not -udf's 1.02). */
  udfRevision?: UdfRevisionText
  /** -udf-metadata: the UDF entries and directories in a metadata partition (UDF 2.50+, as on Blu-ray discs). */
  udfMetadata?: boolean
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
  /** xorriso --modification-date: the volume's creation and modification dates, ms since the epoch. */
  volumeDateMs?: number
  catalog?: string
  boots: BootEntryArgs[]
  hide: string[]
  hideJoliet: string[]
  hidden: string[]
  /** -hide-list, -hide-joliet-list, -hidden-list: files of globs, read when the image is made. */
  hideLists: string[]
  hideJolietLists: string[]
  hiddenLists: string[]
  exclude: string[]
  excludePaths: string[]
  excludeLists: string[]
  /** -no-bak: leave out editor backups (names with ~ or #, or ending in .bak). */
  noBackups: boolean
  /** -f: follow symbolic links. */
  followLinks: boolean
  /** -cache-inodes (the default) / -no-cache-inodes: whether hard links share one copy of the data. */
  hardLinks: boolean
  graftPoints: boolean
  /** -root DIR: every source goes below DIR in the image. */
  root?: string
  pathLists: string[]
  /** -uid, -gid, -file-mode, -dir-mode: what every entry records instead of what the host has. */
  uid?: number
  gid?: number
  fileMode?: number
  dirMode?: number
  /** -new-dir-mode: the mode of directories only a graft point names (default 0555). */
  newDirMode?: number
  /** -T / -table-name: the name of the translation table written in each directory. */
  translationTable?: string
  hideJolietTranslationTable: boolean
  quiet: boolean
  verbose: boolean
  printSize: boolean
  pad: boolean
  /** -split-output: the image in pieces of 1 GiB, OUTPUT_00, OUTPUT_01… */
  splitOutput: boolean
  /** -log-file: messages go to this file instead of stderr. */
  logFile?: string
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
  version: boolean
  paths: string[]
  /** One line for each option accepted and ignored: what, and why. */
  notes: string[]
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

type Handler = (args: MkisofsArgs, value: string, boot: BootState, more: string[], name: string) => void

export type OptionKind = 'works' | 'ignored' | 'refused'

/** Each option: how many values it takes (0 for a flag), whether it works, and what it does with them. */
const flags = new Map<string, { values: number, kind: OptionKind, apply: Handler }>()
/** An option without a value. */
function flag (names: string[], apply: (args: MkisofsArgs, boot: BootState) => void): void {
  for (const name of names) flags.set(name, { values: 0, kind: 'works', apply: (args, _value, boot) => apply(args, boot) })
}
/** An option with a value (the next argument, or after "="), or with `values` values (-append_partition). */
function option (names: string[], apply: Handler, values = 1): void {
  for (const name of names) flags.set(name, { values, kind: 'works', apply })
}
/** Accepted and ignored, with a note saying why. */
function ignored (names: string[], takesValue: boolean, why: string): void {
  for (const name of names) {
    flags.set(name, { values: takesValue ? 1 : 0, kind: 'ignored', apply: (args, _value, _boot, _more, given) => { args.notes.push(`${given} ignored: ${why}`) } })
  }
}
/** Refused, saying why: what it asks for would be missing from the image. */
function refused (names: string[], takesValue: boolean, why: string): void {
  for (const name of names) {
    flags.set(name, { values: takesValue ? 1 : 0, kind: 'refused', apply: (_args, _value, _boot, _more, given) => { throw new InvalidInputError('BAD_ARGUMENT', `${given}: ${why}`) } })
  }
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

/** chmod(1)'s octal modes, as -file-mode and -dir-mode take them ("0444", "555"). */
function octalMode (value: string, option: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) throw new InvalidInputError('BAD_ARGUMENT', `${option}: "${value}" is not an octal mode (as chmod takes, e.g. 0444)`)
  return parseInt(value, 8)
}

/** -input-charset and -output-charset: file names are taken and written as UTF-8, nothing else. */
function charset (value: string, option: string): void {
  if (!/^(utf-?8|default)$/i.test(value)) throw new InvalidInputError('BAD_ARGUMENT', `${option} ${value}: only UTF-8 file names are supported`)
}

/**
 * xorriso's --modification-date=YYYYMMDDhhmmsscc (GRUB's grub-mkrescue passes it): UTC, centiseconds
 * optional.
 */
function modificationDate (value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/.exec(value)
  const ms = m === null ? NaN : Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], m[7] !== undefined ? +m[7] * 10 : 0)
  if (Number.isNaN(ms)) throw new InvalidInputError('BAD_ARGUMENT', `--modification-date: "${value}" is not YYYYMMDDhhmmsscc`)
  return ms
}

// --- What works as genisoimage (and xorriso -as mkisofs) does ------------------------------------------

flag(['-R', '-rock'], a => { a.rockRidge = true })
flag(['-r', '-rational-rock'], a => { a.rockRidge = true; a.rationalRock = true })
flag(['-rrip110'], a => { a.rockRidgeVersion = '1.10' })
flag(['-rrip112'], a => { a.rockRidgeVersion = '1.12' })
flag(['-J', '-joliet'], a => { a.joliet = true })
flag(['-joliet-long'], a => { a.joliet = true; a.jolietLong = true })
option(['-jcharset'], (a, v, _b, _m, n) => { charset(v, n); a.joliet = true })
option(['-ucs-level'], (a, v, _b, _m, n) => { a.jolietLevel = integer(v, n, 1, 3) as 1 | 2 | 3 })
option(['-iso-level'], (a, v) => { a.level = integer(v, '-iso-level', 1, 4) as 1 | 2 | 3 | 4 })
flag(['-l', '-full-iso9660-filenames'], a => { a.isoNames.fullNames = true })
// genisoimage(1): "This option enables -N"; and full names, at every level.
flag(['-max-iso9660-filenames'], a => { Object.assign(a.isoNames, { maxLength: 37, omitVersion: true, fullNames: true }) })
flag(['-d', '-omit-period'], a => { a.isoNames.omitPeriod = true })
flag(['-N', '-omit-version-number'], a => { a.isoNames.omitVersion = true })
flag(['-allow-lowercase'], a => { a.isoNames.allowLowercase = true })
flag(['-relaxed-filenames'], a => { a.isoNames.relaxed = true })
flag(['-allow-leading-dots', '-ldots', '-L'], a => { a.isoNames.allowLeadingDots = true })
flag(['-allow-multidot'], a => { a.isoNames.allowMultidot = true })
flag(['-no-iso-translate'], a => { a.isoNames.keepDosCharacters = true })
// genisoimage(1): "-U ... Enables the following flags: -d -l -N -allow-leading-dots -relaxed-filenames
// -allow-lowercase -allow-multidot -no-iso-translate."
flag(['-U', '-untranslated-filenames'], a => {
  Object.assign(a.isoNames, {
    omitPeriod: true, fullNames: true, omitVersion: true, allowLeadingDots: true, relaxed: true, allowLowercase: true, allowMultidot: true, keepDosCharacters: true
  })
})
flag(['-D', '-disable-deep-relocation'], a => { a.keepDeepDirectories = true })
flag(['-hide-rr-moved'], a => { a.hideRrMoved = true })
flag(['-XA'], a => { a.xa = 'recorded' })
flag(['-udf'], a => { a.udf ??= '1.02' })
// Ours (genisoimage writes 1.02 only): the revision, which implies -udf, as -joliet-long implies -J.
option(['-udf-rev', '--udf-rev'], (a, v, _b, _m, n) => {
  if (!(v in UDF_REVISIONS)) throw new InvalidInputError('BAD_ARGUMENT', `${n}: UDF revision ${v} is not written (${Object.keys(UDF_REVISIONS).join(', ')})`)
  a.udf = a.udfRevision = v as UdfRevisionText
})
// Ours: a metadata partition, which implies -udf at 2.60 unless -udf-rev says another revision.
flag(['-udf-metadata', '--udf-metadata'], a => { a.udf ??= '2.60'; a.udfMetadata = true })
// genisoimage -xa rationalizes the Rock Ridge attributes as -r does, not only the XA records.
flag(['-xa'], a => { a.xa = 'rational'; a.rationalRock = true })
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
// xorrisofs(1): "overrides ISO image creation and modification timestamps literally".
option(['--modification-date'], (a, v) => { a.volumeDateMs = modificationDate(v) })
option(['-b', '-eltorito-boot'], (_a, v, b) => { b.entry.image = v; b.entry.platform = b.platform })
// xorriso: -e names the EFI boot image (platform 0xEF); it emulates a floppy unless -no-emul-boot follows.
option(['-e', '-efi-boot'], (_a, v, b) => { b.entry.image = v; b.entry.platform = Platform.EFI })
// xorrisofs(1): "--efi-boot file: Set parameters for the alternative EFI boot image ... equivalent to
// -eltorito-alt-boot -e file -no-emul-boot -eltorito-alt-boot" (hence not "-efi-boot", its own entry).
option(['--efi-boot'], (a, v, b) => {
  closeEntry(a, b)
  Object.assign(b.entry, { image: v, platform: Platform.EFI, emulation: 'none' })
  closeEntry(a, b)
})
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
option(['-isohybrid-mbr'], (a, v) => { a.isohybridMbr = v })
// xorrisofs(1): "Mark the current El Torito boot image (see options -b and -e) in an actually invalid GPT
// as partition of type Basic Data."
flag(['-isohybrid-gpt-basdat'], (a, b) => { a.isohybridGpt = true; b.entry.gpt = true })
flag(['-isohybrid-apm-hfsplus'], (_a, b) => { b.entry.apm = true })
option(['-hide'], (a, v) => { a.hide.push(v) })
option(['-hide-list'], (a, v) => { a.hideLists.push(v) })
option(['-hide-joliet'], (a, v) => { a.hideJoliet.push(v) })
option(['-hide-joliet-list'], (a, v) => { a.hideJolietLists.push(v) })
option(['-hidden'], (a, v) => { a.hidden.push(v) })
option(['-hidden-list'], (a, v) => { a.hiddenLists.push(v) })
option(['-m', '-exclude'], (a, v) => { a.exclude.push(v) })
option(['-x', '-old-exclude'], (a, v) => { a.excludePaths.push(v) })
option(['-exclude-list'], (a, v) => { a.excludeLists.push(v) })
flag(['-nobak', '-no-bak'], a => { a.noBackups = true })
flag(['-f', '-follow-links'], a => { a.followLinks = true })
flag(['-no-cache-inodes'], a => { a.hardLinks = false })
flag(['-graft-points'], a => { a.graftPoints = true })
option(['-root'], (a, v) => { a.root = v })
option(['-path-list'], (a, v) => { a.pathLists.push(v) })
// genisoimage(1): each of these "automatically enables Rock Ridge extensions".
option(['-uid'], (a, v, _b, _m, n) => { a.uid = integer(v, n, 0, 0xffffffff); a.rockRidge = true })
option(['-gid'], (a, v, _b, _m, n) => { a.gid = integer(v, n, 0, 0xffffffff); a.rockRidge = true })
option(['-file-mode'], (a, v, _b, _m, n) => { a.fileMode = octalMode(v, n); a.rockRidge = true })
option(['-dir-mode'], (a, v, _b, _m, n) => { a.dirMode = octalMode(v, n); a.rockRidge = true })
option(['-new-dir-mode'], (a, v, _b, _m, n) => { a.newDirMode = octalMode(v, n) })
flag(['-T', '-translation-table'], a => { a.translationTable ??= 'TRANS.TBL' })
option(['-table-name'], (a, v) => { a.translationTable = v })
flag(['-hide-joliet-trans-tbl'], a => { a.hideJolietTranslationTable = true })
option(['-input-charset'], (_a, v, _b, _m, n) => { charset(v, n) })
option(['-output-charset'], (_a, v, _b, _m, n) => { charset(v, n) })
flag(['-quiet'], a => { a.quiet = true })
flag(['-v', '-verbose'], a => { a.verbose = true })
flag(['-print-size'], a => { a.printSize = true })
flag(['-pad'], a => { a.pad = true })
flag(['-no-pad'], a => { a.pad = false })
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
flag(['-split-output'], a => { a.splitOutput = true })
option(['-log-file'], (a, v) => { a.logFile = v })
option(['-s', '-sectype'], (_a, v, _b, _m, n) => {
  if (v !== 'data') throw new InvalidInputError('BAD_ARGUMENT', `${n} ${v}: only "data" sectors (2048 bytes) are written`)
})
flag(['-help', '--help'], a => { a.help = true })
flag(['-version'], a => { a.version = true })

// --- Accepted and ignored, with the reason -------------------------------------------------------------

ignored(['-cache-inodes'], false, 'hard links are always found (genisoimage\'s default on Linux too)')
ignored(['-use-fileversion'], false, 'host file names carry no versions; every file gets version 1, as genisoimage gives it on Linux')
ignored(['-gui'], false, 'it only changes what genisoimage prints')
ignored(['-debug'], false, 'DEBUG=isomount:* shows what isotool does')
ignored(['-sort'], true, 'file data is laid out in directory order; names and contents are the same either way')
ignored(['-no-split-symlink-components', '-no-split-symlink-fields'], false, 'a workaround for SunOS 4 and Solaris 2.5 drivers; symbolic links are recorded as Rock Ridge allows')
ignored(['-checksum_algorithm_iso', '-checksum_algorithm_template'], true, 'jigdo checksums; no jigdo files are written')
ignored(['-jigdo-min-file-size', '-jigdo-force-md5', '-jigdo-exclude', '-jigdo-map', '-md5-list', '-jigdo-template-compress'], true,
  'only meaningful with -jigdo-jigdo, which isotool does not write')
// Only with -M (a previous session), which is refused below; genisoimage ignores them without it too.
ignored(['-check-oldnames', '-force-rr', '-no-rr'], false, 'only meaningful with -M (a previous session)')
ignored(['-old-root'], true, 'only meaningful with -M (a previous session)')
ignored(['-sparc-label', '-sunx86-label'], true, 'only meaningful with -sparc-boot / -sunx86-boot, which isotool does not write')
// HFS modifiers: without -hfs or -apple (refused) genisoimage writes no HFS either.
ignored(['-map', '-H', '-magic', '-hfs-creator', '-hfs-type', '-hide-hfs', '-hide-hfs-list', '-hfs-volid', '-root-info', '-input-hfs-charset',
  '-output-hfs-charset', '-hfs-bless', '-hfs-parms', '-auto', '-cluster-size'], true, 'an HFS option; isotool writes no HFS tree')
ignored(['-probe', '-no-desktop', '-mac-name', '-icon-position', '-hfs-unlock', '-part', '-no-mac-files', '--cap', '--netatalk', '--double',
  '--ethershare', '--ushare', '--exchange', '--sgi', '--xinet', '--macbin', '--single', '--dave', '--sfm', '--osx-double', '--osx-hfs'], false,
'an HFS option; isotool writes no HFS tree')

// --- Refused: what they ask for would be missing ---------------------------------------------------------

refused(['-dvd-video'], false, 'DVD-Video ordering (VIDEO_TS first, with its UDF restrictions) is not written by isotool; -udf writes a UDF file system in the usual order')
ignored(['-allow-limited-size'], false, 'files of 4 GiB and more are written whole: one UDF file, and in ISO9660 a multi-extent file (with -iso-level 3), as xorriso writes them')
refused(['-hfs', '-h', '-apple', '-g'], false, 'HFS and Apple extensions are not written by isotool (see isotool mkisofs -help for what is)')
refused(['-boot-hfs-file', '-prep-boot'], true, 'HFS and PReP boot records are not written by isotool')
refused(['-chrp-boot'], false, 'CHRP boot records are not written by isotool')
refused(['-alpha-boot', '-hppa-bootloader', '-hppa-cmdline', '-hppa-kernel-32', '-hppa-kernel-64', '-hppa-ramdisk', '-mips-boot', '-mipsel-boot',
  '-B', '-sparc-boot', '-sunx86-boot'], true, 'only El Torito boot records are written (not Alpha, HPPA, MIPS, SPARC or Solaris x86 boot blocks)')
refused(['-G', '-generic-boot'], true, 'a generic boot image in the system area is not supported yet')
refused(['-M', '-prev-session', '-dev', '-check-session', '-C', '-cdrecord-params'], true,
  'isotool mkisofs writes whole images, not sessions to append; to add to an image, mount it (isomount) or use isotool shell')
refused(['-jigdo-jigdo', '-jigdo-template'], true, 'jigdo files are not written by isotool')
refused(['-stream-media-size', '-stream-file-name'], true, 'streaming standard input into an image is not supported; give the data as a file')
refused(['-i'], true, 'no longer supported (genisoimage says so too); use -path-list')
refused(['-appended_part_as_apm'], false, 'appended partitions go into the MBR, or into a GPT with -appended_part_as_gpt; no Apple Partition Map is written for them')
refused(['-z', '-transparent-compression'], false, 'zisofs compression (mkzftree files) is not written by isotool')

export function parseMkisofsArgs (argv: readonly string[]): MkisofsArgs {
  const args: MkisofsArgs = {
    rockRidge: false,
    rationalRock: false,
    rockRidgeVersion: '1.09',
    joliet: false,
    jolietLong: false,
    jolietLevel: 3,
    level: 1,
    isoNames: {},
    keepDeepDirectories: false,
    hideRrMoved: false,
    boots: [],
    hide: [],
    hideJoliet: [],
    hidden: [],
    hideLists: [],
    hideJolietLists: [],
    hiddenLists: [],
    exclude: [],
    excludePaths: [],
    excludeLists: [],
    noBackups: false,
    followLinks: false,
    hardLinks: true,
    graftPoints: false,
    pathLists: [],
    hideJolietTranslationTable: false,
    quiet: false,
    verbose: false,
    printSize: false,
    pad: true,
    splitOutput: false,
    isohybridGpt: false,
    protectiveMsdosLabel: false,
    appended: [],
    appendedAsGpt: false,
    mbrForceBootable: false,
    cylinderAlign: 'auto',
    help: false,
    version: false,
    paths: [],
    notes: []
  }
  const boot: BootState = { entry: newEntry(), platform: Platform.X86 }
  let list = [...argv]
  let i = 0
  while (i < list.length) {
    const arg = list[i++]
    if (arg === '--') {
      args.paths.push(...list.slice(i))
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
    if (spec === undefined) {
      // getopt_long_only: what is no long option may be one-letter options together ("-rJ").
      const grouped = shortGroup(arg)
      if (grouped === undefined) throw new InvalidInputError('BAD_ARGUMENT', `unsupported option ${arg} (see isotool mkisofs -help)`)
      list = [...list.slice(0, i - 1), ...grouped, ...list.slice(i)]
      i--
      continue
    }
    if (spec.values > 0) {
      const value = inlineValue ?? list[i++]
      const more = list.slice(i, i + spec.values - 1)
      i += more.length
      if (value === undefined || more.length < spec.values - 1) throw new InvalidInputError('BAD_ARGUMENT', `${name} needs ${spec.values === 1 ? 'a value' : `${spec.values} values`}`)
      spec.apply(args, value, boot, more, name)
    } else {
      if (inlineValue !== undefined) throw new InvalidInputError('BAD_ARGUMENT', `${name} takes no value`)
      spec.apply(args, '', boot, [], name)
    }
  }
  closeEntry(args, boot)
  return args
}

/**
 * "-rJ" as "-r -J", "-oimage.iso" as "-o image.iso": one-letter options run together, as getopt takes
 * them; undefined unless every letter is one (and only the last takes a value).
 */
function shortGroup (arg: string): string[] | undefined {
  if (arg.startsWith('--') || arg.includes('=') || arg.length < 3) return undefined
  const out: string[] = []
  for (let j = 1; j < arg.length; j++) {
    const spec = flags.get(`-${arg[j]}`)
    if (spec === undefined) return undefined
    out.push(`-${arg[j]}`)
    if (spec.values > 0) {
      if (j + 1 < arg.length) out.push(arg.slice(j + 1))
      return out
    }
  }
  return out
}

/** Every option the table knows, with its kind and whether it takes a value (for tests and completion). */
export function knownOptions (): Array<{ name: string, kind: OptionKind, takesValue: boolean }> {
  return [...flags].map(([name, { kind, values }]) => ({ name, kind, takesValue: values > 0 }))
}

export const MKISOFS_HELP = `Usage: isotool mkisofs [options] -o OUTPUT PATH...
Masters an ISO9660 image from host files, with genisoimage's options:
  -o FILE                 output (without it the image goes to standard output)
  -R | -rock              Rock Ridge (modes, owners, times, symlinks, long names)
  -r | -rational-rock     Rock Ridge with sane permissions (owner 0, readable, not writable)
  -rrip110 | -rrip112     Rock Ridge 1.10 / 1.12 instead of 1.09
  -J | -joliet            Joliet (-ucs-level 1-3, default 3); -joliet-long  103-character names
  -udf                    a UDF 1.02 file system over the same files (Windows reads it first)
  -udf-rev REV            the UDF revision written (implies -udf): 1.02, 1.50,
                          2.00, 2.01, 2.50 or 2.60
  -udf-metadata           UDF entries and directories in a metadata partition, as
                          on Blu-ray discs (UDF 2.50+; implies -udf-rev 2.60)
  -iso-level N            interchange level 1-4 (default 1; 4 is ISO 9660:1999)
  -l -max-iso9660-filenames -d -N -allow-lowercase -relaxed-filenames -allow-leading-dots
  -allow-multidot -no-iso-translate -U   ISO9660 names as genisoimage relaxes them
  -D                      no deep directory relocation;  -hide-rr-moved  .rr_moved in Rock Ridge
  -XA | -xa               CD-ROM XA records (owners and modes as recorded / rationalized)
  -V -sysid -A -p -P -volset ID, -volset-size N, -volset-seqno N, -copyright -abstract -biblio FILE
  --modification-date=YYYYMMDDhhmmsscc   the volume's creation and modification dates (xorriso)
  -b FILE                 El Torito boot image (path in the image); -c FILE  catalog (default boot.catalog)
  -no-emul-boot | -hard-disk-boot   emulation of the current boot image (default: floppy)
  -no-boot  -boot-load-size N  -boot-load-seg N  -boot-info-table
  -eltorito-alt-boot      start another boot entry;  -e FILE  EFI boot image;  --efi-boot FILE
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
  -hide GLOB  -hide-joliet GLOB  -hidden GLOB  (-hide-list, -hide-joliet-list, -hidden-list FILE)
  -m GLOB  -x PATH  -exclude-list FILE  -no-bak   leave out what matches, or editor backups
  -f                      follow symbolic links;  -no-cache-inodes  a copy of the data per hard link
  -graft-points           PATH arguments may be IMAGEPATH=HOSTPATH;  -path-list FILE;  -root DIR
  -uid N -gid N -file-mode MODE -dir-mode MODE   what every entry records;  -new-dir-mode MODE
  -T | -table-name NAME   a TRANS.TBL in every directory;  -hide-joliet-trans-tbl
  -input-charset | -output-charset UTF-8   -quiet  -v  -print-size  -pad | -no-pad  -split-output
  -log-file FILE          messages to FILE;  -version
Accepted and ignored, with a note saying why: -cache-inodes -use-fileversion -gui -debug -sort and
the HFS, jigdo and multi-session modifiers. Refused, saying why: -dvd-video, -hfs, -apple, -z, -M,
-C, -G, -jigdo-jigdo and other platforms' boot blocks.
`
