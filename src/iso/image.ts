import * as fs from 'node:fs'
import { Readable, type Writable } from 'node:stream'
import { InvalidInputError } from '../errors'
import { SECTOR_SIZE } from './codec/volume-descriptor'
import { hasXaSignature } from './codec/xa'
import { addBootImage, bootImageFor, isohybridFor, type ElToritoOptions, type IsohybridOptions } from './edit/boot-editor'
import { TreeEditor, type NameOptions } from './edit/tree-editor'
import { BufferByteSource, FileByteSource, type ByteSource } from './io/byte-source'
import type { BootConfiguration, HybridConfiguration } from './model/boot'
import { BufferSource, ImageExtentsSource, ZisofsSource, type DataSource } from './model/data-source'
import { HostFileSource, spoolStream } from './model/host-sources'
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type FileKind } from './model/inode'
import { Inode } from './model/inode'
import { Directory, Node, NodeFlag } from './model/node'
import { statOf, type Stat } from './model/stat'
import { ChangeSet } from './model/change-set'
import { OverlayData } from './model/overlay-data'
import { NAMESPACES, NamespaceView, type Namespace, type ViewOptions } from './namespace'
import { validateIsoName, type InterchangeLevel } from './naming/iso9660'
import { bootConfigurationOf, hybridConfigurationOf, inodesByStart } from './read/boot-model'
import type { DescriptorSet } from './read/descriptors'
import type { ElToritoInfo } from './read/el-torito'
import { readImage, refreshOrigin, type Extensions, type ImageOrigin, type OpenOptions, type VolumeInfo } from './read/open-image'
import { commitChanges, type CommitOptions, type CommitResult } from './commit/commit'
import { JournaledByteSource, readJournal } from './commit/journal'
import type { SystemAreaInfo } from './read/system-area'
import { layoutFor, loadAll, writeImage, type WriteOptions } from './write/master'
import { defaultTimestampMs, defaultVolumeIdentity, type ImageSettings, type VolumeIdentity } from './write/settings'
import type { RockRidgeVersion } from './codec/rock-ridge'
import type { JolietLevel } from './codec/joliet'

export type { OpenOptions, VolumeInfo, Extensions } from './read/open-image'

export interface DirectoryEntry {
  name: string
  node: Node
}

export interface CreateOptions {
  /** ECMA-119 interchange level; 4 is ISO 9660:1999 (as genisoimage -iso-level 4). Default 1, as pycdlib. */
  interchangeLevel?: InterchangeLevel
  /** Rock Ridge version, or true for 1.09 (what genisoimage -R writes). */
  rockRidge?: RockRidgeVersion | boolean
  /** Joliet level, or true for 3. */
  joliet?: JolietLevel | boolean
  /** Allow 103-character Joliet names (genisoimage -joliet-long). */
  jolietLong?: boolean
  volume?: Partial<VolumeIdentity>
  /** Name of the Rock Ridge relocation directory (default rr_moved). */
  relocationDirectory?: string
  /** CD-ROM XA directory records (pycdlib's new(xa=True)). */
  xa?: boolean
}

export interface AddOptions extends NameOptions {
  /** The namespace `path` is written in (default: the image's default namespace). */
  namespace?: Namespace
  /** Permission bits (default 0644 files, 0755 directories). */
  mode?: number
  uid?: number
  gid?: number
  mtimeMs?: number
  atimeMs?: number
  ctimeMs?: number
  /** Set the ECMA-119 hidden (existence) bit. */
  hidden?: boolean
}

export interface Attributes {
  mode?: number
  uid?: number
  gid?: number
  mtimeMs?: number
  atimeMs?: number
  ctimeMs?: number
}

/** File content to add: a host file path, bytes, or a stream of known length. */
export type FileContent = string | Buffer | { stream: Readable, size: number }

/** What a new entry holds besides attributes: file data, a symlink target, a device number. */
export interface EntryContent {
  data?: DataSource
  symlinkTarget?: string
  rdev?: number
}

/**
 * An ISO9660 image: opened from a file (read lazily: descriptors and the root at open, each directory when
 * first looked at) or created empty; edited through any of its namespaces; written (mastered) to a file,
 * descriptor or stream.
 */
export class IsoImage {
  /** What changed since open (or the last commit). */
  readonly changes = new ChangeSet()
  /** Where edited content is kept until written (default: the system's temporary directory). */
  tempDir?: string
  private readonly editor: TreeEditor
  private boot: BootConfiguration | undefined | 'unread'
  private hybrid: HybridConfiguration | undefined | 'unread'

  private constructor (
    readonly root: Node,
    public settings: ImageSettings,
    private currentOrigin: ImageOrigin | undefined,
    private owned: FileByteSource | undefined,
    private readonly openedPath?: string
  ) {
    this.editor = new TreeEditor(root, () => this.settings)
    this.boot = currentOrigin?.elTorito !== undefined ? 'unread' : undefined
    this.hybrid = currentOrigin?.systemArea.used === true ? 'unread' : undefined
  }

  /** The file the image was opened from, if it was opened by path. */
  get path (): string | undefined {
    return this.openedPath
  }

  /** What was read from the image file (after a commit: from the committed image). */
  get origin (): ImageOrigin | undefined {
    return this.currentOrigin
  }

  /** Opens an image file by path, by an open descriptor, or from any ByteSource. */
  static async open (target: string | number | ByteSource, options: OpenOptions = {}): Promise<IsoImage> {
    let owned: FileByteSource | undefined
    let source: ByteSource
    if (typeof target === 'string') source = owned = await FileByteSource.open(target)
    else if (typeof target === 'number') source = await FileByteSource.fromFd(target)
    else source = target
    try {
      // An in-place commit interrupted by a crash left a journal: read the image as it completes it.
      const pending = typeof target === 'string' ? readJournal(target) : undefined
      const { origin, root } = await readImage(pending !== undefined ? new JournaledByteSource(source, pending) : source, options)
      if (pending !== undefined) origin.diagnostics.warn({ structure: 'image' }, 'an interrupted in-place commit is pending; mounting the image read-write finishes it')
      return new IsoImage(root, settingsOf(origin, root), origin, owned, typeof target === 'string' ? target : undefined)
    } catch (err) {
      await owned?.close()
      throw err
    }
  }

  /** A new, empty image (pycdlib's new()). */
  static create (options: CreateOptions = {}): IsoImage {
    const now = defaultTimestampMs()
    const level = options.interchangeLevel ?? 1
    if (![1, 2, 3, 4].includes(level)) throw new InvalidInputError('BAD_ARGUMENT', `interchange level must be 1 to 4, not ${String(level)}`)
    const rockRidge = options.rockRidge === true ? '1.09' : options.rockRidge === false ? undefined : options.rockRidge
    const jolietLevel = options.joliet === true ? 3 : options.joliet === false ? undefined : options.joliet
    const settings: ImageSettings = {
      interchangeLevel: level,
      rockRidge,
      joliet: jolietLevel !== undefined ? { level: jolietLevel, long: options.jolietLong === true } : undefined,
      xa: options.xa === true,
      volume: { ...defaultVolumeIdentity(now), ...options.volume },
      relocationDirectory: options.relocationDirectory ?? 'rr_moved'
    }
    validateVolume(settings.volume)
    const inode = new Inode({ mode: S_IFDIR | 0o755, times: { mtimeMs: now, atimeMs: now, ctimeMs: now }, posix: rockRidge !== undefined, nlink: 2, ino: 1 })
    const root = new Node(undefined, { iso: '', joliet: jolietLevel !== undefined ? '' : undefined }, inode, new Directory())
    return new IsoImage(root, settings, undefined, undefined)
  }

  // --- What was read ---------------------------------------------------------------------------------

  get source (): ByteSource {
    return this.origin?.source ?? EMPTY_IMAGE
  }

  get descriptors (): DescriptorSet {
    if (this.origin === undefined) throw new InvalidInputError('UNSUPPORTED', 'a new image has no descriptors until it is written')
    return this.origin.descriptors
  }

  get volume (): VolumeInfo {
    if (this.origin !== undefined) return this.origin.volume
    const v = this.settings.volume
    return { ...v, volumeSpaceSize: 0, logicalBlockSize: SECTOR_SIZE }
  }

  get extensions (): Extensions {
    if (this.origin !== undefined) return this.origin.extensions
    const s = this.settings
    return {
      enhanced: s.interchangeLevel === 4,
      susp: s.rockRidge !== undefined ? { skip: 0 } : undefined,
      rockRidge: s.rockRidge !== undefined ? { version: s.rockRidge, identifiers: [] } : undefined,
      joliet: s.joliet !== undefined ? { level: s.joliet.level, volumeId: s.volume.jolietVolumeId ?? s.volume.volumeId } : undefined
    }
  }

  /** The El Torito catalog as read from the image (see bootConfiguration() for the editable form). */
  get elTorito (): ElToritoInfo | undefined {
    return this.origin?.elTorito
  }

  get systemArea (): SystemAreaInfo {
    return this.origin?.systemArea ?? { used: false }
  }

  get warnings (): readonly string[] {
    return this.origin?.diagnostics.messages ?? []
  }

  /** Namespaces this image offers, in the order the kernel prefers them. */
  get namespaces (): Namespace[] {
    const e = this.extensions
    return NAMESPACES.filter(ns => (ns === 'rockridge' && e.rockRidge !== undefined) || (ns === 'joliet' && e.joliet !== undefined) || ns === 'iso9660')
  }

  /** Rock Ridge when present, else Joliet, else plain ISO9660 (Linux isofs's rule). */
  get defaultNamespace (): Namespace {
    return this.namespaces[0]
  }

  // --- Reading ---------------------------------------------------------------------------------------

  view (namespace: Namespace = this.defaultNamespace, options: ViewOptions = {}): NamespaceView {
    if (!this.namespaces.includes(namespace)) {
      throw new InvalidInputError('UNSUPPORTED', `the image has no ${namespace} namespace (it has: ${this.namespaces.join(', ')})`)
    }
    return new NamespaceView(namespace, options)
  }

  async lookup (path: string, namespace?: Namespace): Promise<Node> {
    return await this.view(namespace).resolve(this.root, path)
  }

  async stat (path: string, namespace?: Namespace): Promise<Stat> {
    return statOf(await this.lookup(path, namespace))
  }

  async readdir (path: string, namespace?: Namespace): Promise<DirectoryEntry[]> {
    const view = this.view(namespace)
    const dir = await view.resolve(this.root, path)
    return [...(await view.entries(dir))].map(([name, node]) => ({ name, node }))
  }

  async readlink (path: string, namespace?: Namespace): Promise<string> {
    const node = await this.lookup(path, namespace)
    if (node.inode.symlinkTarget === undefined) throw new InvalidInputError('NOT_A_SYMLINK', `${path} is not a symbolic link`)
    return node.inode.symlinkTarget
  }

  /** A file's content as a stream, read in 1 MiB positional reads. */
  async createReadStream (path: string, namespace?: Namespace): Promise<Readable> {
    const node = await this.lookup(path, namespace)
    if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
    return contentStream(node.inode.data)
  }

  async readFile (path: string, namespace?: Namespace): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of await this.createReadStream(path, namespace)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  /**
   * Every entry below `path`, depth first in directory order, parents before children. Iterative, so
   * depth is bounded by memory, not by the call stack.
   */
  async * walk (path = '/', namespace?: Namespace): AsyncGenerator<{ path: string, node: Node }> {
    const view = this.view(namespace)
    const start = await view.resolve(this.root, path)
    const stack: Array<{ path: string, node: Node }> = [{ path: path === '/' ? '' : path.replace(/\/+$/, ''), node: start }]
    while (stack.length > 0) {
      const { path: dirPath, node } = stack.pop() as { path: string, node: Node }
      if (node.dir === undefined) continue
      const children = [...(await view.entries(node))].map(([name, child]) => ({ path: `${dirPath}/${name}`, node: child }))
      for (const child of children) yield child
      for (let i = children.length - 1; i >= 0; i--) if (children[i].node.isDirectory) stack.push(children[i])
    }
  }

  // --- Editing ---------------------------------------------------------------------------------------

  /** Adds a file (pycdlib add_file / add_fp); the names in the other namespaces are derived. */
  async addFile (path: string, content: FileContent, options: AddOptions = {}): Promise<Node> {
    return await this.addNode(path, 'file', options, { data: await this.dataOf(content) })
  }

  /** A data source for file content; checks it fits the interchange level. */
  async dataOf (content: FileContent): Promise<DataSource> {
    let data: DataSource
    if (typeof content === 'string') data = HostFileSource.fromPath(content)
    else if (Buffer.isBuffer(content)) data = new BufferSource(content)
    else data = await spoolStream(content.stream, content.size)
    if (data.size > 0xffffffff && this.settings.interchangeLevel < 3) {
      throw new InvalidInputError('TOO_LARGE', `a file of ${data.size} bytes needs interchange level 3 or 4 (ECMA-119 10.3: multi-extent files)`)
    }
    return data
  }

  async addDirectory (path: string, options: AddOptions = {}): Promise<Node> {
    return await this.addNode(path, 'directory', options, {})
  }

  /** A Rock Ridge symbolic link (RRIP 4.1.3). */
  async addSymlink (path: string, target: string, options: AddOptions = {}): Promise<Node> {
    return await this.addNode(path, 'symlink', options, { symlinkTarget: target })
  }

  /** A Rock Ridge fifo, socket or device node (RRIP 4.1.1 PX, 4.1.2 PN); `rdev` as glibc makedev(). */
  async addSpecial (path: string, kind: 'fifo' | 'socket' | 'char-device' | 'block-device', options: AddOptions & { rdev?: number } = {}): Promise<Node> {
    return await this.addNode(path, kind, options, { rdev: options.rdev ?? 0 })
  }

  /** Another name for an existing file (pycdlib add_hard_link); `from` is the namespace of `existing`. */
  async link (existing: string, path: string, options: NameOptions & { namespace?: Namespace, from?: Namespace } = {}): Promise<Node> {
    const namespace = options.namespace ?? this.defaultNamespace
    const target = await this.lookup(existing, options.from ?? namespace)
    const only: NameOptions = namespace === 'joliet' ? { iso: false } : options.joliet === undefined ? {} : { joliet: options.joliet }
    const { parent, name } = await this.editor.parentOf(path, namespace)
    return await this.linkChild(target, parent, name, { ...only, ...options, namespace })
  }

  /**
   * Removes an entry (a file name, or an empty directory) from every tree it is in. With `only`, just its
   * name in that namespace goes (pycdlib rm_hard_link): a file can be hidden from Joliet alone.
   */
  async remove (path: string, options: { namespace?: Namespace, only?: boolean } = {}): Promise<void> {
    const namespace = options.namespace ?? this.defaultNamespace
    const node = await this.lookup(path, namespace)
    const otherTree = namespace === 'joliet' ? node.names.iso : node.names.joliet
    if (options.only === true && otherTree !== undefined) {
      await this.renameNames(node, names => {
        if (namespace === 'joliet') delete names.joliet
        else { delete names.iso; delete names.rr }
      })
      return
    }
    await this.removeNode(node)
  }

  /** Removes one entry; a directory must be empty. A boot file stays in the catalog, hidden. */
  async removeNode (node: Node): Promise<void> {
    await this.editor.remove(node)
    this.changes.structure = true
  }

  /** Moves or renames; the names in the other namespaces follow the new name. */
  async rename (from: string, to: string, namespace = this.defaultNamespace): Promise<void> {
    const node = await this.lookup(from, namespace)
    await this.renameNode(node, to, namespace)
  }

  /** Moves `node` to `path` (in `namespace`); an existing target must have been removed first. */
  async renameNode (node: Node, path: string, namespace: Namespace): Promise<void> {
    await this.editor.rename(node, path, namespace)
    this.changes.structure = true
  }

  async setAttributes (path: string, attributes: Attributes, namespace?: Namespace): Promise<void> {
    this.setNodeAttributes(await this.lookup(path, namespace), attributes)
  }

  setNodeAttributes (node: Node, attributes: Attributes): void {
    const inode = node.inode
    if (attributes.mode !== undefined) inode.mode = (inode.mode & S_IFMT) | (attributes.mode & 0o7777)
    if (attributes.uid !== undefined) inode.uid = attributes.uid
    if (attributes.gid !== undefined) inode.gid = attributes.gid
    if (attributes.mtimeMs !== undefined) inode.times.mtimeMs = attributes.mtimeMs
    if (attributes.atimeMs !== undefined) inode.times.atimeMs = attributes.atimeMs
    if (attributes.ctimeMs !== undefined) inode.times.ctimeMs = attributes.ctimeMs
    if (attributes.mode !== undefined || attributes.uid !== undefined || attributes.gid !== undefined) {
      // A posix attribute set where none was recorded adds PX to the records: no longer a same-size edit.
      if (!inode.posix) this.changes.structure = true
      inode.posix = true
    }
    this.changes.attributes.add(inode)
  }

  /** Sets or clears the ECMA-119 hidden bit (genisoimage -hidden). */
  async setHidden (path: string, hidden: boolean, namespace?: Namespace): Promise<void> {
    const node = await this.lookup(path, namespace)
    node.flags = hidden ? node.flags | NodeFlag.HIDDEN : node.flags & ~NodeFlag.HIDDEN
    this.changes.structure = true
  }

  /** Changes the ISO9660 identifier of an entry, validated against the interchange level. */
  async setIsoName (path: string, isoName: string, namespace?: Namespace): Promise<void> {
    const node = await this.lookup(path, namespace)
    const recorded = validateIsoName(isoName, node.isDirectory, this.settings.interchangeLevel)
    await this.renameNames(node, names => { names.iso = recorded })
  }

  /**
   * Opens a file's content for change: its data becomes a copy-on-write overlay (kept in a temporary
   * file) over what it was. Callers write and truncate through the returned overlay.
   */
  editableData (node: Node): OverlayData {
    const inode = node.inode
    if (inode.kind !== 'file') throw new InvalidInputError(node.isDirectory ? 'IS_A_DIRECTORY' : 'BAD_ARGUMENT', 'not a regular file')
    if (!(inode.data instanceof OverlayData)) {
      inode.data = new OverlayData(inode.data, this.tempDir)
      // The content is no longer what the zisofs stream holds; it will be written uncompressed.
      if (inode.compressed !== undefined) {
        inode.compressed = undefined
        this.changes.structure = true
      }
    }
    this.changes.data.add(inode)
    return inode.data as OverlayData
  }

  // --- Boot ------------------------------------------------------------------------------------------

  /** The El Torito configuration (entries point at files); undefined when the image does not boot. */
  async bootConfiguration (): Promise<BootConfiguration | undefined> {
    await this.readBootStructures()
    return this.boot as BootConfiguration | undefined
  }

  async hybridConfiguration (): Promise<HybridConfiguration | undefined> {
    await this.readBootStructures()
    return this.hybrid as HybridConfiguration | undefined
  }

  /**
   * Adds an El Torito boot entry (pycdlib add_eltorito, mkisofs -b/-e): the first call creates the catalog
   * and the default entry, later calls add section entries (mkisofs -eltorito-alt-boot).
   */
  async addElTorito (options: ElToritoOptions, namespace?: Namespace): Promise<void> {
    await this.readBootStructures()
    const bootNode = await this.lookup(options.bootFile, namespace)
    if (bootNode.inode.kind !== 'file') throw new InvalidInputError('BAD_ARGUMENT', `${options.bootFile} is not a regular file`)
    const image = await bootImageFor(bootNode.inode, options)
    let boot = this.boot as BootConfiguration | undefined
    if (boot === undefined) {
      const catalogPath = options.catalogPath ?? '/boot.cat'
      const catalog = options.hiddenCatalog === true
        ? new Inode({ mode: S_IFREG | 0o444, times: bootNode.inode.times, data: new BufferSource(Buffer.alloc(SECTOR_SIZE)), ino: this.editor.allocateIno() })
        : (await this.addNode(catalogPath, 'file', { namespace, mode: 0o444 }, { data: new BufferSource(Buffer.alloc(SECTOR_SIZE)) })).inode
      boot = addBootImage(undefined, catalog, image, options)
    } else {
      boot = addBootImage(boot, boot.catalog, image, options)
    }
    this.boot = boot
    this.changes.structure = true
  }

  /** Removes El Torito (pycdlib rm_eltorito): the catalog file goes; boot files stay as files. */
  async removeElTorito (): Promise<void> {
    await this.readBootStructures()
    const boot = this.boot as BootConfiguration | undefined
    if (boot === undefined) return
    for await (const { node } of this.walkAll()) {
      if (node.inode === boot.catalog && node.parent !== undefined) await this.editor.remove(node)
    }
    this.boot = undefined
    this.hybrid = undefined
    this.changes.structure = true
  }

  /** Makes the image bootable from a disk as well (syslinux isohybrid; xorriso -isohybrid-mbr/-gpt). */
  async addIsohybrid (options: IsohybridOptions): Promise<void> {
    await this.readBootStructures()
    this.hybrid = await isohybridFor(this.boot as BootConfiguration | undefined, options)
    this.changes.structure = true
  }

  async removeIsohybrid (): Promise<void> {
    await this.readBootStructures()
    this.hybrid = undefined
    this.changes.structure = true
  }

  // --- Writing ---------------------------------------------------------------------------------------

  /** The size the image would have if written now, in bytes. */
  async estimateSize (options: { paddingSectors?: number } = {}): Promise<number> {
    return (await layoutFor(this.root, this.settings, await this.content(options.paddingSectors))).totalSectors * SECTOR_SIZE
  }

  /**
   * Masters the image (pycdlib write / write_fp): to a path (through a temporary file renamed into place),
   * a descriptor or a stream. Memory stays bounded: metadata is laid out first, data is streamed.
   */
  async write (target: string | number | Writable, options: WriteOptions & { paddingSectors?: number } = {}): Promise<{ bytes: number }> {
    if (typeof target === 'string' && this.origin !== undefined && this.owned !== undefined && sameFile(target, this.owned.fd)) {
      throw new InvalidInputError('BAD_ARGUMENT', 'writing over the image being read would destroy what is read; write elsewhere (the commit of a mount handles in-place updates)')
    }
    const content = await this.content(options.paddingSectors)
    if (this.origin !== undefined) this.settings.volume.modifiedMs = defaultTimestampMs()
    const layout = await layoutFor(this.root, this.settings, content)
    return await writeImage(layout, content, target, options)
  }

  /**
   * Writes the changes made since open into the image file itself (see commit/commit.ts: in place,
   * append or remaster), then carries on from the committed image: more changes and commits may follow.
   */
  async commit (options: CommitOptions = {}): Promise<CommitResult> {
    const origin = this.currentOrigin
    if (origin === undefined || this.owned === undefined || this.openedPath === undefined) {
      throw new InvalidInputError('UNSUPPORTED', 'only an image opened from a file path can be committed')
    }
    if (this.changes.empty) return { mode: 'unchanged', bytesWritten: 0, reasons: [] }
    await loadAll(this.root)
    const content = await this.content(0)
    const modified = this.settings.volume.modifiedMs
    this.settings.volume.modifiedMs = defaultTimestampMs()
    let result: CommitResult
    try {
      result = await commitChanges({
        context: { path: this.openedPath, source: this.owned, descriptors: origin.descriptors },
        root: this.root,
        settings: this.settings,
        content,
        changes: this.changes
      }, options)
    } catch (err) {
      this.settings.volume.modifiedMs = modified
      throw err
    }
    await this.rebase(result, content)
    this.changes.clear()
    return result
  }

  /** After a commit, the model reads from where things now are, and edited data leaves its temp files. */
  private async rebase (result: CommitResult, content: { boot?: BootConfiguration }): Promise<void> {
    let source = this.owned as FileByteSource
    if (result.mode === 'remaster') {
      const previous = source
      source = await FileByteSource.open(this.openedPath as string)
      this.owned = source
      await previous.close()
    } else {
      await source.refresh()
    }
    const layout = result.layout
    if (layout === undefined) {
      // In place: every changed file is where it was, with its new size.
      for (const inode of this.changes.data) {
        const overlay = inode.data as OverlayData
        const base = overlay.base as ImageExtentsSource
        inode.data = new ImageExtentsSource(source, [{ ...base.sections[0], length: overlay.size }])
        overlay.dispose()
      }
    } else {
      for (const [inode, sections] of layout.files) {
        if (layout.fixed.has(inode) && result.mode !== 'remaster') continue
        const extents = new ImageExtentsSource(source, sections.map(s => ({ lba: s.lba, length: s.length, unitSize: 0, gapSize: 0 })))
        if (inode.data instanceof OverlayData) inode.data.dispose()
        if (inode.compressed !== undefined) {
          inode.compressed = { raw: extents, zisofs: inode.compressed.zisofs }
          inode.data = new ZisofsSource(extents, inode.compressed.zisofs.uncompressedSize, extents.lba)
        } else {
          inode.data = extents
        }
      }
      if (content.boot !== undefined && layout.bootCatalog !== undefined) {
        content.boot.catalog.data = new ImageExtentsSource(source, [{ lba: layout.bootCatalog.lba, length: layout.bootCatalog.size, unitSize: 0, gapSize: 0 }])
      }
      for (const [node, origin] of layout.written) node.origin = origin
    }
    this.currentOrigin = await refreshOrigin(this.currentOrigin as ImageOrigin, source)
  }

  async close (): Promise<void> {
    await this.owned?.close()
  }

  // --- Internals -------------------------------------------------------------------------------------

  private async content (paddingSectors = 0): Promise<{ boot?: BootConfiguration, hybrid?: HybridConfiguration, paddingSectors: number }> {
    await this.readBootStructures()
    return {
      boot: this.boot as BootConfiguration | undefined,
      hybrid: this.hybrid as HybridConfiguration | undefined,
      paddingSectors
    }
  }

  /** Maps the read catalog and system area onto inodes; needs the whole tree, so done only when asked. */
  private async readBootStructures (): Promise<void> {
    if (this.boot !== 'unread' && this.hybrid !== 'unread') return
    const origin = this.origin as ImageOrigin
    await loadAll(this.root)
    const byStart = inodesByStart(this.root)
    const volumeSectors = origin.descriptors.primary.volumeSpaceSize
    if (this.boot === 'unread') {
      this.boot = origin.elTorito !== undefined ? await bootConfigurationOf(origin.source, origin.elTorito, byStart, volumeSectors) : undefined
    }
    if (this.hybrid === 'unread') {
      this.hybrid = hybridConfigurationOf(origin.systemArea, this.boot, byStart, volumeSectors)
    }
  }

  private async addNode (path: string, kind: FileKind, options: AddOptions, extra: EntryContent): Promise<Node> {
    const namespace = options.namespace ?? this.defaultNamespace
    const { parent, name } = await this.editor.parentOf(path, namespace)
    return await this.addChild(parent, name, kind, extra, { ...options, namespace })
  }

  /**
   * Node-level add for bulk work (importing a tree): no path is resolved. `name` is the entry's name in
   * `options.namespace`; a parent only in the Joliet tree takes Joliet names.
   */
  async addChild (parent: Node, name: string, kind: FileKind, content: EntryContent, options: AddOptions = {}): Promise<Node> {
    const namespace = options.namespace ?? (parent.names.iso === undefined ? 'joliet' : this.defaultNamespace)
    if ((kind === 'symlink' || kind === 'fifo' || kind === 'socket' || kind === 'char-device' || kind === 'block-device')) {
      this.requireRockRidge(kind === 'symlink' ? 'symbolic links' : 'special files')
    }
    const now = defaultTimestampMs()
    const mtimeMs = options.mtimeMs ?? now
    const permissions = options.mode ?? (kind === 'directory' ? 0o755 : kind === 'symlink' ? 0o777 : 0o644)
    const node = await this.editor.createIn(parent, name, namespace, {
      mode: TYPE_BITS[kind] | (permissions & 0o7777),
      uid: options.uid ?? 0,
      gid: options.gid ?? 0,
      times: { mtimeMs, atimeMs: options.atimeMs ?? mtimeMs, ctimeMs: options.ctimeMs ?? mtimeMs },
      posix: this.settings.rockRidge !== undefined,
      ...content
    }, options)
    if (options.hidden === true) node.flags |= NodeFlag.HIDDEN
    this.changes.structure = true
    return node
  }

  /** Node-level hard link: another name for `target`'s inode in `parent`. */
  async linkChild (target: Node, parent: Node, name: string, options: NameOptions & { namespace?: Namespace } = {}): Promise<Node> {
    const namespace = options.namespace ?? (parent.names.iso === undefined ? 'joliet' : this.defaultNamespace)
    const node = await this.editor.linkIn(target, parent, name, namespace, options)
    this.changes.structure = true
    return node
  }

  private requireRockRidge (what: string): void {
    if (this.settings.rockRidge === undefined) throw new InvalidInputError('UNSUPPORTED', `${what} need Rock Ridge`)
  }

  /** Changes a node's names in place (its parent's name indexes are kept right). */
  private async renameNames (node: Node, change: (names: Node['names']) => void): Promise<void> {
    const parent = node.parent
    if (parent?.dir === undefined) throw new InvalidInputError('BAD_PATH', 'the root has no name')
    parent.dir.remove(node)
    change(node.names)
    this.changes.structure = true
    if (node.names.iso === undefined && node.names.joliet === undefined) {
      node.parent = undefined
      return
    }
    parent.dir.add(node)
  }

  private async * walkAll (): AsyncGenerator<{ node: Node }> {
    const stack: Node[] = [this.root]
    while (stack.length > 0) {
      const node = stack.pop() as Node
      for (const child of await node.dir?.list() ?? []) {
        yield { node: child }
        if (child.dir !== undefined) stack.push(child)
      }
    }
  }
}

const TYPE_BITS: Record<FileKind, number> = {
  file: S_IFREG, directory: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, 'char-device': S_IFCHR, 'block-device': S_IFBLK
}

const EMPTY_IMAGE = new BufferByteSource(Buffer.alloc(0))

function settingsOf (origin: ImageOrigin, root: Node): ImageSettings {
  const e = origin.extensions
  const v = origin.volume
  const rr = e.rockRidge?.version
  const relocation = root.dir?.peek()?.find(n => (n.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0)
  return {
    interchangeLevel: e.enhanced ? 4 : 3,
    rockRidge: rr === undefined ? undefined : rr === 'unknown' ? '1.09' : rr,
    joliet: e.joliet !== undefined ? { level: e.joliet.level, long: false } : undefined,
    xa: hasXaSignature(origin.descriptors.primary.applicationUse),
    volume: {
      systemId: v.systemId,
      volumeId: v.volumeId,
      volumeSetId: v.volumeSetId,
      publisherId: v.publisherId,
      preparerId: v.preparerId,
      applicationId: v.applicationId,
      copyrightFileId: v.copyrightFileId,
      abstractFileId: v.abstractFileId,
      bibliographicFileId: v.bibliographicFileId,
      volumeSetSize: v.volumeSetSize,
      volumeSequenceNumber: v.volumeSequenceNumber,
      createdMs: v.createdMs ?? defaultTimestampMs(),
      modifiedMs: v.modifiedMs ?? defaultTimestampMs(),
      expiresMs: v.expiresMs,
      effectiveMs: v.effectiveMs,
      jolietVolumeId: e.joliet?.volumeId
    },
    relocationDirectory: relocation?.names.rr ?? 'rr_moved'
  }
}

/** ECMA-119 8.4: field sizes of the volume descriptor's identifiers. */
const VOLUME_FIELD_SIZES: Array<[keyof VolumeIdentity, number]> = [
  ['systemId', 32], ['volumeId', 32], ['volumeSetId', 128], ['publisherId', 128], ['preparerId', 128],
  ['applicationId', 128], ['copyrightFileId', 37], ['abstractFileId', 37], ['bibliographicFileId', 37]
]

function validateVolume (volume: VolumeIdentity): void {
  for (const [key, size] of VOLUME_FIELD_SIZES) {
    const value = volume[key] as string
    if (Buffer.byteLength(value, 'latin1') > size) {
      throw new InvalidInputError('BAD_ARGUMENT', `${key} "${value}" is longer than the ${size} bytes ECMA-119 8.4 allows`)
    }
  }
}

function sameFile (target: string, fd: number): boolean {
  try {
    const a = fs.statSync(target)
    const b = fs.fstatSync(fd)
    return a.dev === b.dev && a.ino === b.ino
  } catch {
    return false
  }
}

export function contentStream (data: DataSource, chunkSize = 1024 * 1024): Readable {
  let position = 0
  return new Readable({
    highWaterMark: chunkSize,
    read () {
      if (position >= data.size) {
        this.push(null)
        return
      }
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, data.size - position))
      data.read(buf, 0, buf.length, position).then(n => {
        position += n
        if (n === 0) this.destroy(new Error('file data ended early'))
        else this.push(n === buf.length ? buf : buf.subarray(0, n))
      }, err => this.destroy(err))
    }
  })
}
