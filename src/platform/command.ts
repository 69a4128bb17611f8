import { execFile, spawnSync } from 'node:child_process'
import { InvalidInputError } from '../errors'

export interface CommandResult {
  /** The exit status; -1 when the command could not be run at all (stderr then says why). */
  status: number
  stdout: string
  stderr: string
}

export async function runCommand (file: string, args: string[]): Promise<CommandResult> {
  return await new Promise(resolve => {
    execFile(file, args, (err, stdout, stderr) => {
      if (err === null) return resolve({ status: 0, stdout, stderr })
      const code = (err as NodeJS.ErrnoException & { code?: number | string }).code
      resolve(typeof code === 'number'
        ? { status: code, stdout, stderr }
        : { status: -1, stdout, stderr: `${file}: ${err.message}` })
    })
  })
}

export function runCommandSync (file: string, args: string[]): CommandResult {
  const r = spawnSync(file, args, { encoding: 'utf8' })
  if (r.error !== undefined) return { status: -1, stdout: '', stderr: `${file}: ${r.error.message}` }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** The error for an unmount refused because the mount is in use. */
export function busy (mountpoint: string): InvalidInputError {
  return new InvalidInputError('BUSY', `${mountpoint} is busy (a file is open or a process works inside)`)
}

/** "fusermount -u /x: not mounted" for a failed unmount command. */
export function commandFailed (file: string, args: string[], result: CommandResult): Error {
  return new Error(`${[file, ...args].join(' ')}: ${(result.stderr.trim() !== '' ? result.stderr : result.stdout).trim() || `exit status ${result.status}`}`)
}
