import { forgivingAsync } from '../../codec/diagnostics'
import type { LbAddr } from '../../codec/udf/addresses'
import { ImageExtentsSource, type DataSource } from '../../model/data-source'
import { Inode, type InodeInit } from '../../model/inode'
import { Directory, Node, NodeFlag, type UdfRecordLocation } from '../../model/node'
import { inoOf, pickByName, pushTo, type DirectoryExtents } from '../tree-matching'
import { readUdfDirectory } from './directory'
import { entryAttributes, readUdfFile, type UdfAttributes, type UdfFile } from './files'
import { prefetchBlocks, readIcb, type UdfContext } from './entries'
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
      applyAttributes(parent.inode, entryAttributes(this.ctx, listing.self))
    }
    const ctx: UdfContext = { ...this.ctx, prefetched: await prefetchBlocks(this.ctx, listing.entries.map(e => e.icb)) }
    const files: UdfFile[] = []
    for (const record of listing.entries) {
      const file = await forgivingAsync(this.ctx.diag, 'entry ignored', async () => await readUdfFile(ctx, record))
      if (file !== undefined) files.push(file)
    }
    // Files pair by where their data starts (and then its size); numbers, not strings, for keys: this
    // runs for every file of every directory a UDF walk reads.
    const filesByStart = new Map<number, Node[]>()
    const directories: Node[] = []
    for (const node of parent.dir?.peek() ?? []) {
      if (node.isDirectory) directories.push(node)
      else pushTo(filesByStart, dataStart(node.inode.compressed?.raw ?? node.inode.data), node)
    }
    const free = (node: Node): boolean => node.names.udf === undefined
    const added: Node[] = []
    for (const file of files) {
      let candidates = directories
      if (!file.isDirectory) {
        const start = dataStart(file.data)
        const size = file.data?.size ?? 0
        candidates = (filesByStart.get(start) ?? []).filter(n => start === NO_DATA || (n.inode.compressed?.raw ?? n.inode.data).size === size)
      }
      const match = pickByName(candidates, file.name, file.isDirectory, free)
      if (match === undefined) {
        added.push(this.udfOnlyNode(parent, file, childExtents))
        continue
      }
      match.names.udf = file.name
      setUdfOrigin(match, originOf(file))
      applyAttributes(match.inode, file.attributes)
      if (file.isDirectory) {
        const extents = childExtents.get(match)
        if (extents !== undefined) extents.udf = file.icb
      }
    }
    return added
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
      applyAttributes(shared, file.attributes)
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

function icbKey (addr: LbAddr): string {
  return `${addr.partition}:${addr.block}`
}

/** Files without data in the image (empty, symbolic links, embedded): all candidates for each other, paired by name. */
const NO_DATA = -1

/** Where a file's data starts in the image (in bytes), or NO_DATA. */
function dataStart (data: DataSource | undefined): number {
  if (!(data instanceof ImageExtentsSource) || data.size === 0) return NO_DATA
  const first = data.sections[0]
  return first === undefined || first.hole === true ? NO_DATA : first.lba * 2048 + (first.offset ?? 0)
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
 * owners, times and link count replace the defaults ISO9660 and Joliet records leave.
 */
function applyAttributes (inode: Inode, attributes: UdfAttributes): void {
  if (inode.posix) return
  const init = initOf(attributes)
  inode.mode = init.mode
  inode.uid = init.uid ?? 0
  inode.gid = init.gid ?? 0
  inode.times = init.times
  inode.posix = init.posix ?? false
  inode.nlink = init.nlink ?? 1
  inode.rdev = init.rdev ?? 0
}
