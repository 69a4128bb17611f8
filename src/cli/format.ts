import { majorOf, minorOf, type Stat } from '../iso/model/stat'

/** "drwxr-xr-x" from a mode, as ls -l prints it. */
export function modeString (mode: number): string {
  const types: Record<number, string> = { 0o040000: 'd', 0o120000: 'l', 0o010000: 'p', 0o140000: 's', 0o020000: 'c', 0o060000: 'b' }
  let text = types[mode & 0o170000] ?? '-'
  const rwx = 'rwxrwxrwx'
  for (let i = 0; i < 9; i++) text += (mode & (1 << (8 - i))) !== 0 ? rwx[i] : '-'
  const special: Array<[number, number, string, string]> = [[0o4000, 3, 's', 'S'], [0o2000, 6, 's', 'S'], [0o1000, 9, 't', 'T']]
  for (const [bit, at, withExec, without] of special) {
    if ((mode & bit) !== 0) text = text.slice(0, at) + (text[at] === 'x' ? withExec : without) + text.slice(at + 1)
  }
  return text
}

export function dateString (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')
}

export function longListing (stat: Stat, name: string, target?: string): string {
  const size = stat.kind === 'char-device' || stat.kind === 'block-device'
    ? `${majorOf(stat.rdev)}, ${minorOf(stat.rdev)}`
    : String(stat.size)
  return `${modeString(stat.mode)} ${String(stat.nlink).padStart(3)} ${String(stat.uid).padStart(5)} ${String(stat.gid).padStart(5)} ` +
    `${size.padStart(12)} ${dateString(stat.mtimeMs)} ${name}${target !== undefined ? ` -> ${target}` : ''}`
}

/** Prints running totals to stderr at most once a second, only where someone watches (a terminal). */
export class Progress {
  private last = Date.now()
  private shown = false

  constructor (private readonly label: string, private readonly enabled = process.stderr.isTTY === true) {}

  update (text: () => string): void {
    if (!this.enabled || Date.now() - this.last < 1000) return
    this.last = Date.now()
    this.shown = true
    process.stderr.write(`\r${this.label}: ${text()}\x1b[K`)
  }

  done (): void {
    if (this.shown) process.stderr.write('\n')
  }
}

export function mib (bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`
}
