import * as fs from 'node:fs'
import * as path from 'node:path'
import { Command, CommanderError } from 'commander'
import { userMessage, IsoError } from '../errors'

/** Exit statuses of both commands. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
/** What a shell reports for a command killed by SIGPIPE (128 + 13), as `cat big | head -c10` is. */
export const EXIT_BROKEN_PIPE = 141

/**
 * The package's version, from its package.json: the one place it is written, so `--version` cannot
 * disagree with what npm installed. Found by walking up from this file (dist/src/cli/ when built).
 */
export function packageVersion (): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json')
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'isomount' && pkg.version !== undefined) return pkg.version
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}

/**
 * A program whose usage errors throw (CommanderError) instead of exiting, for runProgram to turn into exit
 * status 2. Set before any subcommand is added: commander copies these settings into a subcommand when
 * it is created, not later.
 */
export function newProgram (name: string): Command {
  return new Command(name)
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
}

/**
 * Runs a commander program: usage errors exit 2 with commander's message, failures exit 1 with one line
 * ("isotool: <what went wrong>"), never a stack trace (DEBUG=isomount:* shows details in the log).
 */
export async function runProgram (program: Command, argv: string[]): Promise<void> {
  exitQuietlyOnBrokenPipe()
  program.exitOverride()
  program.configureOutput({ outputError: (text, write) => write(text) })
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
      return
    }
    process.stderr.write(`${program.name()}: ${userMessage(err)}\n`)
    if (process.env.DEBUG !== undefined && !(err instanceof IsoError)) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`)
    process.exitCode = usageError(err) ? EXIT_USAGE : EXIT_FAILURE
  }
}

/**
 * The reader of our output went away (`isotool cat img /f | head -c10`): Node ignores SIGPIPE, so the
 * write fails with EPIPE, which unhandled is a crash with a stack. cat in a shell dies of SIGPIPE without
 * a word; this does the same, with the status the shell would report for that (141), so a pipeline under
 * `set -o pipefail` still sees that not everything was written.
 */
function exitQuietlyOnBrokenPipe (): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE)
      throw err
    })
  }
}

function usageError (err: unknown): boolean {
  return err instanceof IsoError && err.code === 'BAD_ARGUMENT'
}

/** Collects a repeatable option into a list. */
export function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}
