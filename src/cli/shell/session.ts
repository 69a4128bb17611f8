import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError, userMessage } from '../../errors'
import { ImageLock } from '../../fuse/runtime'
import type { CommitResult } from '../../iso/commit/commit'
import { journalPending, recoverJournal } from '../../iso/commit/journal'
import { IsoImage, type OpenOptions } from '../../iso/image'
import type { Node } from '../../iso/model/node'
import type { Namespace, NamespaceView } from '../../iso/namespace'
import { removeStaleTemporaries } from '../../iso/io/durable-file'
import { mib, Progress } from '../format'

/** What identifies the image file's bytes on disk: a change means someone else wrote to it. */
interface FileIdentity {
  dev: number
  ino: number
  size: number
  mtimeMs: number
}

function identityOf (file: string): FileIdentity {
  const st = fs.statSync(file)
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }
}

/**
 * One `isotool shell` session on an image: the image, opened through the library (no FUSE), the
 * namespace it is looked at through, the current directory, and what it takes to write changes back
 * the way a mount's commit does (IsoImage.commit: in place, appended or remastered).
 *
 * The image is not locked while the session only looks: a session left open in a terminal would
 * otherwise keep every mount out. `write` takes the lock a read-write mount takes, for the length of
 * the commit, and refuses when the file changed on disk since it was opened (a mount committed to it
 * meanwhile): changes planned from a model of other bytes would be written at the wrong places.
 */
export class ShellSession {
  /** The current directory: a path in the session's namespace, with no symbolic link in it. */
  cwd = '/'
  private understood?: Promise<void>
  private identity: FileIdentity

  private constructor (
    readonly image: IsoImage,
    readonly imagePath: string,
    readonly view: NamespaceView,
    /** Why changes are refused (an older session, a file we may not write), if they are. */
    private readonly readOnlyReason: string | undefined
  ) {
    this.identity = identityOf(imagePath)
  }

  static async open (given: string, options: OpenOptions, namespace: Namespace | undefined): Promise<ShellSession> {
    if (!fs.existsSync(given)) throw new InvalidInputError('NOT_FOUND', `${given}: no such file`)
    // The lock, journal and temporaries are named after the real path, as a mount names them.
    const imagePath = fs.realpathSync(given)
    let readOnly = options.session !== undefined ? 'an older session (--session) is history: it can be looked at, not changed' : undefined
    readOnly ??= writableReason(imagePath)
    if (readOnly === undefined && journalPending(imagePath)) {
      // As a read-write mount does before it opens: finish (or drop) a commit a crash interrupted.
      const lock = ImageLock.acquire(imagePath)
      try {
        const recovered = recoverJournal(imagePath)
        if (recovered !== 'none') process.stderr.write(`isotool: an interrupted commit was ${recovered === 'replayed' ? 'completed' : 'discarded'}\n`)
        removeStaleTemporaries(imagePath)
      } finally {
        lock.release()
      }
    }
    const image = await IsoImage.open(imagePath, options)
    try {
      return new ShellSession(image, imagePath, image.view(namespace), readOnly)
    } catch (err) {
      await image.close()
      throw err
    }
  }

  get namespace (): Namespace {
    return this.view.namespace
  }

  get changed (): boolean {
    return !this.image.changes.empty
  }

  /** `p` made absolute against the current directory, ".." and "." taken lexically (as cd in sh does). */
  absolute (p = '.'): string {
    return path.posix.resolve(this.cwd, p)
  }

  /**
   * The node at `p`. Symbolic links in the middle are followed inside the image; the last component is
   * followed only when `follow` (cat and cd follow, stat and rm look at the link itself).
   */
  async lookup (p: string, follow: boolean): Promise<Node> {
    const full = this.absolute(p)
    if (full === '/') return this.image.root
    if (follow) return await this.view.resolveFollowing(this.image.root, full)
    const parent = await this.view.resolveFollowing(this.image.root, path.posix.dirname(full))
    if (parent.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${path.posix.dirname(full)} is not a directory`)
    const node = await this.view.child(parent, path.posix.basename(full))
    if (node === undefined) throw new InvalidInputError('NOT_FOUND', `${full}: no such file or directory`)
    return node
  }

  /** The node at `p`, or undefined where nothing is. */
  async find (p: string, follow: boolean): Promise<Node | undefined> {
    try {
      return await this.lookup(p, follow)
    } catch (err) {
      if (err instanceof InvalidInputError && err.code === 'NOT_FOUND') return undefined
      throw err
    }
  }

  /** The directory a new entry at `p` goes into, and its name. */
  async placeOf (p: string): Promise<{ parent: Node, name: string, path: string }> {
    const full = this.absolute(p)
    if (full === '/') throw new InvalidInputError('EXISTS', 'the root exists')
    const parent = await this.lookup(path.posix.dirname(full), true)
    if (parent.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${path.posix.dirname(full)} is not a directory`)
    return { parent, name: path.posix.basename(full), path: full }
  }

  /** A node's path in this namespace, symbolic links resolved (what pwd -P prints). */
  pathOf (node: Node): string {
    return this.view.pathOf(node)
  }

  /**
   * Before the first change: changes are refused where they could never be written (an older session,
   * a file or directory we may not write), or where the image is not fully understood (as a mount
   * stays read-only then: what we did not understand we would not write back faithfully).
   */
  async requireChangeable (): Promise<void> {
    if (this.readOnlyReason !== undefined) throw new InvalidInputError('READ_ONLY', `the image cannot be changed: ${this.readOnlyReason}`)
    this.understood ??= this.image.requireUnderstood().catch(err => {
      throw new InvalidInputError('READ_ONLY', `the image stays read-only: ${userMessage(err)}`)
    })
    await this.understood
  }

  /** Commits the changes into the image file, as a mount's commit does; returns what happened. */
  async write (): Promise<string> {
    if (!this.changed) return 'nothing to write: no changes'
    await this.requireChangeable()
    const lock = ImageLock.acquire(this.imagePath)
    let result: CommitResult
    const started = Date.now()
    const progress = new Progress('writing')
    try {
      const now = identityOf(this.imagePath)
      const before = this.identity
      if (now.dev !== before.dev || now.ino !== before.ino || now.size !== before.size || now.mtimeMs !== before.mtimeMs) {
        throw new InvalidInputError('STALE', `${this.imagePath} was changed by another program since the shell opened it; ` +
          'these changes cannot be written over it (quit, and start again)')
      }
      result = await this.image.commit({
        onProgress: p => progress.update(() => `${p.mode}${p.phase === 'checksum' ? ' (media checksums)' : ''}: ${(100 * p.bytesWritten / Math.max(1, p.totalBytes)).toFixed(0)}% of ${mib(p.totalBytes)}`)
      })
    } finally {
      progress.done()
      lock.release()
    }
    this.identity = identityOf(this.imagePath)
    return `committed ${describeCommit(result)} in ${((Date.now() - started) / 1000).toFixed(1)} s`
  }

  async close (): Promise<void> {
    await this.image.close()
  }
}

/** Why the image file could not be committed to, if it could not: the file or its directory not writable. */
function writableReason (imagePath: string): string | undefined {
  try {
    fs.accessSync(imagePath, fs.constants.W_OK)
  } catch {
    return `${imagePath} is not writable`
  }
  try {
    fs.accessSync(path.dirname(path.resolve(imagePath)), fs.constants.W_OK)
  } catch {
    return `${path.dirname(path.resolve(imagePath))} is not writable (a commit writes its journal or new image beside the image)`
  }
  return undefined
}

export function describeCommit (result: CommitResult): string {
  const size = result.bytesWritten >= 1048576 ? mib(result.bytesWritten) : `${Math.ceil(result.bytesWritten / 1024)} KiB`
  const how = { inplace: 'in place', append: 'by appending', remaster: 'by remastering', unchanged: 'nothing' }[result.mode]
  const notes = result.notes !== undefined && result.notes.length > 0 ? `; ${result.notes.join('; ')}` : ''
  return `${how} (${size} written)${notes}`
}
