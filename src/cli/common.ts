import { Command, CommanderError } from 'commander'
import { userMessage, IsoError } from '../errors'

/** Exit statuses of both commands. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/**
 * Runs a commander program: usage errors exit 2 with commander's message, failures exit 1 with one line
 * ("isotool: <what went wrong>"), never a stack trace (DEBUG=isomount:* shows details in the log).
 */
export async function runProgram (program: Command, argv: string[]): Promise<void> {
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

function usageError (err: unknown): boolean {
  return err instanceof IsoError && err.code === 'BAD_ARGUMENT'
}

/** Collects a repeatable option into a list. */
export function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}
