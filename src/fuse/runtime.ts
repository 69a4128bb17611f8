import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'

/**
 * Where running mounts leave their traces: a control socket per mount point (so `isomount -u` can ask the
 * daemon to unmount and wait for its commit) and a lock per image (so an image is never mounted twice,
 * nor mounted again before the previous mount's commit has ended).
 */
export function runtimeDir (): string {
  const base = process.getuid?.() === 0 ? '/run' : process.env.XDG_RUNTIME_DIR ?? os.tmpdir()
  const uid = process.getuid?.() ?? 0
  const dir = path.join(base, uid === 0 || process.env.XDG_RUNTIME_DIR !== undefined ? 'isomount' : `isomount-${uid}`)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

function key (text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20)
}

/** The control socket of the mount at `mountpoint` (an absolute, resolved path). */
export function controlSocketPath (mountpoint: string): string {
  return path.join(runtimeDir(), `${key(mountpoint)}.sock`)
}

export interface MountRecord {
  pid: number
  image: string
  mountpoint: string
  socket: string
}

function recordPath (mountpoint: string): string {
  return path.join(runtimeDir(), `${key(mountpoint)}.json`)
}

export function writeMountRecord (record: MountRecord): void {
  fs.writeFileSync(recordPath(record.mountpoint), JSON.stringify(record))
}

export function readMountRecord (mountpoint: string): MountRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(recordPath(mountpoint), 'utf8')) as MountRecord
    return isAlive(record.pid) ? record : undefined
  } catch {
    return undefined
  }
}

export function removeMountRecord (mountpoint: string): void {
  fs.rmSync(recordPath(mountpoint), { force: true })
}

/** An exclusive claim on one image file (by device and inode, whatever path names it). */
export class ImageLock {
  private constructor (private readonly file: string) {}

  static acquire (imagePath: string): ImageLock {
    const st = fs.statSync(imagePath)
    const file = path.join(runtimeDir(), `image-${st.dev}-${st.ino}.lock`)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: 'wx' })
        return new ImageLock(file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const holder = Number(fs.readFileSync(file, 'utf8'))
        if (isAlive(holder) && holder !== process.pid) {
          throw new InvalidInputError('BUSY', `${imagePath} is already mounted (or its commit is still running) by process ${holder}`)
        }
        fs.rmSync(file, { force: true })
      }
    }
    throw new InvalidInputError('BUSY', `could not lock ${imagePath}`)
  }

  release (): void {
    fs.rmSync(this.file, { force: true })
  }
}

function isAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether a path is a mount point now (macOS and others without /proc/self/fd use this). */
export function isMounted (mountpoint: string): boolean {
  try {
    const table = fs.readFileSync('/proc/self/mountinfo', 'utf8')
    const escaped = mountpoint.replace(/[\\ \t\n]/g, c => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'))
    return table.split('\n').some(line => line.split(' ')[4] === escaped)
  } catch {
    return false
  }
}
