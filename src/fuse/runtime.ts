import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import { currentPlatform } from '../platform'

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
  /** The daemon's start (Platform.processStatus): a record left by a killed daemon is not taken for a live one. */
  start?: string
  image: string
  mountpoint: string
  socket: string
}

function recordPath (mountpoint: string): string {
  return path.join(runtimeDir(), `${key(mountpoint)}.json`)
}

/** Records this process as the daemon of `mountpoint`, clearing away the traces of daemons that died. */
export function writeMountRecord (record: Omit<MountRecord, 'pid' | 'start'>): void {
  pruneDeadRecords()
  const { pid, start } = processIdentity(process.pid)
  fs.writeFileSync(recordPath(record.mountpoint), JSON.stringify({ ...record, pid, start }))
}

/**
 * Removes the records and sockets of daemons no longer running (killed, or the machine reset without
 * clearing /run): nothing reads them but as "not mounted", and they would otherwise pile up.
 */
function pruneDeadRecords (): void {
  const dir = runtimeDir()
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.json')) continue
    const file = path.join(dir, name)
    const record = parseIdentity(readIfPresent(file) ?? '')
    if (record === undefined || identityAlive(record)) continue
    const socket = file.replace(/\.json$/, '.sock')
    const recorded = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0
    fs.rmSync(file, { force: true })
    // The dead daemon made its socket before its record; a newer one belongs to a daemon starting now.
    if ((fs.statSync(socket, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) <= recorded) fs.rmSync(socket, { force: true })
  }
}

/** The record of the daemon serving (or waiting to commit for) `mountpoint`, if that daemon still runs. */
export function readMountRecord (mountpoint: string): MountRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(recordPath(mountpoint), 'utf8')) as MountRecord
    return identityAlive(record) ? record : undefined
  } catch {
    return undefined
  }
}

/** Removes this process's record of `mountpoint` (never a record another daemon has written since). */
export function removeMountRecord (mountpoint: string): void {
  try {
    const record = JSON.parse(fs.readFileSync(recordPath(mountpoint), 'utf8')) as MountRecord
    if (record.pid !== process.pid) return
  } catch { /* unreadable: not a record anyone can use */ }
  fs.rmSync(recordPath(mountpoint), { force: true })
}

/**
 * An exclusive claim on one image for a read-write mount, so that it is never mounted read-write twice,
 * nor again before the previous mount's commit has ended. The lock is a file beside the image
 * (`.IMAGE.isomount-lock`, like the journal), named by path: a lock keyed by inode would be lost when a
 * remaster renames a new file over the image, and one in a per-user directory would not keep root and a
 * user (or one user with and without XDG_RUNTIME_DIR) apart. A read-only mount writes nothing beside the
 * image (it may be in /usr/lib): it takes no lock, but is refused while a read-write mount holds one.
 *
 * The file holds its owner's pid, start time and host (so a reused pid is not mistaken for the owner, nor
 * a process on another machine sharing the directory for a dead one) and is created whole, atomically, by
 * link(2); a stale one is taken over by renaming it away first, so that of two processes taking it over
 * only one wins.
 */
export class ImageLock {
  private constructor (private readonly file: string, private readonly content: string) {}

  static acquire (imagePath: string): ImageLock {
    const file = lockPath(imagePath)
    const content = JSON.stringify(processIdentity(process.pid))
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createWhole(file, content)) return new ImageLock(file, content)
      const held = readIfPresent(file)
      if (held === undefined) continue
      ImageLock.refuseIfHeld(imagePath, held)
      removeIfStill(file, held)
    }
    throw new InvalidInputError('BUSY', `could not lock ${imagePath}`)
  }

  /** For a read-only mount: fails if a live read-write mount (or its commit) holds the image. */
  static requireFree (imagePath: string): void {
    const held = readIfPresent(lockPath(imagePath))
    if (held !== undefined) ImageLock.refuseIfHeld(imagePath, held)
  }

  private static refuseIfHeld (imagePath: string, held: string): void {
    const holder = parseIdentity(held)
    if (holder === undefined || !identityAlive(holder)) return
    if (holder.host !== undefined && holder.host !== os.hostname()) {
      throw new InvalidInputError('BUSY', `${imagePath} is mounted read-write by process ${holder.pid} on ${holder.host}; ` +
        `if that mount is gone (the machine was shut down), remove ${lockPath(imagePath)}`)
    }
    if (holder.pid === process.pid) return
    throw new InvalidInputError('BUSY', `${imagePath} is mounted read-write (or its commit is still running) by process ${holder.pid}`)
  }

  release (): void {
    if (readIfPresent(this.file) === this.content) fs.rmSync(this.file, { force: true })
  }
}

function lockPath (imagePath: string): string {
  return path.join(path.dirname(imagePath), `.${path.basename(imagePath)}.isomount-lock`)
}

/** Creates `file` holding `content`, or returns false if it exists. Never visible half-written. */
function createWhole (file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temp, content, { mode: 0o644 })
  try {
    fs.linkSync(temp, file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return false
  } finally {
    fs.rmSync(temp, { force: true })
  }
}

/** Removes a stale lock unless another process has replaced it meanwhile (then it is put back). */
function removeIfStill (file: string, stale: string): void {
  const aside = `${file}.${process.pid}.stale`
  try {
    fs.renameSync(file, aside)
  } catch {
    return // already taken away by another process
  }
  if (readIfPresent(aside) !== stale) {
    try { fs.linkSync(aside, file) } catch { /* a third process holds it now */ }
  }
  fs.rmSync(aside, { force: true })
}

function readIfPresent (file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

interface ProcessIdentity {
  pid: number
  /** When the process started (Platform.processStatus), so that a later process given the same pid is not taken for it. */
  start?: string | number
  /** The machine it runs on: an image on a network share may be locked from another one. */
  host?: string
}

function processIdentity (pid: number): ProcessIdentity {
  return { pid, start: currentPlatform().processStatus(pid)?.start, host: os.hostname() }
}

function parseIdentity (text: string): ProcessIdentity | undefined {
  try {
    const value = JSON.parse(text) as ProcessIdentity
    return Number.isInteger(value.pid) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the process a lock or record names still runs. A dead process, a zombie (ended, not yet
 * collected by its parent) and a later process given the same pid do not; one on another machine is
 * taken to run, since nothing here can tell.
 */
function identityAlive (holder: ProcessIdentity): boolean {
  if (holder.host !== undefined && holder.host !== os.hostname()) return true
  const status = currentPlatform().processStatus(holder.pid)
  if (status === undefined) return false
  return holder.start === undefined || status.start === undefined || String(holder.start) === status.start
}
