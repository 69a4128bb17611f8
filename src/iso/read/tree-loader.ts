import { InternalError, InvalidImageError } from '../../errors'
import { logger } from '../../log'
import type { Diagnostics, WarningLog } from '../codec/diagnostics'
import { FileFlags, isSelfOrParent, type DirectoryRecord } from '../codec/directory-record'
import { recordDateToMs } from '../codec/datetime'
import { decodeUcs2 } from '../codec/joliet'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import { ImageExtentsSource, UnreadableSource, ZisofsSource, type FileSection } from '../model/data-source'
import { Inode, kindOfMode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type InodeInit, type Times } from '../model/inode'
import { Directory, Node, NodeFlag, type Completers, type Names, type RecordLocation } from '../model/node'
import {
  groupFileSections, parseDirectoryRecords, readDirectoryExtent, type LocatedRecord
} from './directory-records'
import { decodeName, nonUtf8Bytes, withoutVersion } from './names'
import type { ZisofsInfo } from '../codec/rock-ridge'
import { interpretRockRidge, type RockRidgeInfo } from './rock-ridge'
import { inoOf, nodeDataKey, pickByName, pushTo, recordedData, type DirectoryExtents, type DirectoryLocation } from './tree-matching'
import type { UdfContext } from './udf/entries'
import { UdfTree } from './udf/tree'
import type { UdfVolume } from './udf/volume'
import type { SectorCache } from './sector-cache'
import { continueSystemUse, ownSystemUse } from './system-use'
import type { PayloadIndex } from './boot-model'

const log = logger('read')

export interface TreeOptions {
  /** Interpret Rock Ridge; `suspSkip` is the SP entry's skip length (SUSP 5.3). */
  rockRidge: boolean
  suspSkip: number
  /** Read the Joliet tree (from `jolietRoot`) and merge its names in. */
  joliet: boolean
  /** Read the UDF file system of this volume and merge its names in. */
  udf?: { ctx: UdfContext, volume: UdfVolume }
  /** Boot images and partitions that become the files found where they lie (model/payload.ts). */
  payloads?: PayloadIndex
}

/** What each of a directory's completers needs from its loading: its child directories' places. */
interface DirectoryState {
  childExtents?: Map<Node, DirectoryExtents>
  /** Completers yet to run; the child map is dropped once none are left. */
  pending: number
}

/** One file of a directory as read from the ISO9660 tree, before it becomes a node. */
interface IsoEntry {
  sections: LocatedRecord[]
  rr?: RockRidgeInfo
  /** For a Rock Ridge CL record: the relocated directory's "." record and its Rock Ridge info. */
  relocated?: { self: DirectoryRecord, rr?: RockRidgeInfo }
}

/** Directory names that genisoimage, xorriso and pycdlib give the Rock Ridge relocation directory. */
const RELOCATION_DIRECTORY_NAMES = /^\.?rr_moved$/i

const DEFAULT_FILE_MODE = S_IFREG | 0o444
const DEFAULT_DIRECTORY_MODE = S_IFDIR | 0o555

/**
 * Builds the namespace-neutral tree from the image, one directory at a time as it is first looked at.
 * The ISO9660 tree (with Rock Ridge) gives the structure; the Joliet tree is walked alongside and its
 * entries matched to the ISO9660 ones, so that one file seen through both namespaces is one node.
 *
 * Guards against damaged images: each directory extent is loaded at most once (a second reference, a loop
 * or a CL pointing back up, reads as empty with a warning), so loading always ends and never does more
 * work than the image has directories.
 */
export class TreeLoader {
  private readonly udf?: UdfTree
  private readonly loadedIso = new Set<number>()
  private readonly loadedJoliet = new Set<number>()
  /** Files with data, by first LBA (and then size): hard links and the two namespaces' records share an inode. */
  private readonly inodesByStart = new Map<number, Inode>()
  /** Rock Ridge 1.12 PX serial numbers of hard-linked files without data. */
  private readonly inodesBySerial = new Map<number, Inode>()

  constructor (
    private readonly source: ByteSource,
    private readonly sectors: SectorCache,
    private readonly diag: WarningLog,
    private readonly options: TreeOptions
  ) {
    if (options.udf !== undefined) {
      this.udf = new UdfTree(options.udf.ctx, options.udf.volume, {
        directory: (node, extents) => this.directory(node, extents),
        sharedByData: (lba, size) => this.sharedByData(lba, size),
        rememberData: (lba, inode) => {
          if (this.inodesByStart.has(lba)) return
          this.inodesByStart.set(lba, inode)
          // A boot image or the catalog only UDF names (Windows media) is that file, as one ISO9660 names is.
          this.options.payloads?.fileAt(lba, inode)
        }
      })
    }
  }

  /** The root node of an image without an ISO9660 volume: the UDF file set's root directory. */
  async udfRoot (): Promise<Node> {
    if (this.udf === undefined) throw new InternalError('udfRoot() without a UDF volume')
    return await this.udf.rootNode()
  }

  /** The root node, from the root records of the primary (and Joliet) descriptor. */
  async root (isoRoot: DirectoryRecord, rootSelf: DirectoryRecord | undefined, jolietRoot?: DirectoryRecord): Promise<Node> {
    const rr = rootSelf !== undefined && this.options.rockRidge
      ? await this.rockRidgeOf(rootSelf, 0, { structure: 'root "." record', lba: isoRoot.extent })
      : undefined
    const extents: DirectoryExtents = { iso: directoryLocation(isoRoot) }
    if (jolietRoot !== undefined && this.options.joliet) {
      extents.joliet = directoryLocation(jolietRoot)
    }
    if (this.udf !== undefined) extents.udf = this.udf.volume.root
    const inode = new Inode({ ...this.attributes(rootSelf ?? isoRoot, rr, true), ino: inoOf(isoRoot.extent * SECTOR_SIZE) })
    inode.recordedDirectorySize = (rootSelf ?? isoRoot).dataLength
    const root: Node = new Node(undefined, { iso: '', joliet: extents.joliet !== undefined ? '' : undefined }, inode, this.directory(() => root, extents))
    return root
  }

  /**
   * The lazily loaded directory at `extents`: ISO9660 entries first, Joliet and UDF merged in when a
   * view of their namespace needs them.
   */
  private directory (node: () => Node, extents: DirectoryExtents): Directory {
    const state: DirectoryState = { pending: 0 }
    const completers: Completers = {}
    const done = (): void => { if (--state.pending === 0) state.childExtents = undefined }
    if (this.options.joliet) {
      state.pending++
      completers.joliet = async () => { await this.mergeJolietDirectory(node(), extents, state); done() }
    }
    if (this.udf !== undefined) {
      state.pending++
      completers.udf = async () => { await this.mergeUdfDirectory(node(), extents, state); done() }
    }
    const dir = new Directory(async () => await this.loadDirectory(node(), extents, state), state.pending > 0 ? completers : undefined)
    // The same object the parent's Joliet merge completes: a commit learns both trees' places from it.
    dir.extents = extents
    return dir
  }

  private async loadDirectory (parent: Node, extents: DirectoryExtents, state: DirectoryState): Promise<Node[]> {
    const nodes: Node[] = []
    // What is irregular in this directory is kept with it (a commit that would rewrite it refuses).
    const diag = this.diag.scope(parent.dir as Directory)
    const { entries, relocatedAway } = extents.iso !== undefined
      ? await this.readIsoDirectory(extents.iso, diag)
      : { entries: [], relocatedAway: 0 }
    const childExtents = new Map<Node, DirectoryExtents>()
    for (const entry of entries) nodes.push(this.isoNode(parent, entry, childExtents, diag))
    state.childExtents = childExtents
    // RRIP 4.1.5: a directory whose every entry moved to its CL place is the relocation directory.
    if (relocatedAway > 0 && nodes.length === 0) parent.flags |= NodeFlag.RELOCATION_DIRECTORY
    if (parent.parent === undefined) await this.loadRelocationDirectory(nodes)
    log('loaded directory %o: %d entries', extents, nodes.length)
    return nodes
  }

  /**
   * Second stage of loading a directory: its Joliet twin, matched to the ISO9660 entries. A directory's
   * Joliet extent is learned when its parent's Joliet directory is matched, hence the parent first.
   */
  private async mergeJolietDirectory (parent: Node, extents: DirectoryExtents, state: DirectoryState): Promise<void> {
    await parent.parent?.dir?.complete('joliet')
    if (extents.joliet === undefined) return
    const jolietEntries = await this.readJolietDirectory(extents.joliet, this.diag.scope(parent.dir as Directory))
    const isoNodes = [...(parent.dir?.peek() ?? [])]
    const added = this.mergeJoliet(parent, isoNodes, jolietEntries, state.childExtents ?? new Map())
    for (const node of added) parent.dir?.add(node)
  }

  /**
   * Another stage: the directory's UDF twin. Its UDF ICB is learned when the parent's UDF directory is
   * matched. Joliet and UDF each pair their entries with the nodes already there, whichever came first
   * (an entry only those two trees have is one node), so a UDF walk never reads Joliet directories.
   */
  private async mergeUdfDirectory (parent: Node, extents: DirectoryExtents, state: DirectoryState): Promise<void> {
    await parent.parent?.dir?.complete('udf')
    if (extents.udf === undefined || this.udf === undefined) return
    const added = await this.udf.merge(parent, extents.udf, state.childExtents ?? new Map())
    for (const node of added) parent.dir?.add(node)
  }

  private async readIsoDirectory (location: DirectoryLocation, diag: Diagnostics): Promise<{ entries: IsoEntry[], relocatedAway: number }> {
    const records = await this.readRecords(location, this.loadedIso, 'directory', diag)
    const entries: IsoEntry[] = []
    let relocatedAway = 0
    for (const sections of groupFileSections(records, diag)) {
      const first = sections[0]
      if (isSelfOrParent(first.record)) continue
      const entry: IsoEntry = { sections }
      if (this.options.rockRidge) {
        const where = { structure: 'directory record', lba: first.lba, offset: first.offset }
        const rr = this.rockRidgeOf(first.record, this.options.suspSkip, where, diag)
        entry.rr = rr instanceof Promise ? await rr : rr
        // RRIP 4.1.5.3: a relocated directory shows at its CL record's place, not in the relocation directory.
        if (entry.rr.relocated) {
          relocatedAway++
          continue
        }
        if (entry.rr.childLink !== undefined) {
          const self = await this.relocatedSelf(entry.rr.childLink, diag)
          if (self === undefined) continue
          entry.relocated = self
        }
      }
      entries.push(entry)
    }
    return { entries, relocatedAway }
  }

  /** The "." record of a directory relocated to `extent`, which carries its size and attributes. */
  private async relocatedSelf (extent: number, diag: Diagnostics): Promise<IsoEntry['relocated']> {
    const where = { structure: 'relocated directory', lba: extent }
    if ((extent + 1) * SECTOR_SIZE > this.sectors.size) {
      diag.warn({ ...where, field: 'CL location' }, 'CL points beyond the end of the image; entry ignored')
      return undefined
    }
    const sector = await this.sectors.readRange(extent, 0, SECTOR_SIZE, where)
    const [self] = parseDirectoryRecords(sector, extent, diag, where)
    if (self === undefined || !isSelfOrParent(self.record) || (self.record.flags & FileFlags.DIRECTORY) === 0) {
      diag.warn({ ...where, field: 'CL location' }, 'CL does not point at a directory; entry ignored')
      return undefined
    }
    const rr = await this.rockRidgeOf(self.record, this.options.suspSkip, where, diag)
    return { self: self.record, rr }
  }

  private isoNode (parent: Node, entry: IsoEntry, childExtents: Map<Node, DirectoryExtents>, diag: Diagnostics): Node {
    const first = entry.sections[0]
    const record = entry.relocated?.self ?? first.record
    const rr = entry.relocated?.rr ?? entry.rr
    const isDirectory = entry.relocated !== undefined || (first.record.flags & FileFlags.DIRECTORY) !== 0
    const names: Names = { iso: decodeName(first.record.identifier) }
    if (entry.rr?.name !== undefined) names.rr = entry.rr.name
    const location: RecordLocation = { lba: first.lba, offset: first.offset, length: first.length }
    let node: Node
    if (isDirectory) {
      const extents: DirectoryExtents = { iso: directoryLocation(record) }
      const inode = new Inode({ ...this.attributes(record, rr, true), ino: inoOf(record.extent * SECTOR_SIZE) })
      inode.recordedDirectorySize = record.dataLength
      node = new Node(parent, names, inode, this.directory(() => node, extents))
      childExtents.set(node, extents)
    } else {
      node = new Node(parent, names, this.fileInode(entry.sections, rr, location, diag), undefined)
    }
    node.flags = first.record.flags & (FileFlags.HIDDEN | FileFlags.ASSOCIATED)
    node.origin = { iso: location }
    if (entry.rr?.nameBytes !== undefined) node.rrNameBytes = nonUtf8Bytes(entry.rr.nameBytes)
    if (rr !== undefined && rr.foreign.length > 0) node.foreignSystemUse = rr.foreign
    return node
  }

  private fileInode (sections: LocatedRecord[], rr: RockRidgeInfo | undefined, location: RecordLocation, diag: Diagnostics = this.diag): Inode {
    const first = sections[0].record
    const lba = first.extent + first.extendedAttributeLength
    let size = 0
    for (const { record } of sections) size += record.dataLength
    const attributes = this.attributes(first, rr, false)
    const shared = size > 0 ? this.sharedByData(lba, size) : this.sharedBySerial(rr)
    if (shared !== undefined) {
      // Met first through Joliet (no Rock Ridge there): the ISO9660 record's attributes are the real ones.
      if (!shared.posix && attributes.posix) Object.assign(shared, attributes)
      return shared
    }
    const fileSections: FileSection[] = sections.length === 1
      ? [{ lba, length: size, unitSize: first.fileUnitSize, gapSize: first.interleaveGap }]
      : sections.map(({ record }) => ({
        lba: record.extent + record.extendedAttributeLength,
        length: record.dataLength,
        unitSize: record.fileUnitSize,
        gapSize: record.interleaveGap
      }))
    const extents = new ImageExtentsSource(this.source, fileSections)
    const init = attributes as InodeInit
    init.data = extents
    init.symlinkTarget = rr?.symlink
    init.rdev = rr?.device
    init.ino = inoOf(size > 0 ? lba * SECTOR_SIZE : location.lba * SECTOR_SIZE + location.offset)
    let compressed: Inode['compressed']
    if (rr?.zisofs !== undefined) {
      if (isZlibZisofs(rr.zisofs)) {
        init.data = new ZisofsSource(extents, rr.zisofs.uncompressedSize, extents.lba)
        compressed = { raw: extents, zisofs: rr.zisofs }
      } else {
        // The recorded bytes are not the content: the file reads as an I/O error, never as them.
        const where = { structure: 'directory record', lba: location.lba, offset: location.offset, field: 'ZF algorithm' }
        const detail = `zisofs algorithm "${rr.zisofs.algorithm}" is not supported`
        diag.warn(where, `${detail}; the file cannot be read`)
        init.data = new UnreadableSource(rr.zisofs.uncompressedSize, () => new InvalidImageError('IMAGE_BAD_ZISOFS', detail, where))
      }
    }
    if (rr?.sparse !== undefined) {
      // RRIP 1.12 sparse files are read by nobody: Linux isofs ignores SF and shows the recorded bytes
      // with the record's size, and so does this; the warning keeps such an image from being written back
      // (the SF entry would be lost) and says why the content may look wrong.
      diag.warn({ structure: 'directory record', lba: location.lba, offset: location.offset, field: 'SF' },
        `sparse file (virtual size ${rr.sparse.virtualSize}) is not supported; its recorded ${size} bytes are shown, as Linux shows them`)
    }
    const inode = new Inode(init)
    if (rr?.symlinkBytes !== undefined) inode.symlinkTargetBytes = nonUtf8Bytes(rr.symlinkBytes)
    inode.compressed = compressed
    if (inode.symlinkTarget !== undefined && kindOfMode(inode.mode) !== 'symlink') inode.mode = (inode.mode & ~S_IFMT) | S_IFLNK
    if (size > 0) {
      this.inodesByStart.set(lba, inode)
      this.options.payloads?.fileAt(lba, inode)
    }
    else if (rr?.posix?.serial !== undefined && rr.posix.links > 1) this.inodesBySerial.set(rr.posix.serial, inode)
    return inode
  }

  /** The inode already read whose data starts at `lba` with this size: a hard link, or the Joliet twin. */
  private sharedByData (lba: number, size: number): Inode | undefined {
    const inode = this.inodesByStart.get(lba)
    if (inode === undefined) return undefined
    return recordedData(inode).size === size ? inode : undefined
  }

  private sharedBySerial (rr: RockRidgeInfo | undefined): Inode | undefined {
    const px = rr?.posix
    if (px?.serial === undefined || px.links < 2) return undefined
    return this.inodesBySerial.get(px.serial)
  }

  /** Mode, owners and times: Rock Ridge where recorded, else defaults and the record's date. */
  private attributes (record: DirectoryRecord, rr: RockRidgeInfo | undefined, isDirectory: boolean): Omit<InodeInit, 'ino'> & { ino?: number } {
    const recorded = recordDateToMs(record.recorded) ?? 0
    const times: Times = {
      mtimeMs: rr?.times?.mtimeMs ?? recorded,
      atimeMs: rr?.times?.atimeMs ?? rr?.times?.mtimeMs ?? recorded,
      ctimeMs: rr?.times?.ctimeMs ?? rr?.times?.mtimeMs ?? recorded
    }
    if (rr?.times?.birthtimeMs !== undefined) times.birthtimeMs = rr.times.birthtimeMs
    const px = rr?.posix
    if (px === undefined) {
      return { mode: isDirectory ? DEFAULT_DIRECTORY_MODE : DEFAULT_FILE_MODE, uid: 0, gid: 0, times, posix: false, nlink: isDirectory ? 2 : 1 }
    }
    // The directory flag wins over a PX type that disagrees with it (the record is what readers traverse).
    let mode = px.mode
    if (isDirectory && kindOfMode(mode) !== 'directory') mode = (mode & ~S_IFMT) | S_IFDIR
    if (!isDirectory && (kindOfMode(mode) === undefined || kindOfMode(mode) === 'directory')) mode = (mode & ~S_IFMT) | S_IFREG
    return { mode, uid: px.uid, gid: px.gid, times, posix: true, nlink: Math.max(1, px.links) }
  }

  /** Synchronous unless the record continues its entries elsewhere (a CE): most records of a directory don't. */
  private rockRidgeOf (
    record: DirectoryRecord, skip: number, where: { structure: string, lba?: number, offset?: number }, diag: Diagnostics = this.diag
  ): RockRidgeInfo | Promise<RockRidgeInfo> {
    const own = ownSystemUse(record.systemUse, skip, diag, where)
    if (own.next === undefined) return interpretRockRidge(own.entries, diag, where)
    return continueSystemUse(own, this.sectors, diag, where).then(entries => interpretRockRidge(entries, diag, where))
  }

  private async readRecords (location: DirectoryLocation, loaded: Set<number>, kind: string, diag: Diagnostics): Promise<LocatedRecord[]> {
    const where = { structure: kind, lba: location.extent }
    if (loaded.has(location.extent)) {
      diag.warn(where, 'directory is referenced more than once (a loop or a shared extent); shown empty here')
      return []
    }
    loaded.add(location.extent)
    try {
      const buf = await readDirectoryExtent(this.source, location.extent, location.size, diag, where)
      return parseDirectoryRecords(buf, location.extent, diag, where)
    } catch (err) {
      loaded.delete(location.extent)
      throw err
    }
  }

  private async readJolietDirectory (location: DirectoryLocation, diag: Diagnostics): Promise<LocatedRecord[][]> {
    const records = await this.readRecords(location, this.loadedJoliet, 'Joliet directory', diag)
    return groupFileSections(records, diag).filter(sections => !isSelfOrParent(sections[0].record))
  }

  /**
   * Gives the ISO9660 nodes of a directory their Joliet names and returns nodes for the Joliet entries that
   * have no ISO9660 counterpart. Files pair by data (first LBA and size, as every writer shares the data
   * between the trees), preferring equal names among equal data (empty files all share one LBA in
   * genisoimage images); directories pair by name, exactly, then case-insensitively, then as the
   * 64-character prefix a short Joliet name keeps of a long one.
   */
  private mergeJoliet (
    parent: Node, isoNodes: Node[], jolietEntries: LocatedRecord[][],
    childExtents: Map<Node, DirectoryExtents>
  ): Node[] {
    const filesByData = new Map<string, Node[]>()
    const directories: Node[] = []
    for (const node of isoNodes) {
      if (node.isDirectory) directories.push(node)
      else pushTo(filesByData, nodeDataKey(node), node)
    }
    const jolietOnly: Node[] = []
    for (const sections of jolietEntries) {
      const first = sections[0]
      const jolietName = decodeUcs2(first.record.identifier)
      const name = withoutVersion(jolietName)
      const isDirectory = (first.record.flags & FileFlags.DIRECTORY) !== 0
      const location = { lba: first.lba, offset: first.offset, length: first.length }
      const candidates = isDirectory
        ? directories
        : filesByData.get(sectionsKey(sections)) ?? []
      const match = pickByName(candidates, name, isDirectory, c => c.names.joliet === undefined)
      if (match !== undefined) {
        match.names.joliet = jolietName
        match.origin = { ...match.origin, joliet: location }
        const extents = childExtents.get(match)
        if (extents !== undefined) extents.joliet = directoryLocation(first.record)
        continue
      }
      jolietOnly.push(this.jolietOnlyNode(parent, sections, jolietName, isDirectory, location, childExtents))
    }
    return jolietOnly
  }

  private jolietOnlyNode (
    parent: Node, sections: LocatedRecord[], jolietName: string, isDirectory: boolean, location: RecordLocation,
    childExtents: Map<Node, DirectoryExtents>
  ): Node {
    const record = sections[0].record
    let node: Node
    if (isDirectory) {
      const extents: DirectoryExtents = { joliet: directoryLocation(record) }
      const inode = new Inode({ ...this.attributes(record, undefined, true), ino: inoOf(record.extent * SECTOR_SIZE) })
      inode.recordedDirectorySize = record.dataLength
      node = new Node(parent, { joliet: jolietName }, inode, this.directory(() => node, extents))
      childExtents.set(node, extents)
    } else {
      node = new Node(parent, { joliet: jolietName }, this.fileInode(sections, undefined, location))
    }
    node.flags = record.flags & (FileFlags.HIDDEN | FileFlags.ASSOCIATED)
    node.origin = { joliet: location }
    return node
  }

  /**
   * Loads the root's Rock Ridge relocation directory, if it has one, so that views can hide it from the
   * start (loadDirectory marks it). Costs one directory read at the root, only where one exists.
   */
  private async loadRelocationDirectory (rootEntries: Node[]): Promise<void> {
    if (!this.options.rockRidge) return
    for (const node of rootEntries) {
      const name = node.names.rr ?? withoutVersion(node.names.iso ?? '')
      if (node.dir !== undefined && RELOCATION_DIRECTORY_NAMES.test(name)) await node.dir.list()
    }
  }
}

/**
 * Where a directory's records are: after its extended attribute record, if it has one (ECMA-119 9.1.2,
 * 6.5.4: the record comes first in the extent and the data length does not count it), as for files, and
 * as Linux isofs reads both (i_first_extent = extent + ext_attr_length).
 */
function directoryLocation (record: DirectoryRecord): DirectoryLocation {
  return { extent: record.extent + record.extendedAttributeLength, size: record.dataLength }
}

/** zlib-compressed zisofs: "pz" in zisofs entries (version 1), "PZ" in zisofs2 ones (ZF version 2, Z2). */
function isZlibZisofs (zf: ZisofsInfo): boolean {
  return zf.version === 2 ? zf.algorithm === 'PZ' : zf.algorithm === 'pz'
}

function sectionsKey (sections: LocatedRecord[]): string {
  const { record } = sections[0]
  const size = sections.reduce((sum, s) => sum + s.record.dataLength, 0)
  return size === 0 ? 'empty' : `${record.extent + record.extendedAttributeLength}:${size}`
}
