import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import { HostImport } from '../iso/edit/host-import'
import { IsoImage, type CreateOptions } from '../iso/image'
import type { ElToritoOptions } from '../iso/edit/boot-editor'
import type { AppendedPartition } from '../iso/edit/hybrid-builder'
import { guidToString } from '../iso/codec/gpt'
import { isInterval, readDiskPath } from './disk-path'
import { Node } from '../iso/model/node'
import { defaultTimestampMs } from '../iso/write/settings'
import { packageVersion } from './common'
import { globMatcher } from './glob'
import { mib, Progress } from './format'
import { MKISOFS_HELP, parseMkisofsArgs, type MkisofsArgs } from './mkisofs-args'
import { SplitWriter } from './split-output'
import { addTranslationTables } from './translation-table'
import { READ_AHEAD_PADDING_SECTORS } from '../iso/write/layout'


/** `isotool mkisofs`: genisoimage's command line over the library. */
export async function mkisofs (argv: readonly string[]): Promise<void> {
  const args = parseMkisofsArgs(argv)
  if (args.help) {
    process.stdout.write(MKISOFS_HELP)
    return
  }
  if (args.version) {
    process.stdout.write(`isotool mkisofs ${packageVersion()} (isomount), with the options of genisoimage and xorriso -as mkisofs\n`)
    return
  }
  const say = messages(args.logFile)
  for (const note of args.notes) say(`isotool: ${note}`)
  const sources = [...args.paths, ...args.pathLists.flatMap(readLines)]
  if (sources.length === 0) throw new InvalidInputError('BAD_ARGUMENT', 'no source paths given (see isotool mkisofs -help)')
  if (args.output === undefined && !args.printSize && process.stdout.isTTY === true) {
    throw new InvalidInputError('BAD_ARGUMENT', 'refusing to write an image to a terminal; give -o FILE')
  }
  if (args.splitOutput && args.output === undefined && !args.printSize) throw new InvalidInputError('BAD_ARGUMENT', '-split-output needs -o FILE (the pieces are FILE_00, FILE_01, …)')
  const image = IsoImage.create({
    interchangeLevel: args.level,
    rockRidge: args.rockRidge ? args.rockRidgeVersion : undefined,
    joliet: args.joliet ? args.jolietLevel : undefined,
    jolietLong: args.jolietLong,
    volume: volumeOf(args),
    isoNames: args.isoNames,
    keepDeepDirectories: args.keepDeepDirectories,
    relocationDirectory: args.hideRrMoved ? '.rr_moved' : undefined,
    xa: args.xa,
    udf: args.udfMetadata === true ? { revision: args.udfRevision, metadataPartition: true } : args.udf
  })
  const progress = new Progress('adding', !args.quiet && process.stderr.isTTY === true)
  const exclude = globMatcher([...args.exclude, ...args.excludeLists.flatMap(readLines)])
  const excludedPaths = new Set(args.excludePaths.map(p => path.resolve(p)))
  // genisoimage's attributes for directories no source directory stands for (tree.c init_fstatbuf): mode
  // 0555 (-new-dir-mode), the caller's uid and gid (0 with -r; -uid and -gid), created now. The root
  // has them until a source directory grafted onto it gives it its own.
  const synthetic = {
    mode: args.newDirMode ?? 0o555,
    uid: args.uid ?? (args.rationalRock ? 0 : process.getuid?.() ?? 0),
    gid: args.gid ?? (args.rationalRock ? 0 : process.getgid?.() ?? 0),
    mtimeMs: defaultTimestampMs()
  }
  image.setNodeAttributes(image.root, { ...synthetic, atimeMs: synthetic.mtimeMs, ctimeMs: synthetic.mtimeMs })
  const run = new HostImport(image, {
    remember: bootPaths(args),
    exclude: (host: string, name: string) => exclude(host, name) || excludedPaths.has(path.resolve(host)) || (args.noBackups && isBackup(name)),
    hideFromIso: matcher([...args.hide, ...args.hideLists.flatMap(readLines)]),
    hideFromJoliet: matcher([...args.hideJoliet, ...args.hideJolietLists.flatMap(readLines)]),
    hidden: matcher([...args.hidden, ...args.hiddenLists.flatMap(readLines)]),
    rationalRock: args.rationalRock,
    syntheticDirectory: synthetic,
    attributesFromSource: true,
    followLinks: args.followLinks,
    findHardLinks: args.hardLinks,
    overrides: { uid: args.uid, gid: args.gid, fileMode: args.fileMode, dirMode: args.dirMode },
    onEntry: (n: number) => progress.update(() => `${n} entries`),
    onSkip: (host: string, reason: string) => { if (!args.quiet) say(`isotool: ${host} left out: ${reason}`) }
  })
  for (const spec of sources) {
    const { target, source } = graft(spec, args.graftPoints, args.root)
    if (!fs.existsSync(source)) throw new InvalidInputError('NOT_FOUND', `${source}: no such file or directory`)
    const st = fs.statSync(source)
    if (!st.isDirectory() && target !== undefined && !target.endsWith('/')) {
      // "/path/name=file": the file goes in under the name the graft point gives it.
      await run.add(source, path.posix.dirname(target), path.posix.basename(target))
      continue
    }
    await run.add(source, target ?? '/')
  }
  progress.done()
  if (args.translationTable !== undefined) await addTranslationTables(image, run, args.translationTable, !args.hideJolietTranslationTable, synthetic)
  await addBoot(image, args, run)
  const paddingSectors = args.pad ? READ_AHEAD_PADDING_SECTORS : 0
  if (args.printSize) {
    const bytes = await image.estimateSize({ paddingSectors })
    process.stdout.write(`${bytes / 2048}\n`)
    return
  }
  const writing = new Progress('writing', !args.quiet && (process.stderr.isTTY === true || args.verbose))
  const split = args.splitOutput ? new SplitWriter(args.output as string) : undefined
  const target = split ?? args.output ?? process.stdout
  let result: { bytes: number }
  try {
    result = await image.write(target, {
      paddingSectors,
      onProgress: p => writing.update(() => `${(100 * p.bytesWritten / p.totalBytes).toFixed(1)}% of ${mib(p.totalBytes)}`)
    })
  } catch (err) {
    split?.abort()
    throw err
  }
  writing.done()
  if (args.verbose) say(`${result.bytes / 2048} extents written (${mib(result.bytes)})`)
}

/** Where messages go: stderr, or the -log-file (genisoimage: "Redirect all error, warning and informational messages"). */
function messages (logFile: string | undefined): (line: string) => void {
  if (logFile === undefined) return line => { process.stderr.write(`${line}\n`) }
  fs.writeFileSync(logFile, '')
  return line => { fs.appendFileSync(logFile, `${line}\n`) }
}

/** genisoimage -no-bak (tree.c): names with "~" or "#", or ending in ".bak", are editors' backups. */
function isBackup (name: string): boolean {
  return name.includes('~') || name.includes('#') || name.endsWith('.bak')
}

/**
 * genisoimage and xorriso -as mkisofs both put the catalog at /boot.catalog in the root when no -c names
 * it (checked: genisoimage 1.1.11, xorriso 1.5.4).
 */
const DEFAULT_CATALOG = 'boot.catalog'

/** The image paths of the boot files, in host names: what HostImport must find for addBoot. */
function bootPaths (args: MkisofsArgs): string[] {
  return args.boots.filter(boot => !isInterval(boot.image)).map(boot => `/${boot.image.replace(/^\/+/, '')}`)
}

async function addBoot (image: IsoImage, args: MkisofsArgs, run: HostImport): Promise<void> {
  if (args.isohybridGpt && args.isohybridMbr === undefined) throw new InvalidInputError('BAD_ARGUMENT', '-isohybrid-gpt-basdat needs -isohybrid-mbr')
  if (args.isohybridMbr !== undefined && args.grub2Mbr !== undefined) throw new InvalidInputError('BAD_ARGUMENT', '-isohybrid-mbr and --grub2-mbr exclude each other')
  if (args.isohybridMbr !== undefined && args.protectiveMsdosLabel) throw new InvalidInputError('BAD_ARGUMENT', '--protective-msdos-label excludes -isohybrid-mbr (xorrisofs(1))')
  // Appended partitions first: an El Torito entry may name one (-e --interval:appended_partition_2:all::).
  const appended: AppendedPartition[] = []
  for (const a of args.appended) {
    appended.push({ number: a.number, type: partitionType(a.type), payload: await image.region(readDiskPath(a.file, '-append_partition'), `appended partition ${a.number}`) })
  }
  for (const [index, boot] of args.boots.entries()) {
    await image.addElTorito({
      ...await bootSource(image, boot, run, appended),
      // The catalog gets its names below, as a file from the host would.
      hiddenCatalog: index === 0,
      platform: boot.platform,
      emulation: boot.emulation ?? 'floppy',
      loadSize: boot.loadSize,
      loadSegment: boot.loadSegment,
      bootInfoTable: boot.bootInfoTable,
      grub2BootInfo: boot.grub2BootInfo,
      bootable: !boot.noBoot
    })
  }
  if (args.boots.length > 0) await nameCatalog(image, args, run)
  const mbrFile = args.isohybridMbr ?? args.grub2Mbr
  if (mbrFile === undefined && !args.protectiveMsdosLabel && appended.length === 0 && args.partitionOffset === undefined) return
  await image.addHybrid({
    mbr: mbrFile === undefined ? undefined : { code: readDiskPath(mbrFile, args.grub2Mbr !== undefined ? '--grub2-mbr' : '-isohybrid-mbr'), kind: args.grub2Mbr !== undefined ? 'grub2' : 'isohybrid' },
    protectiveMsdosLabel: args.protectiveMsdosLabel,
    gptBootEntries: args.boots.flatMap((boot, index) => boot.gpt ? [index] : []),
    apmBootEntries: args.boots.flatMap((boot, index) => boot.apm ? [index] : []),
    appended,
    appendedAsGpt: args.appendedAsGpt,
    isoPartitionType: args.isoMbrPartType === undefined || args.isoMbrPartType === 'default' ? undefined : partitionType(args.isoMbrPartType),
    forceBootable: args.mbrForceBootable,
    partitionOffset: args.partitionOffset,
    cylinderAlign: args.cylinderAlign
  })
}

/**
 * What an El Torito entry boots: a file added from the host (found by host names, hidden or not:
 * genisoimage boots a boot file -hide left out of every tree, tree.c search_tree_file, and without Rock
 * Ridge or Joliet "isolinux/isolinux.bin" is named ISOLINUX/ISOLINUX.BIN), an appended partition
 * (--interval:appended_partition_N:all::), or bytes read from a file interval.
 */
async function bootSource (
  image: IsoImage, boot: MkisofsArgs['boots'][number], run: HostImport, appended: AppendedPartition[]
): Promise<Pick<ElToritoOptions, 'bootFile' | 'bootInode' | 'bootPayload'>> {
  const partition = /^--interval:appended_partition_(\d+):all::$/.exec(boot.image)
  if (partition !== null) {
    const found = appended.find(a => a.number === Number(partition[1]))
    if (found === undefined) throw new InvalidInputError('BAD_ARGUMENT', `${boot.image}: there is no -append_partition ${partition[1]}`)
    return { bootFile: boot.image, bootPayload: found.payload }
  }
  if (isInterval(boot.image)) {
    return { bootFile: boot.image, bootPayload: await image.region(readDiskPath(boot.image, '-b'), 'boot image', 'volume') }
  }
  const file = `/${boot.image.replace(/^\/+/, '')}`
  const node = run.fileAt(file)
  if (node === undefined) throw new InvalidInputError('NOT_FOUND', `boot image ${boot.image} is not among the files added (genisoimage: "cant find the boot image")`)
  return { bootFile: file, bootInode: node.inode }
}

/** An MBR partition type ("0xef", "239") or a GPT type GUID (text or 32 hex digits, as xorriso takes them). */
function partitionType (text: string): number | string {
  if (/^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(text) && Number(text) <= 0xff) return Number(text)
  const hex = text.replace(/-/g, '')
  if (/^[0-9a-f]{32}$/i.test(hex)) {
    // xorriso's 32-digit form is the GUID's bytes as stored (mixed-endian); the text form is the usual one.
    return text.includes('-') ? text.toLowerCase() : guidToString(Buffer.from(hex, 'hex'))
  }
  throw new InvalidInputError('BAD_ARGUMENT', `"${text}" is neither an MBR partition type (0x00-0xff) nor a GPT type GUID`)
}

/**
 * Gives the catalog its directory records: at -c's path (default /boot.catalog), its names derived from
 * that host-style name as any added file's are. genisoimage matches -hide against the path -c gives
 * (eltorito.c; "-hide boot.cat" does not hide isolinux/boot.cat, "-hide isolinux/boot.cat" does) and
 * -hide-joliet not at all: a hidden catalog stays in the Joliet and UDF trees, or has no record where
 * there are neither (genisoimage -udf records it in UDF, as an empty file; here it is the catalog).
 */
async function nameCatalog (image: IsoImage, args: MkisofsArgs, run: HostImport): Promise<void> {
  const boot = await image.bootConfiguration()
  if (boot === undefined) return
  const catalog = args.catalog ?? DEFAULT_CATALOG
  const hidden = args.hide.length > 0 && globMatcher(args.hide)(catalog, catalog)
  if (hidden && !args.joliet && args.udf === undefined) return
  const parts = catalog.split('/').filter(p => p !== '' && p !== '.')
  const name = parts.pop()
  if (name === undefined) throw new InvalidInputError('BAD_PATH', `-c ${catalog} names no file`)
  const parent = await run.directoryAt(parts.join('/'))
  if (parent === undefined) throw new InvalidInputError('NOT_FOUND', `-c ${catalog}: directory /${parts.join('/')} is not in the image`)
  await image.linkChild(new Node(undefined, {}, boot.catalog), parent, name, { hostName: true, iso: !hidden })
}

function volumeOf (args: MkisofsArgs): CreateOptions['volume'] {
  const volume: NonNullable<CreateOptions['volume']> = {}
  if (args.volumeId !== undefined) volume.volumeId = args.volumeId
  if (args.systemId !== undefined) volume.systemId = args.systemId
  if (args.applicationId !== undefined) volume.applicationId = args.applicationId
  if (args.preparerId !== undefined) volume.preparerId = args.preparerId
  if (args.publisherId !== undefined) volume.publisherId = args.publisherId
  if (args.volumeSetId !== undefined) volume.volumeSetId = args.volumeSetId
  if (args.volumeSetSize !== undefined) volume.volumeSetSize = args.volumeSetSize
  if (args.volumeSetSequence !== undefined) volume.volumeSequenceNumber = args.volumeSetSequence
  if (args.copyright !== undefined) volume.copyrightFileId = args.copyright
  if (args.abstract !== undefined) volume.abstractFileId = args.abstract
  if (args.bibliographic !== undefined) volume.bibliographicFileId = args.bibliographic
  if (args.volumeDateMs !== undefined) volume.createdMs = volume.modifiedMs = args.volumeDateMs
  return volume
}

/**
 * "-graft-points": IMAGEPATH=HOSTPATH, "\\=" escaping a literal "=". "-root DIR" puts every source below DIR
 * ("essentially the same as using -graft-points and adding dir in front of every pathspec").
 */
function graft (spec: string, graftPoints: boolean, root?: string): { target?: string, source: string } {
  const under = (target: string | undefined): string | undefined => {
    if (root === undefined) return target
    const base = '/' + root.replace(/^\/+|\/+$/g, '')
    return target === undefined ? base + '/' : path.posix.join(base, target) + (target.endsWith('/') ? '/' : '')
  }
  if (!graftPoints) return { target: under(undefined), source: spec }
  const at = spec.search(/(?<!\\)=/)
  if (at === -1) return { target: under(undefined), source: spec.replace(/\\=/g, '=') }
  const target = '/' + spec.slice(0, at).replace(/\\=/g, '=').replace(/^\/+/, '')
  return { target: under(target), source: spec.slice(at + 1).replace(/\\=/g, '=') }
}

/**
 * -hide, -hide-joliet, -hidden: a glob matches the entry's name or its host path as the source argument
 * spells it ("src/docs/a.txt"), as genisoimage matches them; not its path in the image ("/docs/a.txt"
 * hides nothing in genisoimage either).
 */
function matcher (patterns: string[]): ((host: string, imagePath: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined
  const match = globMatcher(patterns)
  return host => match(host, path.basename(host))
}

function readLines (file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').map(l => l.trim()).filter(l => l !== '')
}
