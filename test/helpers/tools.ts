import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Test } from 'tap'

/** Debian's python3, which has python3-pycdlib (a pyenv python earlier on PATH would not). */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

export interface RunResult {
  stdout: string
  stderr: string
  status: number
}

/** Runs a command; throws with its stderr unless it exits 0 (or `allowFailure`). */
export function run (cmd: string, args: string[], options: SpawnSyncOptions & { allowFailure?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options })
  if (r.error !== undefined) throw r.error
  const result = { stdout: String(r.stdout), stderr: String(r.stderr), status: r.status ?? -1 }
  if (result.status !== 0 && options.allowFailure !== true) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr.slice(0, 2000)}`)
  }
  return result
}

export function hasCommand (name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0
}

/** A scratch directory removed when the test ends, pass or fail. */
export function scratch (t: Test, label = 'isomount-test'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A source tree description: file contents, symlinks, directories, fifos, hard links. */
export type TreeSpec = { [name: string]: TreeItem }
export type TreeItem =
  | string
  | Buffer
  | { symlink: string }
  | { fifo: true }
  | { hardlink: string }
  | { file: string | Buffer, mode?: number, mtime?: Date }
  | TreeSpec

export function writeTree (root: string, spec: TreeSpec): void {
  fs.mkdirSync(root, { recursive: true })
  const links: Array<[string, string]> = []
  const walk = (dir: string, items: TreeSpec): void => {
    for (const [name, item] of Object.entries(items)) {
      const p = path.join(dir, name)
      if (typeof item === 'string' || Buffer.isBuffer(item)) fs.writeFileSync(p, item)
      else if ('symlink' in item && typeof item.symlink === 'string') fs.symlinkSync(item.symlink, p)
      else if ('fifo' in item && item.fifo === true) run('mkfifo', [p])
      else if ('hardlink' in item && typeof item.hardlink === 'string') links.push([path.join(root, item.hardlink), p])
      else if ('file' in item && (typeof item.file === 'string' || Buffer.isBuffer(item.file))) {
        fs.writeFileSync(p, item.file)
        if (typeof item.mode === 'number') fs.chmodSync(p, item.mode)
        if (item.mtime instanceof Date) fs.utimesSync(p, item.mtime, item.mtime)
      } else {
        fs.mkdirSync(p, { recursive: true })
        walk(p, item as TreeSpec)
      }
    }
  }
  walk(root, spec)
  for (const [target, p] of links) fs.linkSync(target, p)
}

/** Builds an image with genisoimage; `args` are its flags (before -o). */
export function genisoimage (out: string, args: string[], ...sources: string[]): string {
  run('genisoimage', ['-quiet', ...args, '-o', out, ...sources])
  return out
}

/** Builds an image with xorriso's mkisofs emulation. */
export function xorrisoMkisofs (out: string, args: string[], ...sources: string[]): string {
  run('xorriso', ['-as', 'mkisofs', '-quiet', ...args, '-o', out, ...sources])
  return out
}

/** Real images shipped in Debian packages that scripts/setup.sh installs. */
export const DEBIAN_IMAGES = {
  ipxe: '/usr/lib/ipxe/ipxe.iso',
  grubRescue: '/usr/lib/grub-rescue/grub-rescue-cdrom.iso'
} as const
