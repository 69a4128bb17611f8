import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError, userMessage } from '../errors'
import { recoverJournal } from '../iso/commit/journal'
import { removeStaleTemporaries } from '../iso/io/durable-file'
import type { CommitProgress, CommitResult } from '../iso/commit/commit'
import { IsoImage } from '../iso/image'
import { describeReadOnly } from '../iso/read/read-only-reasons'
import { logger } from '../log'
import { currentPlatform } from '../platform'
import { ImageVfs } from '../vfs/image-vfs'
import type { Exclusive } from '../vfs/rw-lock'
import type { MountOptions } from '../vfs/mount-options'
import { ControlServer, type ControlRequest } from './control'
import { FuseMount } from './fuse-mount'
import { checkMountRequest } from './mount-point'
import { fuseOperations } from './operations'
import { controlSocketPath, ImageLock, removeMountRecord, writeMountRecord } from './runtime'

const log = logger('commit')

export interface MountRequest {
  image: string
  mountpoint: string
  options: MountOptions
  /** Print commit progress on stderr (the foreground daemon). */
  verbose: boolean
}

/** Progress lines go to the log, to stderr in the foreground, and to every client waiting on a commit. */
class ProgressReporter {
  private readonly listeners = new Set<(text: string) => void>()
  private lastAt = 0

  constructor (private readonly verbose: boolean) {}

  listen (listener: (text: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  say (text: string): void {
    this.note(text)
    for (const listener of this.listeners) listener(text)
  }

  /**
   * What the user must hear even from a daemon in the background: stderr is the terminal the mount was
   * started from, if any (cli/isomount.ts).
   */
  warn (text: string): void {
    log(text)
    process.stderr.write(`isomount: warning: ${text}\n`)
  }

  /** The log and the foreground's stderr only: for outcomes a waiting client gets as its answer. */
  note (text: string): void {
    log(text)
    if (this.verbose) process.stderr.write(`isomount: ${text}\n`)
  }

  /** At most one line a second: a commit shorter than that says nothing until it is done. */
  progress (p: CommitProgress, startedAt: number): void {
    const now = Date.now()
    if (now - startedAt < 1000 || now - this.lastAt < 1000) return
    this.lastAt = now
    const percent = p.totalBytes > 0 ? Math.floor(100 * p.bytesWritten / p.totalBytes) : 100
    this.say(`committing (${p.mode}${p.phase === 'checksum' ? ', media checksums' : ''}): ${percent}% of ${(p.totalBytes / 1048576).toFixed(1)} MiB`)
  }
}

/**
 * Runs one mount to its end: lock the image, finish any interrupted commit, open, mount, serve; commit
 * the changes on `isomount -u` (and umount(8), through its helper) while the mount is still live, then
 * unmount; when the kernel lets go some other way (fusermount -u, a signal) commit what is left, and only
 * then release the image. A commit that fails keeps the changes, and the mount if it is still there, so
 * that `isomount -u` can retry; the image is untouched meanwhile. `ready` is called once the mount is
 * live or has failed, with what the user must hear before the mount command returns (an image mounted
 * read-only, and why). Resolves with the process exit status.
 */
export async function runMount (request: MountRequest, ready: (err?: Error, notices?: string[]) => void): Promise<number> {
  let lock: ImageLock | undefined
  let image: IsoImage | undefined
  let mount: FuseMount | undefined
  let control: ControlServer | undefined
  let options = request.options
  const notices: string[] = []
  const reporter = new ProgressReporter(request.verbose)
  // A terminal the daemon writes warnings to may go away (the user logs out): never a reason to crash.
  process.stderr.on('error', () => {})
  try {
    const imagePath = fs.realpathSync(request.image)
    const mountpoint = checkMountRequest(request.mountpoint, options)
    if (options.ro) {
      ImageLock.requireFree(imagePath)
    } else {
      try {
        fs.accessSync(path.dirname(imagePath), fs.constants.W_OK)
      } catch {
        throw new InvalidInputError('READ_ONLY', `${path.dirname(imagePath)} is not writable (a commit writes its journal or new image beside ${path.basename(imagePath)}); mount it with -o ro`)
      }
      lock = ImageLock.acquire(imagePath)
      const recovered = recoverJournal(imagePath)
      if (recovered !== 'none') reporter.say(`an interrupted commit was ${recovered === 'replayed' ? 'completed' : 'discarded (it had not started, or was written for other bytes than the image holds)'}`)
      const stale = removeStaleTemporaries(imagePath)
      if (stale > 0) reporter.say(`removed ${stale} temporary image${stale === 1 ? '' : 's'} left by an interrupted remaster`)
      try {
        fs.accessSync(imagePath, fs.constants.W_OK)
      } catch {
        throw new InvalidInputError('READ_ONLY', `${imagePath} is not writable; mount it with -o ro`)
      }
    }
    image = await IsoImage.open(imagePath, {
      strict: options.check === 'strict',
      rockRidge: !options.norock,
      joliet: !options.nojoliet,
      udf: !options.noudf,
      hfsplus: !options.nohfsplus,
      session: options.session
    })
    for (const warning of image.warnings) log('image warning: %s', warning)
    const [refusal] = image.readOnlyReasons
    if (!options.ro && refusal !== undefined) {
      // Said before the mount command returns, instead of a bare EROFS at the first write.
      notices.push(`mounted read-only: ${describeReadOnly(refusal)}`)
      options = { ...options, ro: true }
      lock?.release()
      lock = undefined
    }
    // Permissions are the kernel's (default_permissions); hard-linked files are shown again through all
    // their names once the mount is live.
    const vfs = new ImageVfs(image, options, {
      onReadOnly: reason => reporter.warn(`${mountpoint} stays read-only: ${reason}`),
      linkedChanged: ino => mount?.invalidate(ino)
    })
    // The control socket before the mount: a daemon still answering on it must keep it (ControlServer).
    const socket = controlSocketPath(mountpoint)
    let session: MountSession | undefined
    control = await ControlServer.listen(socket, async (req: ControlRequest, progress) => {
      if (session === undefined) throw new InvalidInputError('BUSY', `${mountpoint} is still being mounted`)
      const stop = reporter.listen(progress)
      try {
        return await session.handle(req)
      } finally {
        stop()
      }
    })
    mount = await FuseMount.start(fuseOperations(vfs), mountpoint, {
      readOnly: options.ro,
      allowOther: options.allowOther,
      fsname: imagePath,
      volumeName: image.volume.volumeId.trim() !== '' ? image.volume.volumeId.trim() : path.basename(imagePath, path.extname(imagePath)),
      nonempty: options.nonempty,
      appleDouble: options.appleDouble,
      appleXattr: options.appleXattr
    })
    await currentPlatform().announceMount(imagePath, mountpoint)
    session = new MountSession(image, vfs, mount, options, reporter)
    const live = session
    writeMountRecord({ image: imagePath, mountpoint, socket })
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => live.signal(signal))
    }
    ready(undefined, notices)
    if (!options.ro) vfs.prepareForWrites()
    const status = await live.finished
    await image.close()
    removeMountRecord(mountpoint)
    lock?.release()
    lock = undefined
    // Only now do waiting clients hear the outcome: once `isomount -u` returns, the image may be mounted again.
    live.released()
    await live.settled()
    return status
  } catch (err) {
    ready(err as Error)
    if (mount !== undefined) await mount.detach()
    await image?.close()
    return 1
  } finally {
    lock?.release()
    // Closing after the last reply was handed to the socket lets a waiting client read it.
    await new Promise(resolve => setTimeout(resolve, 20))
    control?.close()
  }
}

const NOTHING_CHANGED = 'nothing changed; the image is untouched'

/** One mount's life after it is live: serving, committing, and the wait for a retry if a commit failed. */
class MountSession {
  /** Resolves with the exit status once there is nothing more to do. */
  readonly finished: Promise<number>
  private finish!: (status: number) => void
  private unmounted = false
  /** The last commit on the way to unmounting failed; cleared when one succeeds. */
  private failed: Error | undefined
  /** A signal gave the changes up (after a failed commit): the end commits nothing. */
  private discarding = false
  private committing: Promise<string> | undefined
  private lastMessage = ''
  private readonly pending = new Set<Promise<unknown>>()
  /** Resolves once the daemon has let go of the image (its lock): called by runMount. */
  released!: () => void
  private readonly lockReleased: Promise<void>
  /** Settles when the commit that follows the unmount has succeeded or failed. */
  private readonly unmountHandled: Promise<void>

  constructor (
    private readonly image: IsoImage,
    private readonly vfs: ImageVfs,
    private readonly mount: FuseMount,
    private readonly options: MountOptions,
    private readonly reporter: ProgressReporter
  ) {
    this.finished = new Promise(resolve => { this.finish = resolve })
    this.lockReleased = new Promise(resolve => { this.released = resolve })
    this.unmountHandled = mount.ended.then(async () => await this.afterUnmount())
  }

  async handle (request: ControlRequest): Promise<string> {
    const work = this.dispatch(request)
    this.pending.add(work)
    try {
      return await work
    } finally {
      this.pending.delete(work)
    }
  }

  async settled (): Promise<void> {
    await Promise.allSettled([...this.pending])
  }

  /** SIGTERM and friends unmount, committing as fusermount -u does; after a failed commit they give the changes up. */
  signal (signal: string): void {
    if (this.failed !== undefined) {
      this.reporter.say(`${signal}: giving up the failed commit; the image is unchanged and the changes are discarded`)
      this.discarding = true
      if (this.unmounted) {
        this.finish(1)
        return
      }
    } else {
      this.reporter.say(`${signal}: unmounting ${this.mount.mountpoint}`)
    }
    // A busy mount is detached instead; the session still ends only when its last user is gone.
    this.mount.unmount().catch(async () => await this.mount.detach())
  }

  private async dispatch (request: ControlRequest): Promise<string> {
    switch (request.op) {
      case 'unmount':
        // Already unmounted: a failed commit is being retried.
        if (this.unmounted) return await this.retry()
        return await this.commitAndUnmount(request.lazy === true)
      case 'sync':
        if (this.unmounted) return await this.retry()
        if (this.options.ro) return 'nothing to commit: the mount is read-only'
        return await this.vfs.frozen(async excludeReaders => await this.commit(excludeReaders))
      case 'status':
        return JSON.stringify({
          image: this.image.path,
          mountpoint: this.mount.mountpoint,
          namespace: this.vfs.view.namespace,
          readOnly: this.options.ro,
          changed: !this.image.changes.empty,
          failed: this.failed?.message
        })
    }
  }

  /**
   * `isomount -u` (and umount(8) through its helper): commit while the mount is still live, as `isomount
   * sync` does, so that a commit that fails (no room for a big file) leaves the mount there to put things
   * right through; then unmount, and answer once the image is released. What changes between the commit
   * and the unmount is committed at the end, as after fusermount -u.
   */
  private async commitAndUnmount (lazy: boolean): Promise<string> {
    const mountpoint = this.mount.mountpoint
    this.failed = undefined
    let committed: string | undefined
    if (!this.options.ro && this.options.commit !== 'never' && !this.image.changes.empty) {
      try {
        committed = await this.vfs.frozen(async excludeReaders => await this.commit(excludeReaders))
      } catch (err) {
        // Committed but no longer followed (staleReason): nothing to retry; unmount, and the end reports it.
        if (this.image.staleReason === undefined) throw this.liveCommitFailed(err as Error)
      }
    }
    if (lazy) {
      await this.mount.detach()
      // Nothing open inside: the session ends at once, and the answer can wait for the release as usual.
      const ended = await Promise.race([this.mount.ended.then(() => true), delay(1000).then(() => false)])
      if (!ended) return `${committed !== undefined ? `${committed}; ` : ''}detached ${mountpoint}; it is still in use, and what is changed through files still open is committed when the last one is closed`
    } else {
      try {
        await this.mount.unmount()
      } catch (err) {
        if (committed === undefined || (err as InvalidInputError).code !== 'BUSY') throw err
        throw new InvalidInputError('BUSY', `${(err as Error).message}, so it stays mounted; the changes made so far are committed (${committed})`)
      }
    }
    const final = await this.outcome()
    if (committed === undefined) return final
    return final === NOTHING_CHANGED ? committed : `${committed}; then ${final}`
  }

  /** The error `isomount -u` answers when its commit failed on a live mount: the mount stays as it was. */
  private liveCommitFailed (err: Error): Error {
    this.failed = err
    const mountpoint = this.mount.mountpoint
    const message = `commit failed: ${userMessage(err)}. The image is unchanged, and ${mountpoint} stays mounted with the changes: ` +
      `make room (or remove through the mount what does not fit) and run "isomount -u ${mountpoint}" again, or ` +
      `"kill ${process.pid}" to unmount and discard them`
    this.reporter.note(message)
    return err instanceof InvalidInputError ? new InvalidInputError(err.code, message) : new Error(message, { cause: err })
  }

  private async afterUnmount (): Promise<void> {
    this.unmounted = true
    this.reporter.note(`unmounted ${this.mount.mountpoint}`)
    if (this.discarding) {
      this.finish(1)
      return
    }
    if (this.options.ro || this.options.commit === 'never') {
      this.lastMessage = this.options.commit === 'never' && !this.image.changes.empty
        ? `unmounted ${this.mount.mountpoint}; changes discarded (commit=never)`
        : `unmounted ${this.mount.mountpoint}`
      this.finish(0)
      return
    }
    try {
      await this.commit()
      this.finish(0)
    } catch (err) {
      this.commitFailed(err as Error)
    }
  }

  /**
   * A failed commit after the unmount leaves the image as it was and the changes kept for a retry; unless
   * the image can no longer be committed from this model (staleReason), when waiting would only fail again.
   */
  private commitFailed (err: Error): void {
    this.failed = err
    const stale = this.image.staleReason
    if (stale !== undefined) {
      this.reporter.say(`commit failed: ${stale}`)
      this.finish(1)
      return
    }
    this.reporter.say(`commit failed: ${userMessage(err)}. The image is unchanged and the changes are kept: ` +
      `run "isomount -u ${this.mount.mountpoint}" to try again, or "kill ${process.pid}" to discard them`)
  }

  /** What a waiting `isomount -u` hears once the unmount's commit is over. */
  private async outcome (): Promise<string> {
    await this.unmountHandled
    if (this.failed !== undefined) throw this.failed
    await this.lockReleased
    return this.lastMessage
  }

  private async retry (): Promise<string> {
    if (this.failed === undefined) return await this.outcome()
    try {
      const message = await this.commit()
      this.finish(0)
      await this.lockReleased
      return message
    } catch (err) {
      this.failed = err as Error
      if (this.image.staleReason !== undefined) this.finish(1)
      throw err
    }
  }

  /** One commit at a time; concurrent requests share it. */
  private async commit (excludeReaders?: Exclusive): Promise<string> {
    if (this.committing !== undefined) return await this.committing
    this.committing = this.commitNow(excludeReaders)
    try {
      this.lastMessage = await this.committing
      this.failed = undefined
      return this.lastMessage
    } finally {
      this.committing = undefined
      // Sizes and places read again from the committed image: nothing kept from before may answer a lookup.
      this.mount.forgetAttributes()
    }
  }

  private async commitNow (excludeReaders?: Exclusive): Promise<string> {
    if (this.image.changes.empty) return NOTHING_CHANGED
    const started = Date.now()
    this.reporter.say('committing changes')
    const result: CommitResult = await this.image.commit({
      excludeReaders,
      mode: this.options.commit === 'never' ? 'auto' : this.options.commit,
      onProgress: p => this.reporter.progress(p, started)
    })
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const message = result.mode === 'unchanged'
      ? NOTHING_CHANGED
      : `committed ${describe(result)} in ${seconds} s`
    this.reporter.note(message)
    return message
  }
}

async function delay (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

function describe (result: CommitResult): string {
  const size = result.bytesWritten >= 1048576 ? `${(result.bytesWritten / 1048576).toFixed(1)} MiB` : `${Math.ceil(result.bytesWritten / 1024)} KiB`
  const how = { inplace: 'in place', append: 'by appending', remaster: 'by remastering', unchanged: '' }[result.mode]
  const notes = result.notes !== undefined && result.notes.length > 0 ? `; ${result.notes.join('; ')}` : ''
  return `${how} (${size} written)${notes}`
}
