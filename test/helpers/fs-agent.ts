import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import * as fs from 'node:fs'
import * as readline from 'node:readline'
import type { Stat } from '../../src/iso/model/stat'

/*
 * File system calls made by another user: a small process started under setpriv(1) with that user's ids
 * runs each call it is sent (one JSON line each) and answers with its result or errno name, so a test can
 * act through a mount as someone else at the speed of ordinary calls. This file is both: run as a script it
 * is the agent; imported, FsAgent starts and talks to one.
 */

/** What lstat tells the agent, in the fields the tests compare. */
export type AgentStat = Pick<Stat, 'mode' | 'uid' | 'gid' | 'size' | 'nlink' | 'ino' | 'mtimeMs' | 'ctimeMs'>

type Call = [op: string, ...args: Array<string | number>]

async function perform ([op, ...args]: Call): Promise<unknown> {
  const p = fs.promises
  const [a, b, c] = args as [string, any, any]
  switch (op) {
    case 'lstat': {
      const s = await p.lstat(a)
      return { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, nlink: s.nlink, ino: s.ino, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs } satisfies AgentStat
    }
    case 'readFile': return await p.readFile(a, 'utf8')
    case 'create': return await p.writeFile(a, b, { mode: c, flag: 'wx' })
    case 'appendFile': return await p.appendFile(a, b)
    case 'truncate': return await p.truncate(a, b)
    case 'mkdir': return await p.mkdir(a, { mode: b })
    case 'rmdir': return await p.rmdir(a)
    case 'unlink': return await p.unlink(a)
    case 'rename': return await p.rename(a, b)
    case 'link': return await p.link(a, b)
    case 'symlink': return await p.symlink(a, b)
    case 'chmod': return await p.chmod(a, b)
    case 'chown': return await p.chown(a, b, c)
    case 'utimes': return await p.utimes(a, b / 1000, c / 1000)
    default: throw new Error(`unknown call ${op}`)
  }
}

function serve (): void {
  process.umask(0o022)
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', line => {
    const { id, call } = JSON.parse(line) as { id: number, call: Call }
    perform(call).then(
      value => process.stdout.write(JSON.stringify({ id, value: value ?? null }) + '\n'),
      (err: NodeJS.ErrnoException) => process.stdout.write(JSON.stringify({ id, error: err.code ?? err.message }) + '\n'))
  })
}

/**
 * How to start a command as another user: setpriv with that user's ids and no supplementary groups, and
 * without tap's NODE_OPTIONS hook (tap puts it back into every child's environment), which writes into
 * .tap/ when a process ends, fails there for that user, and then keeps a daemon from ending.
 */
export function asUser (uid: number, gid: number): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS']
}

/** An error from the agent: `code` is the errno name its call failed with. */
export class AgentError extends Error {
  constructor (readonly code: string, call: Call) {
    super(`${call[0]} ${String(call[1])}: ${code}`)
  }
}

export class FsAgent {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, call: Call }>()

  private constructor (private readonly child: ChildProcessWithoutNullStreams) {
    readline.createInterface({ input: child.stdout }).on('line', line => {
      const { id, value, error } = JSON.parse(line) as { id: number, value?: unknown, error?: string }
      const waiter = this.waiting.get(id)
      if (waiter === undefined) return
      this.waiting.delete(id)
      if (error !== undefined) waiter.reject(new AgentError(error, waiter.call))
      else waiter.resolve(value)
    })
  }

  /** An agent running as `uid`:`gid` with no supplementary groups. */
  static start (uid: number, gid: number): FsAgent {
    const [command, ...args] = asUser(uid, gid)
    const child = spawn(command, [...args, process.execPath, __filename, '--serve'], { stdio: 'pipe' })
    child.stderr.pipe(process.stderr)
    return new FsAgent(child)
  }

  async call<T = unknown> (...call: Call): Promise<T> {
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, call })
      this.child.stdin.write(JSON.stringify({ id, call }) + '\n')
    })
  }

  /** Ends the agent (again: nothing). */
  async close (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.stdin.end()
    await exited
  }
}

if (require.main === module && process.argv.includes('--serve')) serve()
