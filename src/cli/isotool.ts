import * as fs from 'node:fs'
import * as v8 from 'node:v8'
import { Command, InvalidArgumentError } from 'commander'
import { InvalidInputError } from '../errors'
import { extractTree } from '../iso/extract'
import { IsoImage, type OpenOptions } from '../iso/image'
import { contentStream } from '../iso/model/data-source'
import { statOf } from '../iso/model/stat'
import { parseNamespace, type Namespace } from '../iso/namespace'
import { EXIT_FAILURE, newProgram, runProgram } from './common'
import { longListing, mib, Progress } from './format'
import { describeImage } from './info'
import { mkisofs } from './mkisofs'
import { MKISOFS_HELP } from './mkisofs-args'
import { SHELL_HELP } from './shell/commands'
import { runShell } from './shell/repl'

interface ImageFlags {
  namespace?: string
  rock: boolean
  joliet: boolean
  udf: boolean
  strict?: boolean
  session?: number
}

/** --session takes a positive integer: anything else is a usage error, not "session NaN". */
function parseSession (text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError('a session number is a positive integer (1 is the first)')
  return Number(text)
}

/** Options every subcommand that reads an image takes. */
function imageOptions (command: Command): Command {
  return command
    .option('-n, --namespace <ns>', 'rockridge, udf, joliet or iso9660 (default: Rock Ridge, else UDF, else Joliet, else ISO9660)')
    .option('--no-rock', 'ignore Rock Ridge')
    .option('--no-udf', 'ignore UDF')
    .option('--no-joliet', 'ignore Joliet')
    .option('--strict', 'refuse images with any irregularity')
    .option('--session <n>', 'read session N (1-based; default the newest)', parseSession)
}

/**
 * Opens the image a subcommand reads, runs `body` on it and closes it. What the reader forgave while the
 * command ran (directories load as they are looked at, so warnings come late) is printed on stderr once,
 * at the end, whether the command succeeded or not.
 */
async function withImage (
  path: string, flags: ImageFlags, body: (image: IsoImage, namespace?: Namespace) => Promise<void>, warnOnStderr = true
): Promise<void> {
  const namespace = namespaceOf(flags)
  if (!fs.existsSync(path)) throw new InvalidInputError('NOT_FOUND', `${path}: no such file`)
  const image = await IsoImage.open(path, openOptionsOf(flags))
  try {
    await body(image, namespace)
  } finally {
    if (warnOnStderr) printWarnings(image)
    await image.close()
  }
}

function namespaceOf (flags: ImageFlags): Namespace | undefined {
  return flags.namespace !== undefined ? parseNamespace(flags.namespace) : undefined
}

function openOptionsOf (flags: ImageFlags): OpenOptions {
  const options: OpenOptions = { rockRidge: flags.rock, joliet: flags.joliet, udf: flags.udf, strict: flags.strict === true }
  if (flags.session !== undefined) options.session = flags.session
  return options
}

function printWarnings (image: IsoImage): void {
  const lines = image.warnings.map(w => `isotool: warning: ${w}\n`)
  const dropped = image.origin?.diagnostics.dropped ?? 0
  if (dropped > 0) lines.push(`isotool: warning: ${dropped} more warnings not shown\n`)
  if (lines.length > 0) process.stderr.write(lines.join(''))
}

/**
 * V8's young generation for a command that builds a whole model at once: with 16 MiB semi-spaces (Node
 * 20's default) the records of a large walk outlive their scavenges and are promoted, to be collected
 * again in the old space. `isotool ls -R` of a 10^6-file image took 8.1-9.1 s at 1.1-1.3 GB peak RSS with
 * them, 6.0-6.6 s at 0.89-0.99 GB with 64 MiB ones. Set before the model is built; flags the user gave
 * node win.
 */
function growYoungGeneration (): void {
  if (!process.execArgv.some(f => f.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=64')
}

export async function main (argv: string[]): Promise<void> {
  growYoungGeneration()
  // Created through newProgram: subcommands copy its exit and output settings when they are made, so a
  // usage error inside one exits 2 like `isotool bogus` does (they exited 1).
  const program = newProgram('isotool')
  // genisoimage's single-dash long options do not fit commander; mkisofs parses its own arguments.
  program.command('mkisofs')
    .description('master an image from host files, with genisoimage\'s options (isotool mkisofs -help)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .addHelpText('after', '\n' + MKISOFS_HELP)
    .action(async (rest: string[]) => { await mkisofs(rest) })
  program
    .description('Inspect, extract and build ISO9660 images (Rock Ridge, Joliet, UDF, El Torito, isohybrid).')
    .showHelpAfterError('(see isotool --help)')

  imageOptions(program.command('info')
    .description('describe an image: descriptors, extensions, UDF volume, El Torito entries, hybrid partition tables')
    .argument('<image>')
    .option('--json', 'machine-readable output'))
    .action(async (path: string, flags: ImageFlags & { json?: boolean }) => {
      // info shows the warnings in its own output (text and JSON), not again on stderr.
      await withImage(path, flags, async image => {
        process.stdout.write(await describeImage(image, path, flags.json === true))
      }, false)
    })

  imageOptions(program.command('ls')
    .description('list a directory of the image')
    .argument('<image>')
    .argument('[path]', 'directory or file in the image', '/')
    .option('-R, --recursive', 'list subdirectories recursively')
    .option('-l, --long', 'long listing: mode, links, owner, size, time'))
    .action(async (path: string, inner: string, flags: ImageFlags & { recursive?: boolean, long?: boolean }) => {
      await withImage(path, flags, async (image, namespace) => {
        const line = (name: string, node: Awaited<ReturnType<IsoImage['lookup']>>): string =>
          flags.long === true ? longListing(statOf(node), name, node.inode.symlinkTarget) : name
        const start = await image.lookup(inner, namespace)
        // Written as it goes, a few thousand lines at a time: a listing of 10^5 entries is not held whole.
        let out = ''
        const emit = (text: string): void => {
          out += text + '\n'
          if (out.length >= 1 << 16) {
            process.stdout.write(out)
            out = ''
          }
        }
        if (!start.isDirectory) emit(line(inner, start))
        else if (flags.recursive === true) for await (const entry of image.walk(inner, namespace)) emit(line(entry.path, entry.node))
        else for (const entry of await image.readdir(inner, namespace)) emit(line(entry.name, entry.node))
        if (out.length > 0) process.stdout.write(out)
      })
    })

  imageOptions(program.command('cat')
    .description('write files of the image to standard output')
    .argument('<image>')
    .argument('<paths...>'))
    .action(async (path: string, paths: string[], flags: ImageFlags) => {
      await withImage(path, flags, async (image, namespace) => {
        const view = image.view(namespace)
        for (const inner of paths) {
          // Symbolic links are followed inside the image, as cat follows them on a mounted image (an
          // absolute target from the image's root); one whose target is not in the image is an error.
          const node = await view.resolveFollowing(image.root, inner)
          if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${inner} is a directory`)
          for await (const chunk of contentStream(node.inode.data)) {
            if (!process.stdout.write(chunk as Buffer)) await new Promise(resolve => process.stdout.once('drain', resolve))
          }
        }
      })
    })

  imageOptions(program.command('extract')
    .description('copy a directory (default: all) or file of the image into a host directory')
    .argument('<image>')
    .argument('[path]', 'what to extract', '/')
    .requiredOption('-C, --directory <dest>', 'destination directory (created if missing)'))
    .action(async (path: string, inner: string, flags: ImageFlags & { directory: string }) => {
      await withImage(path, flags, async (image, namespace) => {
        const progress = new Progress('extracting')
        const totals = await extractTree(image, inner, flags.directory, {
          namespace,
          onProgress: t => progress.update(() => `${t.entries} entries, ${mib(t.bytes)}`),
          onWarning: message => process.stderr.write(`isotool: warning: ${message}\n`)
        })
        progress.done()
        if (process.stderr.isTTY === true) process.stderr.write(`extracted ${totals.entries} entries, ${mib(totals.bytes)}\n`)
      })
    })

  imageOptions(program.command('verify')
    .description('check every checksum the image carries (implantisomd5, xorriso -md5 tags, session and file MD5s): PASS, FAIL or NA each; exit status 1 if any fails')
    .argument('<image>')
    .option('--json', 'machine-readable output'))
    .action(async (path: string, flags: ImageFlags & { json?: boolean }) => {
      await withImage(path, flags, async image => {
        const progress = new Progress('verifying')
        const checks = await image.verifyChecksums(p => progress.update(() => p.total > 0 && p.phase !== 'xorriso file MD5s'
          ? `${p.phase}: ${mib(p.done)} of ${mib(p.total)} (${Math.floor(p.done * 100 / p.total)}%)`
          : `${p.phase}: ${p.done} of ${p.total}`))
        progress.done()
        if (flags.json === true) process.stdout.write(JSON.stringify(checks, null, 2) + '\n')
        else process.stdout.write(checks.map(c => `${c.status.padEnd(4)}  ${c.name}: ${c.detail}\n`).join(''))
        if (checks.some(c => c.status === 'FAIL')) process.exitCode = EXIT_FAILURE
      })
    })

  imageOptions(program.command('shell')
    .description('an interactive session on an image, without FUSE or root: look around, copy in and out, change, write')
    .argument('<image>')
    .addHelpText('after', '\nIn the shell:\n' + SHELL_HELP.split('\n').slice(1).join('\n')))
    .action(async (path: string, flags: ImageFlags) => {
      await runShell(path, openOptionsOf(flags), namespaceOf(flags))
    })

  if (argv[2] === 'mkisofs') {
    // Handed over whole: commander would take genisoimage's "-o"/"-V"/"-help" for its own options.
    const direct = new Command('isotool').exitOverride()
    direct.action(async () => { await mkisofs(argv.slice(3)) })
    await runProgram(direct, argv.slice(0, 2))
    return
  }
  await runProgram(program, argv)
}
