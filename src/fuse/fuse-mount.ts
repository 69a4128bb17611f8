import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import Fuse from 'fuse-native'
import type { FuseOperations, FuseOptions } from 'fuse-native'
import { InvalidInputError } from '../errors'
import { logger } from '../log'
import { invalidateInode } from './binding'
import { isMounted } from './runtime'

const log = logger('fuse')

export interface FuseMountOptions {
  readOnly: boolean
  allowOther: boolean
  /** What /proc/mounts shows as the source (the image path). */
  fsname: string
}

/**
 * fuse-native with the libfuse options it does not expose: use_ino (our stable inode numbers reach
 * stat), big_writes (128 KiB writes instead of 4 KiB), ro.
 */
class ConfiguredFuse extends Fuse {
  constructor (mnt: string, ops: FuseOperations, opts: FuseOptions, private readonly extra: string[]) {
    super(mnt, ops, opts)
  }

  protected override _fuseOptions (): string {
    const base = super._fuseOptions()
    const extra = this.extra.join(',')
    if (extra === '') return base
    return base === '' ? `-o${extra}` : `${base},${extra}`
  }

  get thread (): Buffer | null {
    return this._thread
  }
}

/** libfuse option values are comma-separated; a comma or backslash in a value is escaped (fuse_opt.c). */
function escapeOptionValue (value: string): string {
  return value.replace(/[\\,]/g, c => `\\${c}`)
}

/**
 * One live FUSE mount. `ended` resolves when the kernel has let go of it: not when the mount disappears
 * from the mount table (a lazy unmount does that while files are still open) but when libfuse's session
 * ends and it closes its /dev/fuse descriptor, after which no request can arrive.
 */
export class FuseMount {
  readonly ended: Promise<void>
  private endedResolve!: () => void

  private constructor (readonly mountpoint: string, private readonly fuseFd: number | undefined, private readonly fuse: ConfiguredFuse) {
    this.ended = new Promise(resolve => { this.endedResolve = resolve })
    this.watchSession()
  }

  static async start (ops: FuseOperations, mountpoint: string, options: FuseMountOptions): Promise<FuseMount> {
    const extra = ['use_ino', 'big_writes', 'default_permissions', `fsname=${escapeOptionValue(options.fsname)}`, 'subtype=isomount']
    if (options.readOnly) extra.push('ro')
    const fuse = new ConfiguredFuse(mountpoint, ops, {
      force: false,
      mkdir: false,
      allowOther: options.allowOther,
      // Read-only, nothing changes behind the kernel's back: it may cache names, attributes and pages.
      // Read-write, hard links are separate kernel inodes under libfuse's path API, so writes through one
      // name must show through the others within a second.
      entryTimeout: options.readOnly ? 30 : 1,
      attrTimeout: options.readOnly ? 30 : 1,
      kernelCache: options.readOnly,
      // No timeout: fuse-native would answer ETIMEDOUT while our operation is still queued (a change
      // waiting for an `isomount sync` commit, a read on a stalled disk), which would then still happen
      // after the caller was told it failed, and read or write a buffer libfuse has since reused. Every
      // callback is answered once, when its operation has ended, as a disk answers.
      timeout: false
    }, extra)
    const before = fuseDescriptors()
    await new Promise<void>((resolve, reject) => fuse.mount(err => err !== null && err !== undefined ? reject(mountError(err, mountpoint)) : resolve()))
    const fd = fuseDescriptors().find(fd => !before.includes(fd))
    log('mounted %s (fuse fd %s)', mountpoint, fd)
    return new FuseMount(mountpoint, fd, fuse)
  }

  /**
   * The file with inode number `ino` changed, and other names show it: libfuse's path API gives each name
   * its own kernel inode, and each caches attributes for attr_timeout (a second, read-write), so a write
   * through one name would not show through another (its size, times) for up to a second. The kernel is
   * told to drop them all; attributes only, which cannot wait on a request we are serving.
   */
  invalidate (ino: number): void {
    const thread = this.fuse.thread
    if (thread === null) return
    const told = invalidateInode(thread, ino)
    log('inode %d changed: %d kernel inodes told', ino, told)
  }

  /**
   * Unmounts without forcing: fails with BUSY while files are open or a process has its working directory
   * inside, exactly as umount(8) would. Resolves once the session has ended.
   */
  async unmount (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      execFile('fusermount', ['-u', this.mountpoint], (err, _stdout, stderr) => {
        if (err === null) return resolve()
        if (/busy/i.test(stderr)) reject(new InvalidInputError('BUSY', `${this.mountpoint} is busy (a file is open or a process works inside)`))
        else if (/not found|not mounted|Invalid argument/i.test(stderr) && !isMounted(this.mountpoint)) resolve()
        else reject(new Error(`fusermount -u ${this.mountpoint}: ${stderr.trim()}`))
      })
    })
    await this.ended
  }

  /** Detaches now; the session ends when the last user lets go (umount -l). */
  async detach (): Promise<void> {
    await new Promise<void>(resolve => execFile('fusermount', ['-u', '-z', this.mountpoint], () => resolve()))
  }

  /**
   * Polled because libfuse says nothing when its session ends; often, since `isomount -u` waits for the
   * end before the commit can start (a readlink per poll).
   */
  private watchSession (): void {
    const timer = setInterval(() => {
      const alive = this.fuseFd !== undefined ? isFuseDescriptor(this.fuseFd) : isMounted(this.mountpoint)
      if (!alive) {
        clearInterval(timer)
        log('session for %s ended', this.mountpoint)
        this.endedResolve()
      }
    }, 20)
  }
}

function mountError (err: Error, mountpoint: string): Error {
  if (/Mountpoint does not exist/.test(err.message)) return new InvalidInputError('NOT_FOUND', `mount point ${mountpoint} does not exist`)
  if (/not a directory/.test(err.message)) return new InvalidInputError('NOT_A_DIRECTORY', `mount point ${mountpoint} is not a directory`)
  if (/in use/.test(err.message)) return new InvalidInputError('BUSY', `${mountpoint} is already a mount point`)
  return new Error(`mounting ${mountpoint} failed (is /dev/fuse available and fusermount installed?): ${err.message}`)
}

function fuseDescriptors (): number[] {
  let fds: string[]
  try {
    fds = fs.readdirSync('/proc/self/fd')
  } catch {
    return []
  }
  return fds.map(Number).filter(isFuseDescriptor)
}

function isFuseDescriptor (fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/fuse'
  } catch {
    return false
  }
}
