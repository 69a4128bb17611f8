import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import type { IsoImage } from '../iso/image'
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, type FileKind } from '../iso/model/inode'
import type { Node } from '../iso/model/node'
import { OverlayData } from '../iso/model/overlay-data'
import { statOf, type Stat } from '../iso/model/stat'
import { splitPath, type NamespaceView } from '../iso/namespace'
import { AsyncRwLock, type Exclusive } from './rw-lock'
import type { MountOptions } from './mount-options'
import type { FsStats, Vfs } from './vfs'

/** open(2) access mode bits (O_RDONLY, O_WRONLY, O_RDWR): 3 on Linux and macOS; Node does not export it. */
const O_ACCMODE = 3

/**
 * Name length limits per namespace: Rock Ridge NM has no limit but POSIX's; Joliet -joliet-long 103; a UDF
 * file identifier holds 255 bytes with its compression ID (ECMA-167 4/14.4.7), 254 Latin-1 characters.
 */
const NAME_MAX = { rockridge: 255, udf: 254, joliet: 103, iso9660: 207 }

/** chown(2)'s "leave unchanged". */
const UNCHANGED_ID = 0xffffffff

/** What the VFS tells whoever runs it. */
export interface VfsEvents {
  /** The image turned out not to be writable (a reason found after open): called once. */
  onReadOnly?: (reason: string) => void
}

interface Handle {
  node: Node
  writable: boolean
}

/**
 * A VFS over an image through one namespace view. Changes go into the image model (names and attributes
 * in memory, content in copy-on-write overlays) and reach the image file only when committed.
 *
 * Two locks, so that a commit while mounted (`isomount sync`) stops changes but not reads: every change
 * holds `changing` shared and the commit holds it exclusively, so it sees no half-done change and none
 * starts until it is over; reads hold `reading` shared, which the commit takes exclusively only for the
 * moment the model switches to the committed image.
 */
export class ImageVfs implements Vfs {
  readonly view: NamespaceView
  readonly readOnly: boolean
  private readonly reading = new AsyncRwLock()
  private readonly changing = new AsyncRwLock()
  private readonly handles = new Map<number, Handle>()
  private nextHandle = 1

  constructor (readonly image: IsoImage, private readonly options: MountOptions, private readonly events: VfsEvents = {}) {
    this.view = image.view(options.namespace ?? image.defaultNamespace, {
      hideHidden: options.hide,
      showAssociated: options.showassoc
    })
    this.readOnly = options.ro
  }

  // --- Reading ---------------------------------------------------------------------------------------

  async getattr (path: string): Promise<Stat> {
    return await this.reading.shared(async () => this.stat(await this.resolve(path)))
  }

  async readdir (path: string): Promise<Array<{ name: string, stat: Stat }>> {
    return await this.reading.shared(async () => {
      const entries = await this.view.entries(await this.resolve(path))
      return [...entries].map(([name, node]) => ({ name, stat: this.stat(node) }))
    })
  }

  async readlink (path: string): Promise<string> {
    return await this.reading.shared(async () => {
      const node = await this.resolve(path)
      if (node.inode.symlinkTarget === undefined) throw new InvalidInputError('NOT_A_SYMLINK', `${path} is not a symbolic link`)
      return node.inode.symlinkTarget
    })
  }

  async open (path: string, flags: number): Promise<number> {
    return await this.reading.shared(async () => {
      const node = await this.resolve(path)
      const writable = (flags & O_ACCMODE) !== fs.constants.O_RDONLY
      if (writable) {
        this.requireWritable()
        if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
      }
      return this.newHandle(node, writable)
    })
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

  async create (path: string, mode: number): Promise<number> {
    return await this.mutate(async () => {
      const node = await this.add(path, 'file', mode, { data: new OverlayData(undefined, this.image.tempDir) })
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

  async truncate (path: string, size: number): Promise<void> {
    await this.mutate(async () => { await this.resize(await this.resolve(path), size) })
  }

  async ftruncate (handle: number, size: number): Promise<void> {
    await this.mutate(async () => { await this.resize(this.handle(handle).node, size) })
  }

  async mkdir (path: string, mode: number): Promise<void> {
    await this.mutate(async () => { await this.add(path, 'directory', mode, {}) })
  }

  async rmdir (path: string): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path)
      if (!node.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${path} is not a directory`)
      await this.image.removeNode(node)
    })
  }

  async unlink (path: string): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(path)
      if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
      await this.image.removeNode(node)
    })
  }

  /** rename(2): an existing target is replaced (a file by a file, an empty directory by a directory). */
  async rename (from: string, to: string): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(from)
      const target = await this.resolve(to).catch(err => {
        if ((err as { code?: string }).code === 'NOT_FOUND') return undefined
        throw err
      })
      if (target === node) return
      if (target !== undefined) {
        if (node.isDirectory && !target.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${to} is not a directory`)
        if (!node.isDirectory && target.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${to} is a directory`)
        await this.image.removeNode(target)
      }
      await this.image.renameNode(node, to, this.view.namespace)
      node.inode.times.ctimeMs = Date.now()
    })
  }

  async symlink (target: string, path: string): Promise<void> {
    await this.mutate(async () => { await this.add(path, 'symlink', 0o777, { symlinkTarget: target }) })
  }

  async link (existing: string, path: string): Promise<void> {
    await this.mutate(async () => {
      const node = await this.resolve(existing)
      const { parent, name } = await this.parentOf(path)
      await this.image.linkChild(node, parent, name, { namespace: this.view.namespace })
      node.inode.times.ctimeMs = Date.now()
    })
  }

  async mknod (path: string, mode: number, rdev: number): Promise<void> {
    const kinds: Record<number, FileKind> = { [S_IFREG]: 'file', [S_IFIFO]: 'fifo', [S_IFSOCK]: 'socket', [S_IFCHR]: 'char-device', [S_IFBLK]: 'block-device' }
    const kind = kinds[mode & S_IFMT]
    if (kind === undefined) throw new InvalidInputError('BAD_ARGUMENT', 'mknod of this file type is not supported')
    await this.mutate(async () => {
      await this.add(path, kind, mode, kind === 'file' ? { data: new OverlayData(undefined, this.image.tempDir) } : { rdev })
    })
  }

  async chmod (path: string, mode: number): Promise<void> {
    await this.mutate(async () => {
      this.requirePosix('permissions')
      this.image.setNodeAttributes(await this.resolve(path), { mode: mode & 0o7777, ctimeMs: Date.now() })
    })
  }

  async chown (path: string, uid: number, gid: number): Promise<void> {
    await this.mutate(async () => {
      this.requirePosix('owners')
      const node = await this.resolve(path)
      this.image.setNodeAttributes(node, {
        uid: uid === UNCHANGED_ID || uid === -1 ? undefined : uid,
        gid: gid === UNCHANGED_ID || gid === -1 ? undefined : gid,
        ctimeMs: Date.now()
      })
    })
  }

  async utimens (path: string, atimeMs: number | undefined, mtimeMs: number | undefined): Promise<void> {
    await this.mutate(async () => {
      this.image.setNodeAttributes(await this.resolve(path), { atimeMs, mtimeMs, ctimeMs: Date.now() })
    })
  }

  /** Durability comes with the commit: content waits in overlays until then, so there is nothing to do. */
  async fsync (): Promise<void> {}

  // --- Internals -------------------------------------------------------------------------------------

  private async mutate<T> (work: () => Promise<T>): Promise<T> {
    this.requireWritable()
    await this.requireUnderstood()
    return await this.changing.shared(work)
  }

  /**
   * Runs `commit` with every change kept out (in-flight ones finish first); it is handed the way to keep
   * reads out too, for the moment the model switches to the committed image.
   */
  async frozen<T> (commit: (excludeReaders: Exclusive) => Promise<T>): Promise<T> {
    return await this.changing.exclusive(async () => await commit(async work => await this.reading.exclusive(work)))
  }

  /**
   * Before the first change, the whole image is read once: one it does not fully understand stays
   * read-only (EROFS, and the reason in the log). Mounting stays fast: a read-write mount starts this
   * reading once it is live (prepareForWrites), so that the first write does not wait for it (1.6 s on a
   * 50,000-file image).
   */
  private understood?: Promise<void>

  /** Starts reading the whole image in the background; its outcome reaches the first write. */
  prepareForWrites (): void {
    if (this.readOnly) return
    this.requireUnderstood().catch(() => {})
  }

  private async requireUnderstood (): Promise<void> {
    this.understood ??= this.image.requireUnderstood().catch(err => {
      // Said once, where the user sees it (the daemon's terminal); each refused write is then EROFS.
      this.events.onReadOnly?.((err as Error).message)
      throw new InvalidInputError('READ_ONLY', `the image stays read-only: ${(err as Error).message}`)
    })
    await this.understood
  }

  private requireWritable (): void {
    if (this.readOnly) throw new InvalidInputError('READ_ONLY', 'the image is mounted read-only')
  }

  /** Modes and owners need Rock Ridge to be recorded; without it they would be lost at commit. */
  private requirePosix (what: string): void {
    if (this.image.settings.rockRidge === undefined) throw new InvalidInputError('NOT_PERMITTED', `the image has no Rock Ridge to record ${what}`)
  }

  private async add (path: string, kind: FileKind, mode: number, content: Parameters<IsoImage['addChild']>[3]): Promise<Node> {
    const { parent, name } = await this.parentOf(path)
    const now = Date.now()
    return await this.image.addChild(parent, name, kind, content, {
      namespace: this.view.namespace,
      mode: mode & 0o7777,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      mtimeMs: now,
      atimeMs: now,
      ctimeMs: now
    })
  }

  private async resize (node: Node, size: number): Promise<void> {
    if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', 'is a directory')
    await this.image.editableData(node).truncate(size)
    this.touch(node)
  }

  private touch (node: Node): void {
    const now = Date.now()
    this.image.setNodeAttributes(node, { mtimeMs: now, ctimeMs: now })
  }

  private async parentOf (path: string): Promise<{ parent: Node, name: string }> {
    const parts = splitPath(path)
    const name = parts.pop()
    if (name === undefined) throw new InvalidInputError('EXISTS', 'the root exists')
    const parent = await this.resolve('/' + parts.join('/'))
    if (!parent.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${parts.join('/')} is not a directory`)
    if ((await this.view.entries(parent)).has(name)) throw new InvalidInputError('EXISTS', `${path} exists`)
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

  private async resolve (path: string): Promise<Node> {
    return await this.view.resolve(this.image.root, path)
  }

  private imagePath (): string {
    return this.image.path ?? '.'
  }

  /** isofs rules: uid=, gid=, mode= and dmode= apply where the image records no owner and mode. */
  private stat (node: Node): Stat {
    const stat = statOf(node)
    if (!stat.posix) {
      const permissions = node.isDirectory ? this.options.dmode : this.options.mode
      if (permissions !== undefined) stat.mode = (stat.mode & S_IFMT) | permissions
      if (this.options.uid !== undefined) stat.uid = this.options.uid
      if (this.options.gid !== undefined) stat.gid = this.options.gid
    }
    return stat
  }
}
