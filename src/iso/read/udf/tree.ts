import { forgiving, forgivingAsync } from '../../codec/diagnostics'
import type { LbAddr } from '../../codec/udf/addresses'
import { ImageExtentsSource, type DataSource } from '../../model/data-source'
import { Inode, type InodeInit } from '../../model/inode'
import { Directory, Node, NodeFlag, type UdfRecordLocation } from '../../model/node'
import { inoOf, pickByName, pushTo, type DirectoryExtents } from '../tree-matching'
import { readUdfDirectory } from './directory'
import { entryAttributes, NO_DATA, readUdfFile, readUdfFileNow, type UdfAttributes, type UdfFile } from './files'
import { prefetchBlocks, READ_AHEAD_BLOCKS, ReadAheadBuffer, readIcb, type UdfContext } from './entries'
import type { UdfVolume } from './volume'

/*
 * The UDF tree of an image, merged into the one tree of nodes as the Joliet tree is (read/tree-loader.ts):
 * a UDF directory is read when its node is first looked at through the udf namespace, after the node's
 * ISO9660 entries; its files pair with the entries there (and Joliet's, if merged first) by where their
 * data is, its directories by name, and what only UDF has (Windows install media put everything there)
 * becomes nodes of its own.
 * Attributes: Rock Ridge's where an inode has them, else the UDF file entry's.
 */

/** What the tree loader lends the UDF tree: directories that load lazily, and inodes shared by data. */
export interface UdfTreeHost {
  directory: (node: () => Node, extents: DirectoryExtents) => Directory
  sharedByData: (lba: number, size: number) => Inode | undefined
  rememberData: (lba: number, inode: Inode) => void
}

export class UdfTree {
  /** UDF hard links: identifier descriptors naming one ICB share its inode. */
  private readonly inodesByIcb = new Map<string, Inode>()
  /** Directory ICBs read (a loop or a directory named twice reads as empty the second time). */
  private readonly loaded = new Set<string>()
  /** Read-ahead buffers not in use (one per directory being merged at once: a mount serves several). */
  private readonly spareReadAhead: ReadAheadBuffer[] = []

  constructor (readonly ctx: UdfContext, readonly volume: UdfVolume, private readonly host: UdfTreeHost) {}

  /** The root of an image whose only file system is UDF. */
  async rootNode (): Promise<Node> {
    const located = await readIcb(this.ctx, this.volume.root)
    const inode = new Inode({ ...initOf(entryAttributes(this.ctx, located)), ino: inoOf(located.position) })
    inode.recordedDirectorySize = located.entry.informationLength
    const extents: DirectoryExtents = { udf: this.volume.root }
    const root: Node = new Node(undefined, { udf: '' }, inode, this.host.directory(() => root, extents))
    root.origin = { udf: { entry: { partition: located.addr.partition, block: located.addr.block, position: located.position } } }
    return root
  }

  /**
   * Reads the UDF directory at `icb`, names the nodes already in `parent` it shares with the other trees
   * (their child directories learn their UDF ICB through `childExtents`), and returns the nodes only UDF
   * has. The root's own attributes come from its entry, read here.
   */
  async merge (parent: Node, icb: LbAddr, childExtents: Map<Node, DirectoryExtents>): Promise<Node[]> {
    const key = icbKey(icb)
    const where = { structure: `UDF directory (partition ${icb.partition} block ${icb.block})` }
    if (this.loaded.has(key)) {
      this.ctx.diag.warn(where, 'directory is named more than once (a loop or a shared directory); shown empty here')
      return []
    }
    this.loaded.add(key)
    const listing = await forgivingAsync(this.ctx.diag, 'its UDF entries are not shown', async () => await readUdfDirectory(this.ctx, icb))
    if (listing === undefined) return []
    if (parent.parent === undefined && parent.names.udf === undefined) {
      const { addr, position } = listing.self
      parent.names.udf = ''
      setUdfOrigin(parent, { entry: { partition: addr.partition, block: addr.block, position } })
      applyAttributes(parent.inode, () => entryAttributes(this.ctx, listing.self))
    }
    // Files pair by where their data starts (and then its size); numbers, not strings, for keys: this
    // runs for every file of every directory a UDF walk reads.
    const filesByStart = new Map<number, Node[]>()
    const directories: Node[] = []
    for (const node of parent.dir?.peek() ?? []) {
      if (node.isDirectory) directories.push(node)
      else pushTo(filesByStart, dataStart(node.inode.compressed?.raw ?? node.inode.data), node)
    }
    const added: Node[] = []
    // The entries' blocks are read ahead in batches into a buffer of this tree's, and each file is paired
    // as soon as it is read: nothing of a batch is looked at once the next one is read.
    const buffer = this.spareReadAhead.pop() ?? new ReadAheadBuffer(this.ctx.map.blockSize)
    try {
      for (let first = 0; first < listing.entries.length; first += READ_AHEAD_BLOCKS) {
        const batch = listing.entries.slice(first, first + READ_AHEAD_BLOCKS)
        const ctx: UdfContext = { ...this.ctx, prefetched: await prefetchBlocks(this.ctx, batch.map(e => e.icb), buffer) }
        for (const record of batch) {
          // Most entries read without waiting (their blocks were read ahead); the others the long way.
          let file = forgiving(this.ctx.diag, 'entry ignored', () => readUdfFileNow(ctx, record) ?? LONG_WAY)
          if (file === LONG_WAY) file = await forgivingAsync(this.ctx.diag, 'entry ignored', async () => await readUdfFile(ctx, record))
          if (file !== undefined) this.pair(parent, file, filesByStart, directories, childExtents, added)
        }
      }
    } finally {
      this.spareReadAhead.push(buffer)
    }
    return added
  }

  /** Names the node of `parent` that `file` is, or adds a node for it to `added` when none is. */
  private pair (parent: Node, file: UdfFile, filesByStart: Map<number, Node[]>, directories: Node[], childExtents: Map<Node, DirectoryExtents>, added: Node[]): void {
    const match = pickByName(file.isDirectory ? directories : sameData(filesByStart, file), file.name, file.isDirectory, hasNoUdfName)
    if (match === undefined) {
      added.push(this.udfOnlyNode(parent, file, childExtents))
      return
    }
    match.names.udf = file.name
    setUdfOrigin(match, originOf(file))
    applyAttributes(match.inode, () => file.attributes)
    if (file.isDirectory) {
      const extents = childExtents.get(match)
      if (extents !== undefined) extents.udf = file.icb
    }
  }

  private udfOnlyNode (parent: Node, file: UdfFile, childExtents: Map<Node, DirectoryExtents>): Node {
    let node: Node
    if (file.isDirectory) {
      const inode = new Inode({ ...initOf(file.attributes), ino: inoOf(file.entryPosition) })
      inode.recordedDirectorySize = file.directorySize
      const extents: DirectoryExtents = { udf: file.icb }
      node = new Node(parent, { udf: file.name }, inode, this.host.directory(() => node, extents))
      // A Joliet merge after this one may pair a Joliet directory with it, and then learn where it is.
      childExtents.set(node, extents)
    } else {
      node = new Node(parent, { udf: file.name }, this.fileInode(file))
    }
    if (file.hidden) node.flags |= NodeFlag.HIDDEN
    node.origin = { udf: originOf(file) }
    return node
  }

  /** The inode of a file only UDF names here: shared with a hard link, or with another tree's file of the same data. */
  private fileInode (file: UdfFile): Inode {
    const key = icbKey(file.entryAddr)
    const known = this.inodesByIcb.get(key)
    if (known !== undefined) return known
    const data = file.data instanceof ImageExtentsSource ? file.data : undefined
    const first = data?.sections[0]
    const placed = data !== undefined && data.size > 0 && first !== undefined && first.hole !== true && first.offset === undefined
    const shared = placed ? this.host.sharedByData(first.lba, data.size) : undefined
    if (shared !== undefined) {
      applyAttributes(shared, () => file.attributes)
      this.inodesByIcb.set(key, shared)
      return shared
    }
    const init: InodeInit = { ...initOf(file.attributes), ino: inoOf(placed ? first.lba * 2048 : file.entryPosition) }
    if (file.data !== undefined) init.data = file.data
    if (file.symlinkTarget !== undefined) init.symlinkTarget = file.symlinkTarget
    const inode = new Inode(init)
    if (placed) this.host.rememberData(first.lba, inode)
    this.inodesByIcb.set(key, inode)
    return inode
  }
}

/** What readUdfFileNow's undefined becomes inside forgiving(), whose own undefined is an entry ignored. */
const LONG_WAY = null

function icbKey (addr: LbAddr): string {
  return `${addr.partition}:${addr.block}`
}

/**
 * The nodes whose data starts where the file's does, with its size; files without data in the image
 * (empty, symbolic links, embedded: NO_DATA) are all candidates for each other, paired by name.
 */
function sameData (filesByStart: Map<number, Node[]>, file: UdfFile): Node[] {
  const start = file.dataStart
  const nodes = filesByStart.get(start)
  if (nodes === undefined) return []
  if (start === NO_DATA) return nodes
  const size = file.size
  // The usual case, one node of that data (no array made).
  if (nodes.length === 1) return recordedSize(nodes[0]) === size ? nodes : []
  return nodes.filter(n => recordedSize(n) === size)
}

function recordedSize (node: Node): number {
  return (node.inode.compressed?.raw ?? node.inode.data).size
}

/** Where a node's data starts in the image (in bytes), or NO_DATA. */
function dataStart (data: DataSource | undefined): number {
  if (!(data instanceof ImageExtentsSource) || data.size === 0) return NO_DATA
  const first = data.sections[0]
  return first === undefined || first.hole === true ? NO_DATA : first.lba * 2048 + (first.offset ?? 0)
}

function hasNoUdfName (node: Node): boolean {
  return node.names.udf === undefined
}

function setUdfOrigin (node: Node, udf: UdfRecordLocation): void {
  if (node.origin === undefined) node.origin = { udf }
  else node.origin.udf = udf
}

function originOf (file: UdfFile): UdfRecordLocation {
  return { fid: file.fid, entry: { partition: file.entryAddr.partition, block: file.entryAddr.block, position: file.entryPosition } }
}

/** An inode's fields from a UDF entry; mode, owners and link count count as recorded only with both owners. */
function initOf (attributes: UdfAttributes): Omit<InodeInit, 'ino'> {
  return {
    mode: attributes.mode,
    uid: attributes.uid ?? 0,
    gid: attributes.gid ?? 0,
    times: attributes.times,
    posix: attributes.uid !== undefined && attributes.gid !== undefined,
    nlink: attributes.nlink,
    rdev: attributes.rdev
  }
}

/**
 * Rock Ridge wins where an inode has it (its PX entry made it posix); otherwise the UDF entry's mode,
 * owners, times and link count replace the defaults ISO9660 and Joliet records leave. The attributes are
 * asked for only then: on a Rock Ridge image a UDF walk never decodes an entry's times.
 */
function applyAttributes (inode: Inode, attributes: () => UdfAttributes): void {
  if (inode.posix) return
  const init = initOf(attributes())
  inode.mode = init.mode
  inode.uid = init.uid ?? 0
  inode.gid = init.gid ?? 0
  inode.times = init.times
  inode.posix = init.posix ?? false
  inode.nlink = init.nlink ?? 1
  inode.rdev = init.rdev ?? 0
}
