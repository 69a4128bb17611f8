import { once } from 'node:events'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { InvalidInputError, userMessage } from '../../errors'
import type { OpenOptions } from '../../iso/image'
import type { Namespace } from '../../iso/namespace'
import { EXIT_FAILURE } from '../common'
import { findCommand, type CommandSpec, type ShellOutput } from './commands'
import { complete } from './complete'
import { ShellSession } from './session'
import { argumentsOf, splitWords, type Word } from './words'

/** Where command lines come from: a terminal (prompt, history, completion) or a pipe (one per line). */
interface LineReader {
  /** The next line; undefined at the end of input (Ctrl-D at a terminal, end of a script). */
  next: (prompt: string) => Promise<string | undefined>
  close: () => void
}

class PipeReader implements LineReader {
  private readonly rl = readline.createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity })
  private readonly lines = this.rl[Symbol.asyncIterator]()

  async next (): Promise<string | undefined> {
    const r = await this.lines.next()
    return r.done === true ? undefined : r.value
  }

  close (): void {
    this.rl.close()
  }
}

/**
 * readline at a terminal. Ctrl-D closes a readline interface, and the session may go on after it (quit
 * was cancelled): the next line gets a new interface, with the history so far.
 */
class TerminalReader implements LineReader {
  private rl: readline.Interface | undefined
  private history: string[] = []
  /** Ctrl-C while a command runs: asks it to stop at its next output. */
  onInterrupt: () => void = () => {}
  busy = false

  constructor (private readonly completer: (line: string) => Promise<[string[], string]>) {}

  private open (): readline.Interface {
    const rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      history: this.history,
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: (line: string, callback: (err: null, result: [string[], string]) => void) => {
        this.completer(line).then(r => callback(null, r), () => callback(null, [[], line]))
      }
    })
    rl.on('SIGINT', () => {
      if (this.busy) {
        this.onInterrupt()
        return
      }
      // As a shell does: drop the line typed so far, prompt again.
      rl.write(null, { ctrl: true, name: 'e' })
      rl.write(null, { ctrl: true, name: 'u' })
      process.stdout.write('^C\n')
      rl.prompt()
    })
    rl.on('history', (history: string[]) => { this.history = history })
    return rl
  }

  async next (prompt: string): Promise<string | undefined> {
    const rl = this.rl ??= this.open()
    return await new Promise(resolve => {
      const closed = (): void => {
        this.rl = undefined
        process.stdout.write('\n')
        resolve(undefined)
      }
      rl.once('close', closed)
      rl.question(prompt, answer => {
        rl.off('close', closed)
        resolve(answer)
      })
    })
  }

  close (): void {
    this.rl?.close()
  }
}

/**
 * `isotool shell IMAGE`: commands from a terminal (with a prompt, history and tab completion) or from
 * standard input, one per line. An error is reported and the session goes on; when input is not a
 * terminal and any command failed, the exit status is 1 at the end, so a script learns of it.
 */
export async function runShell (imagePath: string, options: OpenOptions, namespace: Namespace | undefined): Promise<void> {
  const shell = await ShellSession.open(imagePath, options, namespace)
  const interactive = process.stdin.isTTY === true
  const terminal = interactive ? new TerminalReader(async line => await complete(shell, line)) : undefined
  const reader: LineReader = terminal ?? new PipeReader()
  let interrupted = false
  if (terminal !== undefined) terminal.onInterrupt = () => { interrupted = true }
  const out: ShellOutput = {
    write: async chunk => {
      if (interrupted) throw new InvalidInputError('BAD_ARGUMENT', 'interrupted')
      if (!process.stdout.write(chunk)) await once(process.stdout, 'drain')
    },
    note: text => { process.stderr.write(`${text}\n`) },
    columns: process.stdout.isTTY === true ? process.stdout.columns : undefined
  }
  let warned = 0
  const showWarnings = (): void => {
    const warnings = shell.image.warnings
    for (; warned < warnings.length; warned++) process.stderr.write(`warning: ${warnings[warned]}\n`)
  }
  const name = path.basename(imagePath)
  let failed = false

  const execute = async (line: string): Promise<'quit' | undefined> => {
    let words: Word[]
    try {
      words = splitWords(line).words
    } catch (err) {
      process.stderr.write(`${userMessage(err)}\n`)
      failed = true
      return
    }
    if (words.length === 0) return
    const spec = findCommand(words[0].text)
    if (spec === undefined) {
      process.stderr.write(`${words[0].text}: unknown command (help lists them)\n`)
      failed = true
      return
    }
    interrupted = false
    if (terminal !== undefined) terminal.busy = true
    try {
      const { args, flags } = parseArguments(spec, line, words.slice(1))
      if (spec.changes === true) await shell.requireChangeable()
      return (await spec.run(shell, args, flags, out)) ?? undefined
    } catch (err) {
      process.stderr.write(`${spec.name}: ${userMessage(err)}\n`)
      failed = true
    } finally {
      if (terminal !== undefined) terminal.busy = false
      showWarnings()
      await keepCurrentDirectory(shell)
    }
  }

  /** Whether to end the session: asked at a terminal when changes are unwritten; discarded without one. */
  const mayQuit = async (): Promise<boolean> => {
    if (!shell.changed) return true
    if (!interactive) {
      process.stderr.write(`unwritten changes to ${name} discarded (no terminal to ask; end the commands with write to keep them)\n`)
      return true
    }
    for (;;) {
      const answer = (await reader.next(`Write the changes to ${name} before quitting? [y]es, [n]o (discard them), [c]ancel: `))?.trim().toLowerCase()
      if (answer === undefined || answer === 'c' || answer === 'cancel' || answer === '') return false
      if (answer === 'n' || answer === 'no') return true
      if (answer === 'y' || answer === 'yes') {
        try {
          process.stderr.write(`${await shell.write()}\n`)
          return true
        } catch (err) {
          process.stderr.write(`write: ${userMessage(err)}\n`)
          return false
        }
      }
    }
  }

  try {
    showWarnings()
    if (interactive) process.stderr.write(`${name}: ${shell.namespace} names; help lists the commands\n`)
    for (;;) {
      const line = await reader.next(`${name}${shell.changed ? '*' : ''}:${shell.cwd}> `)
      if (line === undefined || await execute(line) === 'quit') {
        if (await mayQuit()) break
      }
    }
  } finally {
    reader.close()
    await shell.close()
  }
  if (!interactive && failed) process.exitCode = EXIT_FAILURE
}

/** Leading one-letter flags ("-l", "-rf"), "--" ending them; then the arguments, as argumentsOf takes them. */
function parseArguments (spec: CommandSpec, line: string, words: Word[]): { args: string[], flags: Set<string> } {
  const flags = new Set<string>()
  let i = 0
  for (; i < words.length; i++) {
    const w = words[i]
    if (w.quoted || !w.text.startsWith('-') || w.text.length === 1) break
    if (w.text === '--') {
      i++
      break
    }
    const letters = [...w.text.slice(1)]
    if (letters.every(c => spec.flags?.includes(c) === true)) {
      for (const c of letters) flags.add(c)
      continue
    }
    if (spec.dashArguments === true) break
    throw new InvalidInputError('BAD_ARGUMENT', `unknown option ${w.text} (usage: ${spec.usage})`)
  }
  const args = argumentsOf(line, words.slice(i), spec.max, spec.name)
  if (args.length < spec.min) throw new InvalidInputError('BAD_ARGUMENT', `usage: ${spec.usage}`)
  return { args, flags }
}

/** After a command removed or moved the current directory, the nearest one still there is current. */
async function keepCurrentDirectory (shell: ShellSession): Promise<void> {
  for (let dir = shell.cwd; ; dir = path.posix.dirname(dir)) {
    const node = await shell.find(dir, true).catch(() => undefined)
    if (node?.isDirectory === true || dir === '/') {
      shell.cwd = dir
      return
    }
  }
}
