import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Test } from 'tap'
import * as os from 'node:os'
import { run, type RunResult } from './tools'

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(__dirname, '../../..')
export const ISOMOUNT = path.join(ROOT, 'bin/isomount')
export const ISOTOOL = path.join(ROOT, 'bin/isotool')

export function isomount (args: string[], options: { env?: NodeJS.ProcessEnv, timeout?: number } = {}): RunResult {
  return run(process.execPath, [ISOMOUNT, ...args], { allowFailure: true, timeout: options.timeout ?? 120_000, env: options.env ?? process.env })
}

export function isMounted (mountpoint: string): boolean {
  const real = fs.existsSync(mountpoint) ? fs.realpathSync(mountpoint) : mountpoint
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some(line => line.split(' ')[1] === real.replace(/ /g, '\\040'))
}

/** The daemon serving a mount point, from its record in the runtime directory. */
export function daemonPid (mountpoint: string): number | undefined {
  const real = fs.realpathSync(mountpoint)
  for (const dir of ['/run/isomount', process.env.XDG_RUNTIME_DIR !== undefined ? path.join(process.env.XDG_RUNTIME_DIR, 'isomount') : '']) {
    if (dir === '' || !fs.existsSync(dir)) continue
    for (const file of fs.readdirSync(dir).filter(f => f.endsWith('.json'))) {
      try {
        const record = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { pid: number, mountpoint: string }
        if (record.mountpoint === real) return record.pid
      } catch { /* a record being written or removed */ }
    }
  }
  return undefined
}

export function alive (pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function waitFor (condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * Lazily unmounts (a mount whose daemon is gone, or in teardown): umount -i -l as root, which also drops
 * the /run/mount/utab entry a root mount makes (Platform.announceMount), else fusermount -u -z.
 */
export function detachMount (mountpoint: string): void {
  if (process.getuid?.() === 0) run('umount', ['-i', '-l', mountpoint], { allowFailure: true })
  else run('fusermount', ['-u', '-z', mountpoint], { allowFailure: true })
}

/**
 * Gets a mount point out of the way whatever state it is in: `isomount -u`, then a lazy fusermount, then
 * killing its daemon; each step with a bounded wait. Used in teardown, so it never throws.
 */
export async function forceUnmount (mountpoint: string): Promise<void> {
  if (!fs.existsSync(mountpoint)) return
  const pid = daemonPid(mountpoint)
  if (isMounted(mountpoint)) isomount(['-u', mountpoint], { timeout: 30_000 })
  if (isMounted(mountpoint)) detachMount(mountpoint)
  if (alive(pid)) {
    await waitFor(() => !alive(pid), 10_000, 'the daemon to exit').catch(() => {
      try { process.kill(pid as number, 'SIGKILL') } catch { /* gone */ }
    })
  }
}

export interface Mounted {
  mountpoint: string
  result: RunResult
  /** `isomount -u`: the result of the command itself. */
  unmount: () => RunResult
}

/** Mounts with the real command into a scratch mount point, unmounted in teardown whatever happens. */
export function mountImage (t: Test, image: string, options: string[] = [], mountpoint?: string): Mounted {
  const parent = mountpoint === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'isomount-mnt-')) : undefined
  const target = mountpoint ?? path.join(parent as string, 'mnt')
  fs.mkdirSync(target, { recursive: true })
  // One teardown, in this order: a recursive removal must never reach into a live (writable) mount.
  t.teardown(async () => {
    await forceUnmount(target)
    if (parent !== undefined && !isMounted(target)) fs.rmSync(parent, { recursive: true, force: true })
  })
  const args = options.length > 0 ? ['-o', options.join(','), image, target] : [image, target]
  const result = isomount(args)
  return { mountpoint: target, result, unmount: () => isomount(['-u', target]) }
}
