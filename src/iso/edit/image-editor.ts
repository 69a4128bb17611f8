import { InvalidInputError } from '../../errors'
import { BufferSource, type DataSource } from '../model/data-source'
import { ChangeSet } from '../model/change-set'
import { HostFileSource, spoolStream } from '../model/host-sources'
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type FileKind, type InodeInit } from '../model/inode'
import { depthOf, NodeFlag, type Node } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import type { Namespace } from '../namespace'
import { defaultTimestampMs, type ImageSettings } from '../write/settings'
import { namespaceFor, TreeEditor, type NameOptions } from './tree-editor'

export interface AddOptions extends NameOptions {
  /** The namespace a path or name is written in (default: the image's default namespace). */
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
export type FileContent = string | Buffer | { stream: import('node:stream').Readable, size: number }

/** What a new entry holds besides attributes: file data, a symlink target, a device number. */
export interface EntryContent {
  data?: DataSource
  symlinkTarget?: string
  rdev?: number
}

/**
 * Owners are recorded in Rock Ridge PX (RRIP 4.1.1) as 32-bit both-endian numbers: anything else would be
 * written cut to 32 bits, an owner nobody asked for.
 */
function checkIds (attributes: { uid?: number, gid?: number }): void {
  for (const [field, value] of [['uid', attributes.uid], ['gid', attributes.gid]] as const) {
    if (value === undefined) continue
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new InvalidInputError('BAD_ARGUMENT', `${field} ${value} is not a number from 0 to 4294967295 (Rock Ridge records 32 bits)`, { [field]: value })
    }
  }
}

const TYPE_BITS: Record<FileKind, number> = {
  file: S_IFREG, directory: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, 'char-device': S_IFCHR, 'block-device': S_IFBLK
}

/**
 * Node-level edits of an image's tree, each recorded in the change set a commit reads: entries with
 * their content and attributes (names come from TreeEditor), hard links, removal, renames, and content
 * opened for writing through copy-on-write overlays.
 */
export class ImageEditor {
  readonly changes = new ChangeSet()
  readonly tree: TreeEditor
  /** Where edited content is kept until written (default: the system's temporary directory). */
  tempDir?: string
  /**
   * Called before each edit with the directories whose records it changes; throws to refuse an edit
   * that no commit could ever write (a directory read with irregularities: IsoImage sets it).
   */
  guard?: (directories: ReadonlyArray<Node | undefined>) => void

  constructor (root: Node, private readonly settings: () => ImageSettings, private readonly defaultNamespace: () => Namespace) {
    this.tree = new TreeEditor(root, settings)
  }

  /** A data source for file content; checks it fits the interchange level. */
  async dataOf (content: FileContent): Promise<DataSource> {
    // Checked before a stream is spooled: a size the level cannot hold is refused without reading it.
    if (typeof content === 'object' && !Buffer.isBuffer(content)) this.checkFileSize(content.size)
    let data: DataSource
    if (typeof content === 'string') data = HostFileSource.fromPath(content)
    else if (Buffer.isBuffer(content)) data = new BufferSource(content)
    else data = await spoolStream(content.stream, content.size)
    this.checkFileSize(data.size)
    return data
  }

  private checkFileSize (size: number): void {
    if (size > 0xffffffff && this.settings().interchangeLevel < 3) {
      throw new InvalidInputError('TOO_LARGE', `a file of ${size} bytes needs interchange level 3 or 4 (ECMA-119 10.3: multi-extent files)`)
    }
  }

  /**
   * A new entry called `name` (in `options.namespace`) in `parent`. A parent only in the Joliet tree takes
   * Joliet names.
   */
  async addChild (parent: Node, name: string, kind: FileKind, content: EntryContent, options: AddOptions = {}): Promise<Node> {
    const namespace = options.namespace ?? namespaceFor(parent, this.defaultNamespace())
    if (kind !== 'file' && kind !== 'directory' && this.settings().rockRidge === undefined) {
      throw new InvalidInputError('UNSUPPORTED', `${kind === 'symlink' ? 'symbolic links' : 'special files'} need Rock Ridge`)
    }
    this.guard?.([parent])
    const node = await this.tree.createIn(parent, name, namespace, this.inodeInit(kind, content, options), options)
    if (options.hidden === true) node.flags |= NodeFlag.HIDDEN
    this.changes.directories.add(parent)
    if (node.isDirectory) this.changes.directories.add(node)
    return node
  }

  /**
   * An entry with content and attributes but no name in any tree (see TreeEditor.createDetached): what
   * mkisofs makes of a file hidden from every tree. Only an El Torito entry can point at it.
   */
  addDetached (kind: FileKind, content: EntryContent, options: AddOptions = {}): Node {
    return this.tree.createDetached(this.inodeInit(kind, content, options))
  }

  private inodeInit (kind: FileKind, content: EntryContent, options: AddOptions): Omit<InodeInit, 'ino'> {
    checkIds(options)
    const now = defaultTimestampMs()
    const mtimeMs = options.mtimeMs ?? now
    const permissions = options.mode ?? (kind === 'directory' ? 0o755 : kind === 'symlink' ? 0o777 : 0o644)
    return {
      mode: TYPE_BITS[kind] | (permissions & 0o7777),
      uid: options.uid ?? 0,
      gid: options.gid ?? 0,
      times: { mtimeMs, atimeMs: options.atimeMs ?? mtimeMs, ctimeMs: options.ctimeMs ?? mtimeMs },
      posix: this.settings().rockRidge !== undefined,
      ...content
    }
  }

  /** Another name for `target`'s inode in `parent`. */
  async linkChild (target: Node, parent: Node, name: string, options: NameOptions & { namespace?: Namespace } = {}): Promise<Node> {
    const namespace = options.namespace ?? (parent.names.iso === undefined ? 'joliet' : this.defaultNamespace())
    this.guard?.([parent, target.parent])
    const node = await this.tree.linkIn(target, parent, name, namespace, options)
    this.changes.directories.add(parent)
    // The link count in the other names' records follows.
    if (node.names.iso !== undefined) this.changes.inodeChanged(target.inode, target.parent, 'attributes')
    return node
  }

  /** Removes one entry; a directory must be empty. A boot file stays in the catalog, hidden. */
  async remove (node: Node): Promise<void> {
    const parent = node.parent
    this.guard?.([parent])
    await this.tree.remove(node)
    this.changes.directories.add(parent as Node)
    // A file with other names: their records' link count follows.
    if (!node.isDirectory && node.names.iso !== undefined && node.inode.nlink > 0) this.changes.inodeChanged(node.inode, parent, 'attributes')
  }

  /** Moves `node` to `path` (in `namespace`); an existing target must have been removed first. */
  async rename (node: Node, path: string, namespace: Namespace): Promise<void> {
    const from = node.parent
    if (this.guard !== undefined) this.guard([from, (await this.tree.parentOf(path, namespace)).parent, node.isDirectory ? node : undefined])
    const depth = depthOf(node)
    await this.tree.rename(node, path, namespace)
    this.changes.directories.add(from as Node)
    this.changes.directories.add(node.parent as Node)
    if (node.isDirectory && node.parent !== from && !this.changes.moved.has(node)) this.changes.moved.set(node, depth)
  }

  /** Changes a node's names in place (its parent's name indexes are kept right). */
  async changeNames (node: Node, change: (names: Node['names']) => void): Promise<void> {
    const parent = node.parent
    if (parent?.dir === undefined) throw new InvalidInputError('BAD_PATH', 'the root has no name')
    this.guard?.([parent])
    // Joliet names merged first (see TreeEditor.remove), so the change sees and keeps them.
    await parent.dir.complete()
    parent.dir.remove(node)
    change(node.names)
    this.changes.directories.add(parent)
    if (node.names.iso === undefined && node.names.joliet === undefined) {
      node.parent = undefined
      return
    }
    parent.dir.add(node)
  }

  setAttributes (node: Node, attributes: Attributes): void {
    checkIds(attributes)
    this.guard?.([node.parent, node.isDirectory ? node : undefined])
    const inode = node.inode
    if (attributes.mode !== undefined) inode.mode = (inode.mode & S_IFMT) | (attributes.mode & 0o7777)
    if (attributes.uid !== undefined) inode.uid = attributes.uid
    if (attributes.gid !== undefined) inode.gid = attributes.gid
    if (attributes.mtimeMs !== undefined) inode.times.mtimeMs = attributes.mtimeMs
    if (attributes.atimeMs !== undefined) inode.times.atimeMs = attributes.atimeMs
    if (attributes.ctimeMs !== undefined) inode.times.ctimeMs = attributes.ctimeMs
    if (attributes.mode !== undefined || attributes.uid !== undefined || attributes.gid !== undefined) {
      // A posix attribute set where none was recorded adds PX to the records: no longer a same-size edit.
      if (!inode.posix) this.changes.inodeChanged(inode, node.parent, 'reshaped')
      inode.posix = true
    }
    this.changes.inodeChanged(inode, node.parent, 'attributes')
  }

  setHidden (node: Node, hidden: boolean): void {
    this.guard?.([node.parent])
    node.flags = hidden ? node.flags | NodeFlag.HIDDEN : node.flags & ~NodeFlag.HIDDEN
    if (node.parent !== undefined) this.changes.directories.add(node.parent)
  }

  /**
   * Opens a file's content for change: its data becomes a copy-on-write overlay (kept in a temporary
   * file) over what it was. Callers write and truncate through the returned overlay.
   */
  editableData (node: Node): OverlayData {
    const inode = node.inode
    if (inode.kind !== 'file') throw new InvalidInputError(node.isDirectory ? 'IS_A_DIRECTORY' : 'BAD_ARGUMENT', 'not a regular file')
    if (!(inode.data instanceof OverlayData)) {
      this.guard?.([node.parent])
      inode.data = new OverlayData(inode.data, this.tempDir)
      // The content is no longer what the zisofs stream holds; it will be written uncompressed.
      if (inode.compressed !== undefined) {
        inode.compressed = undefined
        this.changes.inodeChanged(inode, node.parent, 'reshaped')
      }
    }
    this.changes.inodeChanged(inode, node.parent, 'data')
    return inode.data as OverlayData
  }
}
