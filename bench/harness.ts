import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

/*
 * What every benchmark needs: timing, shell commands with their peak memory, mounts (ours and fuseiso)
 * that are always taken down, and a table of results with ratios against the peers of the same run.
 */

export const ROOT = path.resolve(__dirname, '../..')
export const ISOMOUNT = path.join(ROOT, 'bin/isomount')
export const ISOTOOL = path.join(ROOT, 'bin/isotool')

export interface Row {
  section: string
  what: string
  ours: number
  peer?: number
  peerName?: string
  unit: 's' | 'MiB/s' | 'MiB'
  /** The target, as text ("ours ≤ 2× peer"), and whether it was met. */
  target?: string
  met?: boolean
}

export const rows: Row[] = []

export function record (row: Row): void {
  rows.push(row)
  console.log(formatRow(row))
}

function formatRow (r: Row): string {
  const num = (n: number): string => r.unit === 's' ? n.toFixed(3) : n.toFixed(1)
  let ratio = ''
  if (r.peer !== undefined && r.peer > 0 && r.ours > 0) {
    ratio = r.unit === 'MiB/s' ? `  ×${(r.ours / r.peer).toFixed(2)} of ${r.peerName}` : `  ${(r.ours / r.peer).toFixed(2)}× ${r.peerName}`
  }
  const peer = r.peer !== undefined ? `  ${r.peerName}: ${num(r.peer)} ${r.unit}` : ''
  const target = r.target !== undefined ? `  [target ${r.target}: ${r.met === true ? 'met' : 'NOT met'}]` : ''
  return `${r.section.padEnd(7)} ${r.what.padEnd(46)} ours: ${num(r.ours)} ${r.unit}${peer}${ratio}${target}`
}

/** Seconds taken by `work`. */
export async function seconds (work: () => unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await work()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** The best of `n` runs: the least disturbed by other load on a shared machine. */
export async function best (n: number, work: () => unknown): Promise<number> {
  let min = Infinity
  for (let i = 0; i < n; i++) min = Math.min(min, await seconds(work))
  return min
}

/** The least of `n` measurements that `measure` makes itself (a part of what it runs, such as an unmount). */
export async function leastOf (n: number, measure: () => Promise<number>): Promise<number> {
  let min = Infinity
  for (let i = 0; i < n; i++) min = Math.min(min, await measure())
  return min
}

export function sh (command: string, options: { cwd?: string } = {}): string {
  return execFileSync('bash', ['-c', `set -o pipefail; ${command}`], { cwd: options.cwd, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Runs a command under GNU time: its wall time and peak resident memory. */
export function measured (command: string, options: { cwd?: string } = {}): { seconds: number, maxRssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', 'bash', '-c', command], { cwd: options.cwd, encoding: 'utf8', maxBuffer: 1 << 28 })
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr)
  if (r.status !== 0 || m === null) throw new Error(`${command} failed: ${r.stderr.slice(-2000)}`)
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024 }
}

export function dropCaches (): void {
  // Cold reads where we are allowed to; otherwise every peer reads warm alike.
  try { execFileSync('bash', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' }) } catch { /* not root */ }
}

function isMounted (mountpoint: string): boolean {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some(l => l.split(' ')[1] === mountpoint)
}

/** Mounts with our command; `work` runs with the mount live; always unmounted (with commit) after. */
export async function withIsomount<T> (image: string, options: string[], work: (mnt: string) => Promise<T> | T): Promise<{ result: T, unmountSeconds: number, mountSeconds: number, peakRssMiB: number }> {
  const mnt = fs.mkdtempSync('/tmp/isomount-bench-mnt-')
  const mountSeconds = await seconds(() => execFileSync(process.execPath, [ISOMOUNT, ...(options.length > 0 ? ['-o', options.join(',')] : []), image, mnt], { stdio: 'ignore' }))
  let result: T
  let peakRssMiB = 0
  try {
    result = await work(mnt)
    peakRssMiB = daemonPeakRss(mnt)
  } catch (err) {
    spawnSync(process.execPath, [ISOMOUNT, '-u', mnt], { stdio: 'ignore' })
    if (isMounted(mnt)) spawnSync('fusermount', ['-u', '-z', mnt])
    throw err
  }
  const unmountSeconds = await seconds(() => execFileSync(process.execPath, [ISOMOUNT, '-u', mnt], { stdio: 'ignore' }))
  fs.rmdirSync(mnt)
  return { result, unmountSeconds, mountSeconds, peakRssMiB }
}

/** The daemon's peak resident memory (VmHWM), found through its runtime record. */
function daemonPeakRss (mnt: string): number {
  for (const dir of ['/run/isomount', path.join(process.env.XDG_RUNTIME_DIR ?? '/nonexistent', 'isomount')]) {
    if (!fs.existsSync(dir)) continue
    for (const file of fs.readdirSync(dir).filter(f => f.endsWith('.json'))) {
      try {
        const rec = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { pid: number, mountpoint: string }
        if (rec.mountpoint === fs.realpathSync(mnt)) return processPeakRss(rec.pid)
      } catch { /* a record being written */ }
    }
  }
  return 0
}

export function processPeakRss (pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : 0
}

export async function withFuseiso<T> (image: string, work: (mnt: string) => Promise<T> | T): Promise<{ result: T, mountSeconds: number, peakRssMiB: number }> {
  const mnt = fs.mkdtempSync('/tmp/fuseiso-bench-mnt-')
  const mountSeconds = await seconds(() => execFileSync('fuseiso', [image, mnt], { stdio: 'ignore' }))
  try {
    const result = await work(mnt)
    const pid = Number(sh(`pgrep -n -f 'fuseiso ${image} ${mnt}'`).trim())
    return { result, mountSeconds, peakRssMiB: pid > 0 ? processPeakRss(pid) : 0 }
  } finally {
    spawnSync('fusermount', ['-u', '-z', mnt])
    fs.rmdirSync(mnt)
  }
}

export const MiB = 2 ** 20
