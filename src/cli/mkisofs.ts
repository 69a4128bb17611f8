import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import { importHostTree } from '../iso/edit/host-import'
import { IsoImage, type CreateOptions } from '../iso/image'
import { globMatcher } from './glob'
import { mib, Progress } from './format'
import { MKISOFS_HELP, parseMkisofsArgs, type MkisofsArgs } from './mkisofs-args'

/** genisoimage pads images with 150 sectors (300 KiB) by default (its -pad). */
const PAD_SECTORS = 150

/** `isotool mkisofs`: genisoimage's command line over the library. */
export async function mkisofs (argv: readonly string[]): Promise<void> {
  const args = parseMkisofsArgs(argv)
  if (args.help) {
    process.stdout.write(MKISOFS_HELP)
    return
  }
  const sources = [...args.paths, ...args.pathLists.flatMap(readLines)]
  if (sources.length === 0) throw new InvalidInputError('BAD_ARGUMENT', 'no source paths given (see isotool mkisofs -help)')
  if (args.output === undefined && !args.printSize && process.stdout.isTTY === true) {
    throw new InvalidInputError('BAD_ARGUMENT', 'refusing to write an image to a terminal; give -o FILE')
  }
  const image = IsoImage.create({
    interchangeLevel: args.level,
    rockRidge: args.rockRidge ? args.rockRidgeVersion : undefined,
    joliet: args.joliet ? 3 : undefined,
    jolietLong: args.jolietLong,
    volume: volumeOf(args)
  })
  const progress = new Progress('adding', !args.quiet && process.stderr.isTTY === true)
  const exclude = globMatcher([...args.exclude, ...args.excludeLists.flatMap(readLines)])
  const excludedPaths = new Set(args.excludePaths.map(p => path.resolve(p)))
  const importOptions = {
    exclude: (host: string, name: string) => exclude(host, name) || excludedPaths.has(path.resolve(host)),
    hideFromIso: matcher(args.hide),
    hideFromJoliet: matcher(args.hideJoliet),
    hidden: matcher(args.hidden),
    rationalRock: args.rationalRock,
    onEntry: (n: number) => progress.update(() => `${n} entries`),
    onSkip: (host: string, reason: string) => { if (!args.quiet) process.stderr.write(`isotool: ${host} left out: ${reason}\n`) }
  }
  for (const spec of sources) {
    const { target, source } = graft(spec, args.graftPoints)
    if (!fs.existsSync(source)) throw new InvalidInputError('NOT_FOUND', `${source}: no such file or directory`)
    const st = fs.statSync(source)
    if (!st.isDirectory() && target !== undefined && !target.endsWith('/')) {
      // "/path/name=file": the file goes in under the name the graft point gives it.
      await importHostTree(image, source, path.posix.dirname(target), { ...importOptions, as: path.posix.basename(target) })
      continue
    }
    await importHostTree(image, source, target ?? '/', importOptions)
  }
  progress.done()
  await addBoot(image, args)
  const paddingSectors = args.pad ? PAD_SECTORS : 0
  if (args.printSize) {
    const bytes = await image.estimateSize({ paddingSectors })
    process.stdout.write(`${bytes / 2048}\n`)
    return
  }
  const writing = new Progress('writing', !args.quiet && (process.stderr.isTTY === true || args.verbose))
  const target = args.output ?? process.stdout
  const result = await image.write(target, {
    paddingSectors,
    onProgress: p => writing.update(() => `${(100 * p.bytesWritten / p.totalBytes).toFixed(1)}% of ${mib(p.totalBytes)}`)
  })
  writing.done()
  if (args.verbose) process.stderr.write(`${result.bytes / 2048} extents written (${mib(result.bytes)})\n`)
}

async function addBoot (image: IsoImage, args: MkisofsArgs): Promise<void> {
  let first = true
  for (const boot of args.boots) {
    // genisoimage's default catalog: boot.catalog next to the first boot image.
    const catalogPath = args.catalog !== undefined ? `/${args.catalog.replace(/^\/+/, '')}` : path.posix.join(path.posix.dirname(`/${boot.image}`), 'boot.catalog')
    await image.addElTorito({
      bootFile: `/${boot.image.replace(/^\/+/, '')}`,
      catalogPath: first ? catalogPath : undefined,
      platform: boot.platform,
      // genisoimage's default emulation is a 1.44 MB floppy; xorriso's -e images are never emulated.
      emulation: boot.emulation ?? (boot.platform === 'efi' ? 'none' : 'floppy'),
      loadSize: boot.loadSize,
      loadSegment: boot.loadSegment,
      bootInfoTable: boot.bootInfoTable,
      bootable: !boot.noBoot
    })
    first = false
  }
  if (args.isohybridMbr !== undefined) {
    await image.addIsohybrid({ mbr: fs.readFileSync(args.isohybridMbr), gpt: args.isohybridGpt })
  } else if (args.isohybridGpt) {
    throw new InvalidInputError('BAD_ARGUMENT', '-isohybrid-gpt-basdat needs -isohybrid-mbr')
  }
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
  return volume
}

/** "-graft-points": IMAGEPATH=HOSTPATH, "\\=" escaping a literal "=". */
function graft (spec: string, graftPoints: boolean): { target?: string, source: string } {
  if (!graftPoints) return { source: spec }
  const at = spec.search(/(?<!\\)=/)
  if (at === -1) return { source: spec.replace(/\\=/g, '=') }
  const target = '/' + spec.slice(0, at).replace(/\\=/g, '=').replace(/^\/+/, '')
  return { target, source: spec.slice(at + 1).replace(/\\=/g, '=') }
}

function matcher (patterns: string[]): ((host: string, imagePath: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined
  const match = globMatcher(patterns)
  return (host, imagePath) => match(host, path.basename(host)) || match(imagePath, path.basename(host))
}

function readLines (file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').map(l => l.trim()).filter(l => l !== '')
}
