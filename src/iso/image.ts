import * as fs from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { InvalidInputError } from '../errors'
import type { CommitResult } from './commit/commit'
import { ImageFile, type ImageCommitOptions } from './commit/image-file'
import { JournaledByteSource, readJournal } from './commit/journal'
import { requireDirectoryUnderstood, requireImageUnderstood, requireTreeUnderstood } from './commit/understood'
import type { JolietLevel } from './codec/joliet'
import type { ChecksumCheck, ChecksumProgress } from './checksum/verify'
import type { RockRidgeVersion } from './codec/rock-ridge'
import { revisionText } from './codec/udf/entity-id'
import { SECTOR_SIZE } from './codec/volume-descriptor'
import { addBootImage, bootImageFor, followReplacedBootFiles, isohybridFor, type ElToritoOptions, type IsohybridOptions } from './edit/boot-editor'
import { describePartitions, fileStarts, type PartitionDescription } from './read/partitions'
import { ImageEditor, type AddOptions, type Attributes, type EntryContent, type FileContent } from './edit/image-editor'
import type { NameOptions } from './edit/tree-editor'
import { BufferByteSource, FileByteSource, type ByteSource } from './io/byte-source'
import type { BootConfiguration } from './model/boot'
import type { SystemAreaModel } from './model/system-area'
import { Payload, Region } from './model/payload'
import { hybridSystemArea, type HybridOptions } from './edit/hybrid-builder'
import type { ChangeSet } from './model/change-set'
import { BufferSource, contentStream } from './model/data-source'
import { Inode, S_IFDIR, S_IFREG, type FileKind } from './model/inode'
import { Directory, Node } from './model/node'
import type { OverlayData } from './model/overlay-data'
import { statOf, type Stat } from './model/stat'
import { NAMESPACES, NamespaceView, type Namespace, type ViewOptions } from './namespace'
import { validateIsoName, type InterchangeLevel, type IsoNameRules } from './naming/iso9660'
import type { DescriptorSet } from './read/descriptors'
import type { ElToritoInfo } from './read/el-torito'
import { readImage, type Extensions, type ImageOrigin, type OpenOptions, type VolumeInfo } from './read/open-image'
import type { ReadOnlyReason } from './read/read-only-reasons'
import type { SystemAreaInfo } from './read/system-area'
import { loadAll } from './read/load-all'
import type { WriteOptions } from './write/master'
import { udfSettingsOf, type UdfRevisionText } from './write/udf/layout'
import { READ_AHEAD_PADDING_SECTORS, type WriteContent } from './write/layout'
import { defaultTimestampMs, defaultVolumeIdentity, settingsFromOrigin, validateVolume, type ImageSettings, type VolumeIdentity } from './write/settings'

export type { OpenOptions, VolumeInfo, Extensions } from './read/open-image'
export type { ReadOnlyReason } from './read/read-only-reasons'
export type { PartitionDescription } from './read/partitions'
export type { AddOptions, Attributes, FileContent, EntryContent } from './edit/image-editor'

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
  /** CD-ROM XA directory records (pycdlib's new(xa=True)); with owners and modes as recorded or rationalized (genisoimage -XA, -xa). */
  xa?: boolean | 'recorded' | 'rational'
  /** Relaxed rules for the ISO9660 names generated for what is added (genisoimage -l, -d, -N, …). */
  isoNames?: IsoNameRules
  /** Keep directories deeper than eight levels where they are instead of relocating them (genisoimage -D). */
  keepDeepDirectories?: boolean
  /**
   * A UDF file system over the same files (a bridge image, genisoimage -udf): its revision, "1.02"
   * (genisoimage's, and the default for true), "1.50", "2.00", "2.01", "2.50" or "2.60" (the last two in
   * pycdlib's shape, one plain partition); or an object, to put the entries and directories in a metadata
   * partition as Blu-ray discs do (UDF 2.50+; revision "2.60" unless said).
   */
  udf?: boolean | UdfRevisionText | { revision?: UdfRevisionText, metadataPartition?: boolean }
}

/**
 * An ISO9660 image: opened from a file (read lazily: descriptors and the root at open, each directory when
 * first looked at) or created empty; edited through any of its namespaces; written (mastered) to a file,
 * descriptor or stream.
 */
export class IsoImage {
  /** Node-level edits and the change set a commit reads. */
  readonly edits: ImageEditor
  /** El Torito, as read at open (or added): entries point at payloads, not LBAs. */
  private boot: BootConfiguration | undefined
  /** The system area's tables (MBR, GPT, APM), as read at open (or added). */
  private systemAreaTables: SystemAreaModel | undefined

  /**
   * `file`: the image file it was opened from by path, which commits write into; `opened`: what was read,
   * for an image opened from a descriptor or a ByteSource (not committable).
   */
  private constructor (
    readonly root: Node,
    public settings: ImageSettings,
    private readonly file: ImageFile | undefined,
    private readonly opened: ImageOrigin | undefined
  ) {
    this.edits = new ImageEditor(root, () => this.settings, () => this.defaultNamespace)
    const origin = this.origin
    this.boot = origin?.boot
    this.systemAreaTables = origin?.systemAreaModel
    // An edit whose commit could never be written is refused at once, not at the commit.
    if (origin !== undefined) this.edits.guard = directories => this.checkEdit(directories)
  }

  /** The file the image was opened from, if it was opened by path. */
  get path (): string | undefined {
    return this.file?.path
  }

  /** What was read from the image file (after a commit: from the committed image). */
  get origin (): ImageOrigin | undefined {
    return this.file?.origin ?? this.opened
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
      const file = typeof target === 'string' && owned !== undefined ? new ImageFile(target, owned, origin) : undefined
      return new IsoImage(root, settingsFromOrigin(origin, root), file, file === undefined ? origin : undefined)
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
      xa: options.xa !== undefined && options.xa !== false,
      xaAttributes: typeof options.xa === 'string' ? options.xa : undefined,
      volume: { ...defaultVolumeIdentity(now), ...options.volume },
      relocationDirectory: options.relocationDirectory ?? 'rr_moved',
      isoNames: options.isoNames,
      keepDeepDirectories: options.keepDeepDirectories,
      udf: udfSettingsOf(options.udf)
    }
    validateVolume(settings.volume)
    const inode = new Inode({ mode: S_IFDIR | 0o755, times: { mtimeMs: now, atimeMs: now, ctimeMs: now }, posix: rockRidge !== undefined, nlink: 2, ino: 1 })
    const names = { iso: '', joliet: jolietLevel !== undefined ? '' : undefined, udf: settings.udf !== undefined ? '' : undefined }
    const root = new Node(undefined, names, inode, new Directory())
    return new IsoImage(root, settings, undefined, undefined)
  }

  // --- What was read ---------------------------------------------------------------------------------

  get source (): ByteSource {
    return this.origin?.source ?? EMPTY_IMAGE
  }

  get descriptors (): DescriptorSet {
    if (this.origin === undefined) throw new InvalidInputError('UNSUPPORTED', 'a new image has no descriptors until it is written')
    if (this.origin.descriptors === undefined) throw new InvalidInputError('UNSUPPORTED', 'the image has no ISO9660 volume descriptors (it is a UDF file system only)')
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
      joliet: s.joliet !== undefined ? { level: s.joliet.level, volumeId: s.volume.jolietVolumeId ?? s.volume.volumeId } : undefined,
      udf: s.udf !== undefined ? { revision: revisionText(s.udf.revision), volumeId: s.volume.volumeId } : undefined
    }
  }

  /** The El Torito catalog as read from the image (see bootConfiguration() for the editable form). */
  get elTorito (): ElToritoInfo | undefined {
    return this.origin?.elTorito
  }

  get systemArea (): SystemAreaInfo {
    return this.origin?.systemArea ?? { used: false }
  }

  /**
   * Why this image cannot be written back (structures found at open that a change would leave invalid);
   * empty when it can be. A write or commit of such an image fails with READ_ONLY and the first reason.
   */
  get readOnlyReasons (): readonly ReadOnlyReason[] {
    return this.origin?.readOnlyReasons ?? []
  }

  get warnings (): readonly string[] {
    return this.origin?.diagnostics.messages ?? []
  }

  /** Namespaces this image offers, in order of preference (see NAMESPACES). */
  get namespaces (): Namespace[] {
    const e = this.extensions
    const iso = this.origin === undefined || this.origin.descriptors !== undefined
    return NAMESPACES.filter(ns => (ns === 'rockridge' && e.rockRidge !== undefined) || (ns === 'udf' && e.udf !== undefined) ||
      (ns === 'joliet' && e.joliet !== undefined) || (ns === 'iso9660' && iso))
  }

  /**
   * Rock Ridge when present (Linux isofs's rule), else UDF (Windows media: the ISO9660 side holds little
   * more than a README), else Joliet, else plain ISO9660.
   */
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

  /** What changed since open (or the last commit). */
  get changes (): ChangeSet {
    return this.edits.changes
  }

  /** Where edited content is kept until written (default: the system's temporary directory). */
  set tempDir (dir: string | undefined) {
    this.edits.tempDir = dir
  }

  get tempDir (): string | undefined {
    return this.edits.tempDir
  }

  /** Adds a file (pycdlib add_file / add_fp); the names in the other namespaces are derived. */
  async addFile (path: string, content: FileContent, options: AddOptions = {}): Promise<Node> {
    return await this.addNode(path, 'file', options, { data: await this.edits.dataOf(content) })
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

  /** Node-level add for bulk work (importing a tree, the mount): no path is resolved. */
  async addChild (parent: Node, name: string, kind: FileKind, content: EntryContent, options: AddOptions = {}): Promise<Node> {
    return await this.edits.addChild(parent, name, kind, content, options)
  }

  /** Another name for an existing file (pycdlib add_hard_link); `from` is the namespace of `existing`. */
  async link (existing: string, path: string, options: NameOptions & { namespace?: Namespace, from?: Namespace } = {}): Promise<Node> {
    const namespace = options.namespace ?? this.defaultNamespace
    const target = await this.lookup(existing, options.from ?? namespace)
    const only: NameOptions = namespace === 'joliet' ? { iso: false } : options.joliet === undefined ? {} : { joliet: options.joliet }
    const { parent, name } = await this.edits.tree.parentOf(path, namespace)
    return await this.edits.linkChild(target, parent, name, { ...only, ...options, namespace })
  }

  async linkChild (target: Node, parent: Node, name: string, options: NameOptions & { namespace?: Namespace } = {}): Promise<Node> {
    return await this.edits.linkChild(target, parent, name, options)
  }

  /**
   * Removes an entry (a file name, or an empty directory) from every tree it is in. With `only`, just its
   * name in that namespace goes (pycdlib rm_hard_link): a file can be hidden from Joliet alone.
   */
  async remove (path: string, options: { namespace?: Namespace, only?: boolean } = {}): Promise<void> {
    const namespace = options.namespace ?? this.defaultNamespace
    const node = await this.lookup(path, namespace)
    await node.parent?.dir?.complete()
    const otherTree = namespace === 'joliet' ? node.names.iso : node.names.joliet
    if (options.only === true && otherTree !== undefined) {
      await this.edits.changeNames(node, names => {
        if (namespace === 'joliet') delete names.joliet
        else { delete names.iso; delete names.rr }
      })
      return
    }
    await this.edits.remove(node)
  }

  async removeNode (node: Node): Promise<void> {
    await this.edits.remove(node)
  }

  /** Moves or renames; the names in the other namespaces follow the new name. */
  async rename (from: string, to: string, namespace = this.defaultNamespace): Promise<void> {
    await this.edits.rename(await this.lookup(from, namespace), to, namespace)
  }

  async renameNode (node: Node, path: string, namespace: Namespace): Promise<void> {
    await this.edits.rename(node, path, namespace)
  }

  async setAttributes (path: string, attributes: Attributes, namespace?: Namespace): Promise<void> {
    this.edits.setAttributes(await this.lookup(path, namespace), attributes)
  }

  setNodeAttributes (node: Node, attributes: Attributes): void {
    this.edits.setAttributes(node, attributes)
  }

  /** Sets or clears the ECMA-119 hidden bit (genisoimage -hidden). */
  async setHidden (path: string, hidden: boolean, namespace?: Namespace): Promise<void> {
    this.edits.setHidden(await this.lookup(path, namespace), hidden)
  }

  /** Changes the ISO9660 identifier of an entry, validated against the interchange level. */
  async setIsoName (path: string, isoName: string, namespace?: Namespace): Promise<void> {
    const node = await this.lookup(path, namespace)
    const recorded = validateIsoName(isoName, node.isDirectory, this.settings.interchangeLevel)
    await this.edits.changeNames(node, names => { names.iso = recorded })
  }

  /** Opens a file's content for change (a copy-on-write overlay over what it was). */
  editableData (node: Node): OverlayData {
    return this.edits.editableData(node)
  }

  // --- Boot ------------------------------------------------------------------------------------------

  /** The El Torito configuration (entries point at payloads: files or regions); undefined when the image does not boot. */
  async bootConfiguration (): Promise<BootConfiguration | undefined> {
    return this.boot
  }

  /**
   * The system area as a model (MBR, GPT and APM entries, each with what it covers), undefined when the
   * image has none. See partitions() for a flat description.
   */
  systemAreaModel (): SystemAreaModel | undefined {
    return this.systemAreaTables
  }

  /**
   * Every partition entry (MBR, GPT, APM): where it is now, what it covers, and whether a commit updates it
   * (it follows the volume, the device, a boot image or a carried region, or fills a gap) or keeps it.
   */
  partitions (): PartitionDescription[] {
    return describePartitions(this.systemAreaTables)
  }

  /**
   * Adds an El Torito boot entry (pycdlib add_eltorito, mkisofs -b/-e): the first call creates the catalog
   * and the default entry, later calls add section entries (mkisofs -eltorito-alt-boot).
   */
  async addElTorito (options: ElToritoOptions, namespace?: Namespace): Promise<void> {
    let payload = options.bootPayload
    if (payload === undefined) {
      const bootInode = options.bootInode ?? (await this.lookup(options.bootFile, namespace)).inode
      if (bootInode.kind !== 'file') throw new InvalidInputError('BAD_ARGUMENT', `${options.bootFile} is not a regular file`)
      payload = new Payload(bootInode)
    }
    const image = await bootImageFor(payload, options)
    const times = payload.holder instanceof Inode ? payload.holder.times : this.root.inode.times
    let boot = this.boot
    if (boot === undefined) {
      const catalogPath = options.catalogPath ?? '/boot.cat'
      const catalog = options.hiddenCatalog === true
        ? new Inode({ mode: S_IFREG | 0o444, times, data: new BufferSource(Buffer.alloc(SECTOR_SIZE)), ino: this.edits.tree.allocateIno() })
        : (await this.addNode(catalogPath, 'file', { namespace, mode: 0o444 }, { data: new BufferSource(Buffer.alloc(SECTOR_SIZE)) })).inode
      boot = addBootImage(undefined, catalog, image, options)
    } else {
      boot = addBootImage(boot, boot.catalog, image, options)
    }
    this.boot = boot
    this.edits.changes.boot = true
  }

  /** Removes El Torito (pycdlib rm_eltorito): the catalog file goes; boot files stay as files. */
  async removeElTorito (): Promise<void> {
    const boot = this.boot
    if (boot === undefined) return
    await loadAll(this.root)
    for await (const { node } of this.walkAll()) {
      if (node.inode === boot.catalog && node.parent !== undefined) await this.edits.remove(node)
    }
    this.boot = undefined
    this.systemAreaTables = undefined
    this.changes.boot = true
  }

  /** Makes the image bootable from a disk as well (syslinux isohybrid; xorriso -isohybrid-mbr/-gpt). */
  async addIsohybrid (options: IsohybridOptions): Promise<void> {
    this.systemAreaTables = await isohybridFor(this.boot, options)
    this.changes.boot = true
  }

  /**
   * The system area as xorriso -as mkisofs's hybrid options make it (edit/hybrid-builder.ts): MBR boot
   * code (isohybrid or GRUB), a protective MBR, appended partitions, a GPT for them or for marked boot
   * images. Replaces the system area's tables; El Torito entries come first (addElTorito).
   */
  async addHybrid (options: HybridOptions): Promise<void> {
    this.systemAreaTables = await hybridSystemArea(this.boot, options)
    if (options.partitionOffset !== undefined) this.settings.partitionOffset = options.partitionOffset
    this.changes.boot = true
  }

  /**
   * Bytes that no directory tree names, to become an appended partition (xorriso -append_partition: after
   * the volume's data) or a boot image (addElTorito's `bootPayload`).
   */
  async region (content: FileContent, label: string, place: Region['place'] = 'appended'): Promise<Payload> {
    return new Payload(new Region(await this.edits.dataOf(content), place, label))
  }

  /** Drops the system area's boot code and tables (El Torito stays): the image boots as a CD only. */
  async removeIsohybrid (): Promise<void> {
    this.systemAreaTables = undefined
    this.changes.boot = true
  }

  // --- Writing ---------------------------------------------------------------------------------------

  /**
   * Checks every checksum the image carries (implantisomd5's, xorriso's tags, session and file MD5s),
   * as the image was opened: PASS, FAIL or NA for each (checksum/verify.ts).
   */
  async verifyChecksums (onProgress?: (progress: ChecksumProgress) => void): Promise<ChecksumCheck[]> {
    const origin = this.origin
    if (origin === undefined) throw new InvalidInputError('UNSUPPORTED', 'a new image has no checksums until it is written')
    if (origin.descriptors === undefined) return [] // a UDF file system only: none of the checksums checked here
    const { verifyChecksums } = await import('./checksum/verify')
    return await verifyChecksums({ source: origin.source, descriptors: origin.descriptors, walk: () => this.walk('/') }, onProgress)
  }

  /** The size the image would have if written now, in bytes. */
  async estimateSize (options: { paddingSectors?: number } = {}): Promise<number> {
    const { layoutFor } = await import('./write/master')
    return (await layoutFor(this.root, this.settings, await this.content(true, options.paddingSectors))).totalSectors * SECTOR_SIZE
  }

  /**
   * Masters the image (pycdlib write / write_fp): to a path (through a temporary file renamed into place),
   * a descriptor or a stream. Memory stays bounded: metadata is laid out first, data is streamed.
   */
  async write (target: string | number | Writable, options: WriteOptions & { paddingSectors?: number } = {}): Promise<{ bytes: number }> {
    if (typeof target === 'string' && this.file !== undefined && sameFile(target, this.file.source.fd)) {
      throw new InvalidInputError('BAD_ARGUMENT', 'writing over the image being read would destroy what is read; write elsewhere (the commit of a mount handles in-place updates)')
    }
    await this.requireUnderstood()
    // An opened image keeps its volume dates (settings.volume): GRUB's search --fs-uuid and blkid take the
    // modification date as the volume's UUID, and grub-mkrescue's EFI GRUB finds its ISO by it.
    const content = await this.content(true, options.paddingSectors)
    // Loaded on first use: a mount that only reads never needs the writer (the daemon starts faster).
    const { layoutFor, writeImage } = await import('./write/master')
    // An image written from one that carried an implantisomd5 checksum or xorriso's session MD5s carries
    // fresh ones (files only: they are computed by reading the written image back).
    const descriptors = this.origin?.descriptors
    if (typeof target !== 'string' || this.origin === undefined || descriptors === undefined) {
      return await writeImage(await layoutFor(this.root, this.settings, content), content, target, options)
    }
    const { newImage } = await import('./commit/commit')
    const { mediaChecksumsOf, sessionMd5Keeping } = await import('./commit/media-checksums')
    await loadAll(this.root)
    const read = { source: this.origin.source, descriptors }
    const checksums = await mediaChecksumsOf(read)
    const plan = newImage(this.root, this.settings, content, read, checksums, sessionMd5Keeping(read, checksums, this.settings))
    return await writeImage(plan.layout, plan.content, target, { ...options, finish: options.finish ?? plan.finish })
  }

  /**
   * Fails unless what a write needs was read without a single irregularity. Without `directories`: the
   * whole tree (loaded for it), as a write elsewhere or a remaster rewrites it all. With them: the
   * structures every commit rewrites (descriptors, system area, boot catalog) and those directories (the
   * loaded ones): what a commit that rewrites them, or patches their records, needs. A commit checks what
   * it touches itself; this is for callers who want to know first (isotool info, a mount).
   */
  async requireUnderstood (directories?: Iterable<Node>): Promise<void> {
    if (directories === undefined) {
      await requireTreeUnderstood(this.root, this.origin)
      return
    }
    requireImageUnderstood(this.origin)
    for (const dir of directories) requireDirectoryUnderstood(dir)
  }

  /**
   * Writes the changes made since open into the image file itself (see commit/commit.ts: only what
   * changed, in place where it fits and after the image's end where it does not; or a remaster), then
   * carries on from the committed image: more changes and commits may follow. Reading the model while a
   * commit runs is safe; `excludeReaders` is called around the moment the model switches to the committed
   * image (a mount keeps its readers out for it). Changing it is not.
   */
  /** Readies what a commit needs (its code), ahead of it: for callers that know one will follow. */
  prepareCommit (): void {
    this.file?.prepareCommit()
  }

  async commit (options: ImageCommitOptions = {}): Promise<CommitResult> {
    if (this.file === undefined) throw new InvalidInputError('UNSUPPORTED', 'only an image opened from a file path can be committed')
    // A UDF tree is written whole (write/udf): only a remaster keeps it the same tree as the others. Decided
    // here, whatever ways of writing less the commit modes learn (delta-plan and append refuse it too).
    if (this.settings.udf !== undefined && !this.changes.empty) {
      const asked = options.mode ?? 'auto'
      if (asked !== 'auto' && asked !== 'remaster') {
        throw new InvalidInputError('UNSUPPORTED', `cannot commit ${asked === 'inplace' ? 'in place' : 'by appending'}: the image has a UDF file system, which is written whole (a remaster)`)
      }
      options = { ...options, mode: 'remaster' }
    }
    return await this.file.commit({
      root: this.root,
      settings: this.settings,
      changes: this.changes,
      // A grown or remastered volume ends in padding as mkisofs's do (only appends and remasters lay
      // out a new end).
      content: async whole => await this.content(whole, READ_AHEAD_PADDING_SECTORS)
    }, options)
  }

  /** Why this model may no longer be committed (a commit it could not follow), if so. */
  get staleReason (): string | undefined {
    return this.file?.stale
  }

  async close (): Promise<void> {
    await this.file?.close()
  }

  // --- Internals -------------------------------------------------------------------------------------

  /**
   * What a write or commit lays out besides the tree. For a whole-tree write (`whole`) the whole tree is
   * loaded first, so hidden boot images whose size was only implied get theirs (up to the next file); boot
   * files replaced by name are followed either way.
   */
  private async content (whole: boolean, paddingSectors = 0): Promise<WriteContent> {
    const origin = this.origin
    if (whole) {
      await loadAll(this.root)
      if (origin !== undefined) origin.payloads.resolveGuessedSizes(fileStarts(this.root), origin.dataEnd)
    }
    if (this.boot !== undefined) followReplacedBootFiles(this.boot, this.edits.tree.formerPlaces)
    return { boot: this.boot, systemArea: this.systemAreaTables, paddingSectors }
  }

  /**
   * The edit guard: a change in a directory read with irregularities fails at once (READ_ONLY). Its model
   * may lack what was skipped (an ignored entry could even hold the new name), and no commit would write
   * it. (What keeps the whole image from being written, read-only reasons and image-wide irregularities,
   * is refused at the commit: the model itself is sound.)
   */
  private checkEdit (directories: ReadonlyArray<Node | undefined>): void {
    try {
      for (const dir of directories) if (dir !== undefined) requireDirectoryUnderstood(dir)
    } catch (err) {
      throw new InvalidInputError('READ_ONLY', `the change cannot be written: ${(err as Error).message}`)
    }
  }

  private async addNode (path: string, kind: FileKind, options: AddOptions, content: EntryContent): Promise<Node> {
    const namespace = options.namespace ?? this.defaultNamespace
    const { parent, name } = await this.edits.tree.parentOf(path, namespace)
    return await this.edits.addChild(parent, name, kind, content, { ...options, namespace })
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

const EMPTY_IMAGE = new BufferByteSource(Buffer.alloc(0))

function sameFile (target: string, fd: number): boolean {
  try {
    const a = fs.statSync(target)
    const b = fs.fstatSync(fd)
    return a.dev === b.dev && a.ino === b.ino
  } catch {
    return false
  }
}
