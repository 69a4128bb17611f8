import Fuse from 'fuse-native'
import type { FuseOperations, FuseOptions } from 'fuse-native'
import { InvalidInputError } from '../errors'
import { logger } from '../log'
import { currentPlatform, type FuseOptionRequest } from '../platform'
import { forgetAttributes, invalidateInode } from './binding'

const log = logger('fuse')

/** fuse-native with the libfuse options it does not expose (Platform.fuseOptions: use_ino, ro, …). */
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

  static async start (ops: FuseOperations, mountpoint: string, options: FuseOptionRequest): Promise<FuseMount> {
    const platform = currentPlatform()
    const extra = platform.fuseOptions(options)
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
    const before = platform.fuseDescriptors()
    await new Promise<void>((resolve, reject) => fuse.mount(err => err !== null && err !== undefined ? reject(mountError(err, mountpoint)) : resolve()))
    const fd = platform.fuseDescriptors().find(fd => !before.includes(fd))
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

  /** Something changed other than through a request (a commit): the addon's attributes from listings go. */
  forgetAttributes (): void {
    const thread = this.fuse.thread
    if (thread !== null) forgetAttributes(thread)
  }

  /**
   * Unmounts without forcing: fails with BUSY while files are open or a process has its working directory
   * inside, exactly as umount(8) would. Resolves once the session has ended.
   */
  async unmount (): Promise<void> {
    await currentPlatform().unmount(this.mountpoint, 'normal')
    await this.ended
  }

  /** Detaches now; the session ends when the last user lets go (umount -l). Never fails: a last resort. */
  async detach (): Promise<void> {
    await currentPlatform().unmount(this.mountpoint, 'detach').catch(err => log('detaching %s: %s', this.mountpoint, (err as Error).message))
  }

  /**
   * Polled because libfuse says nothing when its session ends; often, since `isomount -u` and umount(8)
   * wait for the end (a readlink per poll on Linux, an fstat on macOS).
   */
  private watchSession (): void {
    const platform = currentPlatform()
    const timer = setInterval(() => {
      const alive = this.fuseFd !== undefined ? platform.isFuseDescriptor(this.fuseFd) : platform.isMountPoint(this.mountpoint)
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
  return new Error(`mounting ${mountpoint} failed (${currentPlatform().mountFailureHint}): ${err.message}`)
}

