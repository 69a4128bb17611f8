import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import type { IsoImage } from '../iso/image'
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, type FileKind, type Inode } from '../iso/model/inode'
import type { Node } from '../iso/model/node'
import { OverlayData } from '../iso/model/overlay-data'
import type { Stat } from '../iso/model/stat'
import { splitPath, type NamespaceView } from '../iso/namespace'
import { AttributeView, processOwner, S_ISGID, type Owner } from './attribute-view'
import { AsyncRwLock, type Exclusive } from './rw-lock'
import type { MountOptions } from './mount-options'
import {
  inGroup, MAY_EXEC, MAY_READ, MAY_WRITE, permittedMode, requireChown, requireOwner, requirePermission, requireRemovable
} from './permissions'
import type { Caller, FsStats, Vfs } from './vfs'

/** open(2) access mode bits (O_RDONLY, O_WRONLY, O_RDWR): 3 on Linux and macOS; Node does not export it. */
const O_ACCMODE = 3

/**
 * Name length limits per namespace: Rock Ridge NM has no limit but POSIX's; Joliet -joliet-long 103; a UDF
 * file identifier holds 255 bytes with its compression ID (ECMA-167 4/14.4.7), 254 Latin-1 characters.
 */
const NAME_MAX = { rockridge: 255, udf: 254, joliet: 103, iso9660: 207 }

/** chown(2)'s "leave unchanged". */
const UNCHANGED_ID = 0xffffffff

interface Handle {
  node: Node
  writable: boolean
}

/** What the VFS is run by: in process, or behind a mount (src/fuse). */
export interface VfsEnvironment {
  /**
   * Check callers' permissions here. A mount leaves that to the kernel (default_permissions), which
   * knows the caller's groups and capabilities; in process nothing else would.
   */
  checkPermissions?: boolean
  /**
   * Called with the inode number of a file that has (or had, until this change) other names, after a
   * change to it: a mount has a kernel inode per name, each caching attributes, which must all see it.
   */
  linkedChanged?: (ino: number) => void
  /** The mounting user, whom userwrite shows as owner (default: this process's user). */
  mountingUser?: Owner
  /** The image turned out not to be writable (a reason found after open): called once. */
  onReadOnly?: (reason: string) => void
}

/**
 * A VFS over an image through one namespace view. Changes go into the image model (names and attributes
 * in memory, content in copy-on-write overlays) and reach the image file only when committed.
 *
 * Two locks, so that a commit while mounted (`isomount sync`) stops changes but not reads: every change
 * holds `changing` shared and the commit holds it exclusively, so it sees no half-done change and none
 * starts until it is over; reads hold `reading` shared, which the commit takes exclusively only for the
 * moment the model switches to the committed image.
 *
 * POSIX times: a change to a directory's entries sets its mtime and ctime, a change to a file's names or
 * attributes its ctime, a change to its content both; what owners and modes are shown and recorded is
 * AttributeView's.
 */
export class ImageVfs implements Vfs {
  readonly view: NamespaceView
  readonly readOnly: boolean
  private readonly attributes: AttributeView
  private readonly reading = new AsyncRwLock()
  private readonly changing = new AsyncRwLock()
  private readonly handles = new Map<number, Handle>()
  private nextHandle = 1

  constructor (readonly image: IsoImage, options: MountOptions, private readonly environment: VfsEnvironment = {}) {
    this.view = image.view(options.namespace ?? image.defaultNamespace, {
      hideHidden: options.hide,
      showAssociated: options.showassoc
    })
    this.readOnly = options.ro
    this.attributes = new AttributeView(options, environment.mountingUser ?? processOwner())
  }

  // --- Reading ---------------------------------------------------------------------------------------

  async getattr (path: string, caller?: Caller): Promise<Stat> {
    const loaded = this.loadedNode(path, caller)
    if (loaded !== undefined) return this.stat(loaded)
    return await this.reading.shared(async () => this.stat(await this.resolve(path, caller)))
  }

  async readdir (path: string, caller?: Caller): Promise<Array<{ name: string, stat: Stat }>> {
    return await this.reading.shared(async () => {
      const dir = await this.resolve(path, caller)
      this.require(caller, dir, MAY_READ, path)
      const entries = await this.view.entries(dir)
      return [...entries].map(([name, node]) => ({ name, stat: this.stat(node) }))
    })
  }

  async readlink (path: string, caller?: Caller): Promise<string> {
    return await this.reading.shared(async () => {
      const node = await this.resolve(path, caller)
      if (node.inode.symlinkTarget === undefined) throw new InvalidInputError('NOT_A_SYMLINK', `${path} is not a symbolic link`)
      return node.inode.symlinkTarget
    })
  }

  async open (path: string, flags: number, caller?: Caller): Promise<number> {
    const loaded = this.loadedNode(path, caller)
    if (loaded !== undefined) return this.openNode(loaded, path, flags, caller)
    return await this.reading.shared(async () => this.openNode(await this.resolve(path, caller), path, flags, caller))
  }

  async read (handle: number, buf: Buffer, length: number, position: number): Promise<number> {
    return await this.reading.shared(async () => {
      const { node } = this.handle(handle)
      if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', 'is a directory')
      const data = node.inode.data
      if (position >= data.size) return 0
      return await data.read(buf, 0, Math.min(length, data.size - position), position)
    })
  }

  async release (handle: number): Promise<void> {
    this.handles.delete(handle)
  }

  async statfs (): Promise<FsStats> {
    const volumeBytes = this.image.volume.volumeSpaceSize * this.image.volume.logicalBlockSize
    let freeBytes = 0
    if (!this.readOnly && this.image.origin !== undefined) {
      // Room for changes: new content waits in temporary files until the commit puts it beside the
      // image, so it is the smaller of the two file systems' free space.
      const free = async (dir: string): Promise<number> => {
        const st = await fs.promises.statfs(dir).catch(() => undefined)
        return st !== undefined ? st.bavail * st.bsize : 0
      }
      const [image, temp] = await Promise.all([free(path.dirname(this.imagePath())), free(this.image.tempDir ?? os.tmpdir())])
      freeBytes = Math.min(image, temp)
    }
    // fuse-native passes block counts as 32-bit numbers: blocks grow (by powers of two from the sector
    // size) until the counts fit, or more than 8 TiB free would wrap around to a small number.
    let blockSize = 2048
    while ((volumeBytes + freeBytes) / blockSize > 0xffffffff) blockSize *= 2
    return {
      blockSize,
      blocks: Math.floor((volumeBytes + freeBytes) / blockSize),
      blocksFree: Math.floor(freeBytes / blockSize),
      files: 0,
      filesFree: this.readOnly ? 0 : 1_000_000,
      nameMax: NAME_MAX[this.view.namespace],
      readOnly: this.readOnly
    }
  }

  // --- Writing ---------------------------------------------------------------------------------------

  async create (path: string, mode: number, caller?: Caller): Promise<number> {
    return await this.mutate(async () => {
      const node = await this.add(path, 'file', mode, { data: new OverlayData(undefined, this.image.tempDir) }, caller)
      return this.newHandle(node, true)
    })
  }

  async write (handle: number, buf: Buffer, length: number, position: number): Promise<number> {
    return await this.mutate(async () => {
      const { node, writable } = this.handle(handle)
      if (!writable) throw new InvalidInputError('BAD_HANDLE', 'the file is not open for writing')
      // The overlay writes the bytes out before this returns: libfuse reuses the buffer afterwards.
      const written = await this.image.editableData(node).write(buf, 0, length, position)
      this.touch(node)
      return written
    })
  }

  async truncate (path: string, size: number, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path, caller)
      this.require(caller, node, MAY_WRITE, path)
      await this.resize(node, size)
    })
  }

  async ftruncate (handle: number, size: number): Promise<void> {
    await this.mutate(async () => { await this.resize(this.handle(handle).node, size) })
  }

  async mkdir (path: string, mode: number, caller?: Caller): Promise<void> {
    await this.mutate(async () => { await this.add(path, 'directory', mode, {}, caller) })
  }

  async rmdir (path: string, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path, caller)
      if (!node.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${path} is not a directory`)
      await this.removeName(node, caller, path)
    })
  }

  async unlink (path: string, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path, caller)
      if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
      await this.removeName(node, caller, path)
    })
  }

  /** rename(2): an existing target is replaced (a file by a file, an empty directory by a directory). */
  async rename (from: string, to: string, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(from, caller)
      const { parent, name } = await this.destination(to, caller)
      const target = await this.view.child(parent, name)
      // Two names of one file: POSIX has rename do nothing (and say it succeeded).
      if (target?.inode === node.inode) return
      const oldParent = node.parent as Node
      this.requireRemovable(caller, node, from)
      if (target !== undefined) {
        if (node.isDirectory && !target.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${to} is not a directory`)
        if (!node.isDirectory && target.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${to} is a directory`)
        this.requireRemovable(caller, target, to)
      } else {
        this.require(caller, parent, MAY_WRITE | MAY_EXEC, to)
      }
      // A directory moved to another parent has its ".." rewritten: Linux asks write permission on it.
      if (node.isDirectory && parent !== oldParent) this.require(caller, node, MAY_WRITE, from)
      if (target !== undefined) await this.image.removeNode(target)
      await this.image.renameNode(node, to, this.view.namespace)
      const now = Date.now()
      node.inode.times.ctimeMs = now
      this.touchDirectory(oldParent, now)
      this.touchDirectory(parent, now)
      this.linkedChanged(node.inode)
      if (target !== undefined) this.survivorChanged(target.inode, now)
    })
  }

  async symlink (target: string, path: string, caller?: Caller): Promise<void> {
    await this.mutate(async () => { await this.add(path, 'symlink', 0o777, { symlinkTarget: target }, caller) })
  }

  async link (existing: string, path: string, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(existing, caller)
      const { parent, name } = await this.parentOfNew(path, caller)
      await this.image.linkChild(node, parent, name, { namespace: this.view.namespace })
      const now = Date.now()
      node.inode.times.ctimeMs = now
      this.touchDirectory(parent, now)
      this.linkedChanged(node.inode)
    })
  }

  async mknod (path: string, mode: number, rdev: number, caller?: Caller): Promise<void> {
    const kinds: Record<number, FileKind> = { [S_IFREG]: 'file', [S_IFIFO]: 'fifo', [S_IFSOCK]: 'socket', [S_IFCHR]: 'char-device', [S_IFBLK]: 'block-device' }
    const kind = kinds[mode & S_IFMT]
    if (kind === undefined) throw new InvalidInputError('BAD_ARGUMENT', 'mknod of this file type is not supported')
    await this.mutate(async () => {
      await this.add(path, kind, mode, kind === 'file' ? { data: new OverlayData(undefined, this.image.tempDir) } : { rdev }, caller)
    })
  }

  async chmod (path: string, mode: number, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      this.requirePosix('permissions')
      const node = await this.resolve(path, caller)
      const checked = this.checked(caller)
      const permitted = checked === undefined ? mode : permittedMode(this.stat(node), checked, mode, path)
      this.image.setNodeAttributes(node, { mode: permitted & 0o7777, ctimeMs: Date.now() })
      this.linkedChanged(node.inode)
    })
  }

  async chown (path: string, uid: number, gid: number, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      this.requirePosix('owners')
      const node = await this.resolve(path, caller)
      const given = (id: number): number | undefined => id === UNCHANGED_ID || id === -1 ? undefined : id
      const checked = this.checked(caller)
      if (checked !== undefined) requireChown(this.stat(node), checked, given(uid), given(gid), path)
      this.image.setNodeAttributes(node, { ...this.attributes.recordedIds(given(uid), given(gid)), ctimeMs: Date.now() })
      this.linkedChanged(node.inode)
    })
  }

  /** Setting given times is the owner's right (utimensat's UTIME_NOW arrives here as a given time too). */
  async utimens (path: string, atimeMs: number | undefined, mtimeMs: number | undefined, caller?: Caller): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path, caller)
      const checked = this.checked(caller)
      if (checked !== undefined) requireOwner(this.stat(node), checked, path)
      this.image.setNodeAttributes(node, { atimeMs, mtimeMs, ctimeMs: Date.now() })
      this.linkedChanged(node.inode)
    })
  }

  /** Durability comes with the commit: content waits in overlays until then, so there is nothing to do. */
  async fsync (): Promise<void> {}

  // --- Internals -------------------------------------------------------------------------------------

  /**
   * The node at `path` found at once, when every directory on the way is loaded (most lookups: `ls -l`
   * and `tar` look up the entries a listing just loaded) and no commit holds or waits for the reading
   * lock: synchronous work cannot interleave with a commit's switch of the model, so it runs as a shared
   * reader would. Undefined: take the lock and resolve (which also says why a path is not there).
   */
  private loadedNode (path: string, caller: Caller | undefined): Node | undefined {
    if (!this.reading.open || this.checked(caller) !== undefined) return undefined
    return this.view.resolveLoaded(this.image.root, path)
  }

  private openNode (node: Node, path: string, flags: number, caller: Caller | undefined): number {
    const access = flags & O_ACCMODE
    const writable = access !== fs.constants.O_RDONLY
    if (writable) {
      this.requireWritable()
      if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
    }
    const want = (access !== fs.constants.O_WRONLY ? MAY_READ : 0) | (writable || (flags & fs.constants.O_TRUNC) !== 0 ? MAY_WRITE : 0)
    this.require(caller, node, want, path)
    return this.newHandle(node, writable)
  }

  private async mutate<T> (work: () => Promise<T>): Promise<T> {
    this.requireWritable()
    await this.requireUnderstood()
    if (!this.commitPrepared) {
      this.commitPrepared = true
      this.image.prepareCommit()
    }
    return await this.changing.shared(work).catch(err => {
      // A change refused where a commit could never write it (a directory read with irregularities).
      if ((err as { code?: string }).code === 'READ_ONLY') this.sayOnce((err as Error).message)
      throw err
    })
  }

  /**
   * Runs `commit` with every change kept out (in-flight ones finish first); it is handed the way to keep
   * reads out too, for the moment the model switches to the committed image.
   */
  async frozen<T> (commit: (excludeReaders: Exclusive) => Promise<T>): Promise<T> {
    return await this.changing.exclusive(async () => await commit(async work => await this.reading.exclusive(work)))
  }

  /**
   * A change is refused (EROFS, the reason said once in the log) where no commit could write it: anywhere
   * when a structure every commit rewrites was read with irregularities (checked here, from what was read
   * at open), and in a directory read with irregularities (the image's edit guard, when a change touches
   * it). Nothing is read for it: a read-write mount answers its first lookups as fast as a read-only one.
   */
  private understood?: Promise<void>
  /** The commit code was asked to load (with the first change: see IsoImage.prepareCommit). */
  private commitPrepared = false
  private readonly said = new Set<string>()

  /** Says at once, once the mount is live, if the image as a whole cannot be written. */
  prepareForWrites (): void {
    if (this.readOnly) return
    this.requireUnderstood().catch(() => {})
  }

  private async requireUnderstood (): Promise<void> {
    this.understood ??= this.image.requireUnderstood([]).catch(err => {
      this.sayOnce((err as Error).message)
      throw new InvalidInputError('READ_ONLY', `the image stays read-only: ${(err as Error).message}`)
    })
    await this.understood
  }

  /** Said where the user sees it (the daemon's terminal); each refused change is then EROFS. */
  private sayOnce (reason: string): void {
    if (this.said.has(reason)) return
    this.said.add(reason)
    this.environment.onReadOnly?.(reason)
  }

  private requireWritable (): void {
    if (this.readOnly) throw new InvalidInputError('READ_ONLY', 'the image is mounted read-only')
  }

  /** Modes and owners need Rock Ridge to be recorded; without it they would be lost at commit. */
  private requirePosix (what: string): void {
    if (this.image.settings.rockRidge === undefined) throw new InvalidInputError('NOT_PERMITTED', `the image has no Rock Ridge to record ${what}`)
  }

  /** A new entry: owned as AttributeView says, with its directory's times changed. */
  private async add (path: string, kind: FileKind, mode: number, content: Parameters<IsoImage['addChild']>[3], caller: Caller | undefined): Promise<Node> {
    const { parent, name } = await this.parentOfNew(path, caller)
    const creator = caller ?? processOwner()
    const owner = this.attributes.newEntry(parent, creator, kind === 'directory')
    let permissions = (mode & 0o7777) | (owner.setgid ? S_ISGID : 0)
    // Linux's mode_strip_sgid: a file made set-group-ID in a group its creator is not in loses the bit.
    const checked = this.checked(caller)
    if (checked !== undefined && kind !== 'directory' && checked.uid !== 0 && !inGroup(checked, owner.gid)) permissions &= ~S_ISGID
    const now = Date.now()
    const node = await this.image.addChild(parent, name, kind, content, {
      namespace: this.view.namespace,
      mode: permissions,
      uid: owner.uid,
      gid: owner.gid,
      mtimeMs: now,
      atimeMs: now,
      ctimeMs: now
    })
    this.touchDirectory(parent, now)
    return node
  }

  /** unlink and rmdir: the name goes, its directory changes, and a file that keeps other names changes too. */
  private async removeName (node: Node, caller: Caller | undefined, path: string): Promise<void> {
    const parent = node.parent as Node
    this.requireRemovable(caller, node, path)
    await this.image.removeNode(node)
    const now = Date.now()
    this.touchDirectory(parent, now)
    this.survivorChanged(node.inode, now)
  }

  private async resize (node: Node, size: number): Promise<void> {
    if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', 'is a directory')
    await this.image.editableData(node).truncate(size)
    this.touch(node)
  }

  /** New content: mtime and ctime. */
  private touch (node: Node): void {
    const now = Date.now()
    this.image.setNodeAttributes(node, { mtimeMs: now, ctimeMs: now })
    this.linkedChanged(node.inode)
  }

  /** An entry added, removed or renamed in `dir`: its mtime and ctime (POSIX; make, rsync and find -newer read them). */
  private touchDirectory (dir: Node, now: number): void {
    this.image.setNodeAttributes(dir, { mtimeMs: now, ctimeMs: now })
  }

  /** A file that lost a name (unlink, or replaced by rename) and may keep others: their ctime and link count change. */
  private survivorChanged (inode: Inode, now: number): void {
    if (inode.kind === 'directory' || inode.nlink < 1) return
    // Set on the inode itself: its other names are not at hand, and the removal is a change of structure,
    // which a commit writes whole.
    inode.times.ctimeMs = now
    this.environment.linkedChanged?.(inode.ino)
  }

  /** A change to a file that other names show too. */
  private linkedChanged (inode: Inode): void {
    if (inode.nlink > 1 && inode.kind !== 'directory') this.environment.linkedChanged?.(inode.ino)
  }

  /** The directory a new entry goes into, and its name; the name must be free, the caller allowed to add. */
  private async parentOfNew (path: string, caller: Caller | undefined): Promise<{ parent: Node, name: string }> {
    const { parent, name } = await this.destination(path, caller)
    if ((await this.view.entries(parent)).has(name)) throw new InvalidInputError('EXISTS', `${path} exists`)
    this.require(caller, parent, MAY_WRITE | MAY_EXEC, path)
    return { parent, name }
  }

  /** The directory `path` names an entry of, and the entry's name. */
  private async destination (path: string, caller: Caller | undefined): Promise<{ parent: Node, name: string }> {
    const parts = splitPath(path)
    const name = parts.pop()
    if (name === undefined) throw new InvalidInputError('EXISTS', 'the root exists')
    const parent = await this.resolve('/' + parts.join('/'), caller)
    if (!parent.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${parts.join('/')} is not a directory`)
    return { parent, name }
  }

  private newHandle (node: Node, writable: boolean): number {
    const handle = this.nextHandle++
    this.handles.set(handle, { node, writable })
    return handle
  }

  private handle (handle: number): Handle {
    const open = this.handles.get(handle)
    if (open === undefined) throw new InvalidInputError('BAD_HANDLE', `no open file with handle ${handle}`)
    return open
  }

  /**
   * The node at `path`, searched with the caller's permissions where they are checked here. A component
   * longer than the namespace's names can be is ENAMETOOLONG, not ENOENT (as POSIX and Linux say): found
   * out only once the lookup failed, so that lookups that succeed pay nothing for it.
   */
  private async resolve (path: string, caller?: Caller): Promise<Node> {
    const checked = this.checked(caller)
    const search = checked === undefined ? undefined : (dir: Node) => requirePermission(this.stat(dir), checked, MAY_EXEC, path)
    try {
      return await this.view.resolve(this.image.root, path, search)
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND' && await this.missingNameTooLong(path)) {
        throw new InvalidInputError('NAME_TOO_LONG', `${path}: file name too long`, { path })
      }
      throw err
    }
  }

  /** Whether the first component of `path` that is not there is too long to be anywhere. */
  private async missingNameTooLong (path: string): Promise<boolean> {
    let node: Node | undefined = this.image.root
    for (const name of splitPath(path)) {
      const limit = NAME_MAX[this.view.namespace]
      // Rock Ridge and plain names are counted in bytes, Joliet's in UTF-16 units (what it records).
      if ((this.view.namespace === 'joliet' ? name.length : Buffer.byteLength(name)) > limit) return true
      node = node.dir === undefined ? undefined : await this.view.child(node, name)
      if (node === undefined) return false
    }
    return false
  }

  /** The caller whose permissions are checked here, if any (see VfsEnvironment.checkPermissions). */
  private checked (caller: Caller | undefined): Caller | undefined {
    return this.environment.checkPermissions === true ? caller : undefined
  }

  private require (caller: Caller | undefined, node: Node, want: number, path: string): void {
    const checked = this.checked(caller)
    if (checked !== undefined && want !== 0) requirePermission(this.stat(node), checked, want, path)
  }

  private requireRemovable (caller: Caller | undefined, node: Node, path: string): void {
    const checked = this.checked(caller)
    if (checked !== undefined) requireRemovable(this.stat(node.parent as Node), this.stat(node), checked, path)
  }

  private imagePath (): string {
    return this.image.path ?? '.'
  }

  private stat (node: Node): Stat {
    return this.attributes.shown(node)
  }
}
