import { InternalError, InvalidImageError } from '../../errors'
import { WarningLog } from '../codec/diagnostics'
import { parsePathTable, type PathTableRecord } from '../codec/path-table'
import { parseCE, parseSuspEntries } from '../codec/susp'
import { xaSkip } from '../codec/xa'
import { SECTOR_SIZE, type VolumeDescriptor } from '../codec/volume-descriptor'
import { readExactly } from '../io/byte-source'
import { allBootImages } from '../model/boot'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import { depthOf, NodeFlag, type Node } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import { Region } from '../model/payload'
import type { FileSectionPlan, PathTablePlan, Placed, WriteContent } from '../write/layout'
import { loadAll } from '../write/master'
import { inTree, planPartialLayout, type OldContinuation, type PartialLayout, type TreeName } from '../write/partial-layout'
import { parseDirectoryRecords } from '../read/directory-records'
import type { ImageSettings } from '../write/settings'
import { payloadsOf } from '../write/system-area-writer'
import { MAX_DEPTH, pathOf, type DirectoryPlan } from '../write/tree-plan'
import type { CommitContext } from './context'
import type { Patch } from './journal'
import { oldPathTable, updatedPathTable, type OldPathTable } from './path-table-update'
import { RecordPatcher, type RecordFacts } from './record-patcher'
import { requireDirectoryUnderstood } from './understood'

/*
 * A commit whose cost follows the change. Only what changed is written:
 * - a file's new content where its extent holds it (through the journal), else after the image's end;
 * - a directory whose entries changed, whole: into its own extent when it still fits there (through the
 *   journal), else after the image's end; the records that point at it are patched where they are (its
 *   record in its parent, the ".." record of each subdirectory), so its subtree is not written again;
 * - the records of changed files and directories, field by field (record-patcher.ts);
 * - the path tables: the image's own, with the written directories' places, renumbered;
 * - last, the descriptors (and system area), through the journal with every other byte written in place:
 *   the commit point. Until then the image reads as before; after it, as after.
 * A record that cannot take its new fields in place (no PX to hold a mode, a multi-extent file that
 * moved) gets its directory written instead. What this cannot do at all is said as a reason, and the
 * caller writes a complete new tree after the image instead (append.ts).
 */

/** More changed file data than this is appended instead: the journal would hold it all twice. */
const MAX_IN_PLACE_DATA = 64 * 1024 * 1024

export interface DeltaInput {
  context: CommitContext
  root: Node
  settings: ImageSettings
  content: WriteContent
  changes: ChangeSet
}

export interface DeltaPlan {
  layout: PartialLayout
  /** Patched records and file data written in place; the rest of the commit point is built when applied. */
  patches: Patch[]
  /** Whether the descriptors are written (always when something is appended; in place when what they point at changed). */
  descriptors: boolean
  /** Whether the boot catalog is written (where it is). */
  catalog: boolean
  /** The path tables as they are on disk, per tree: a table whose bytes do not change is not written. */
  oldPathTables: Partial<Record<TreeName, Buffer>>
  /** Sectors this commit leaves unused: what moved away (directories, data, path tables). */
  freedSectors: number
}

export type DeltaOutcome = DeltaPlan | { reason: string }

export async function planDelta (input: DeltaInput): Promise<DeltaOutcome> {
  const { context, root, settings, content, changes } = input
  if ((settings.partitionOffset ?? 0) > 0) {
    return { reason: 'the image has a second directory tree for its partition (xorriso -partition_offset), which is written whole' }
  }
  await root.dir?.complete()
  const trees = treesOf(settings)

  const dirty = new Set<Node>()
  const addDirty = async (dir: Node | undefined): Promise<void> => {
    if (dir === undefined || dirty.has(dir) || !attached(dir, root)) return
    await dir.dir?.complete()
    dirty.add(dir)
  }
  for (const dir of changes.directories) await addDirty(dir)
  const addSubtree = async (top: Node): Promise<void> => {
    const queue = [top]
    for (let i = 0; i < queue.length; i++) {
      await addDirty(queue[i])
      for (const child of queue[i].dir?.peek() ?? []) if (child.dir !== undefined && !dirty.has(child)) queue.push(child)
    }
  }

  const changed = new Set<Inode>([...changes.data, ...changes.attributes, ...changes.reshaped])
  const names = await namesOf(changed, changes, root, settings)
  for (const inode of changes.reshaped) for (const node of names.get(inode) ?? []) await addDirty(node.parent)

  // El Torito or the system area's tables added, removed or replaced: written with a whole tree.
  if (changes.boot) return { reason: 'the boot configuration changed' }
  const boot = content.boot
  if (boot !== undefined && context.catalog === undefined) return { reason: 'the image has no boot catalog to rewrite' }
  const pointedAt = new Set<unknown>([...payloadsOf(content).map(p => p.holder), boot?.catalog])

  // File data: in place where it fits, else after the image.
  const inPlace = new Map<Inode, FileSectionPlan[]>()
  const dataPatches: Patch[] = []
  let dataBytes = 0
  for (const inode of changes.data) {
    // Without a name it is not written; boot entries and partitions follow theirs to a new place.
    if (!names.has(inode) || pointedAt.has(inode)) continue
    const fits = await inPlaceData(inode, context, MAX_IN_PLACE_DATA - dataBytes)
    if (fits === undefined) continue
    inPlace.set(inode, fits.sections)
    dataPatches.push(...fits.patches)
    dataBytes += fits.bytes
  }

  const tables = new Map<TreeName, { old: OldPathTable, plan: PathTablePlan, bytes: Buffer }>()
  const continuations = new Map<Node, Map<string, OldContinuation>>()
  const forceMove = new Set<Node>()
  for (let round = 0; ; round++) {
    await closeOver(dirty, root, trees)
    const why = whyNotPartial(dirty, changes, root, settings)
    if (why !== undefined) return { reason: why }
    for (const tree of dirty.size > 0 ? trees : []) {
      if (tables.has(tree)) continue
      const descriptor = tree === 'iso' ? context.descriptors.primary : context.descriptors.joliet?.descriptor
      if (descriptor === undefined) return { reason: 'the image has a Joliet tree but no Joliet descriptor' }
      const read = await readPathTable(context, descriptor)
      if (typeof read === 'string') return { reason: read }
      const old = oldPathTable(read.records, descriptor.root.extent)
      if (typeof old === 'string') return { reason: old }
      tables.set(tree, { old, plan: read.plan, bytes: read.bytes })
    }
    for (const dir of dirty) if (!continuations.has(dir)) continuations.set(dir, await oldContinuations(dir, context, settings))
    let layout: PartialLayout
    try {
      layout = planPartialLayout(root, settings, content, {
        oldContinuation: (dir, record) => continuations.get(dir)?.get(record),
        forceMove,
        dirty,
        startLba: Math.ceil(context.source.size / SECTOR_SIZE),
        oldTotalSectors: Math.ceil(context.source.size / SECTOR_SIZE),
        oldVolumeSectors: context.descriptors.primary.volumeSpaceSize,
        keep: holder => keptPlace(holder, context, changes, inPlace),
        alsoPlaced: [...names.keys()].filter(inode => changes.data.has(inode)),
        catalog: context.catalog,
        pathTable: (tree, written, rootPlan) => pathTableFor(tree, written, rootPlan, context, tables)
      })
    } catch (err) {
      if (err instanceof InvalidImageError && err.code === 'IMAGE_BAD_PATH_TABLE') return { reason: String(err.data.detail) }
      throw err
    }
    if (layout.mustWrite.size > 0 || layout.needsMovedLeaf) {
      // Below a directory that moved after the image, all of it moves (partial-layout.ts): read it to write it.
      for (const dir of layout.mustWrite) await (dir === root ? addDirty(dir) : addSubtree(dir))
      if (layout.needsMovedLeaf && layout.mustWrite.size === 0) {
        const leaf = await someLeaf(root)
        await addDirty(leaf)
        forceMove.add(leaf)
      }
      continue
    }
    const stranded = await strandedContinuations(layout, context, continuations)
    if (stranded !== undefined) return { reason: stranded }
    const patcher = new RecordPatcher(context.source)
    const touched = new Set<Node>()
    const rewrite = new Set<Node>()
    await patchDirectoryRecords(layout, changes, names, root, settings, patcher, touched, rewrite)
    await patchFileRecords(layout, names, dirty, settings, patcher, touched, rewrite)
    const more = [...rewrite].filter(dir => !dirty.has(dir))
    if (more.length === 0) {
      for (const dir of [...dirty, ...touched]) requireDirectoryUnderstood(dir)
      return finish(layout, patcher, dataPatches, changes, content, context, tables, root)
    }
    for (const dir of more) await addDirty(dir)
    if (round > 10_000) throw new InternalError('the commit plan does not settle')
  }
}

/** What the plan still needs once every record fits: whether the descriptors and catalog change, what moved away. */
function finish (
  layout: PartialLayout, patcher: RecordPatcher, dataPatches: Patch[], changes: ChangeSet, content: WriteContent, context: CommitContext,
  tables: ReadonlyMap<TreeName, { plan: PathTablePlan, bytes: Buffer }>, root: Node
): DeltaPlan | { reason: string } {
  let freed = 0
  for (const tree of ['iso', 'joliet'] as const) {
    for (const [node, plan] of layout.dirty[tree]) {
      const old = node.dir?.extents?.[tree]
      if (old !== undefined && old.extent !== plan.extent) freed += Math.ceil(old.size / SECTOR_SIZE)
    }
  }
  const oldPathTables: Partial<Record<TreeName, Buffer>> = {}
  let tablesChanged = false
  for (const [tree, table] of tables) {
    const now = layout[tree]?.pathTable
    if (layout.pathTableRecords[tree] === undefined || now === undefined) continue
    oldPathTables[tree] = table.bytes
    if (now.lLba !== table.plan.lLba) freed += 2 * table.plan.sectors
    if (now.lLba !== table.plan.lLba || now.size !== table.plan.size) tablesChanged = true
  }
  for (const inode of changes.data) {
    const base = inode.data instanceof OverlayData ? inode.data.base : undefined
    if (base instanceof ImageExtentsSource && base.image === context.source && layout.placed.has(inode) && !layout.fixed.has(inode)) {
      freed += Math.ceil(base.size / SECTOR_SIZE)
    }
  }
  const boot = content.boot
  let catalog = false
  if (boot !== undefined) {
    catalog = allBootImages(boot).some(image => !layout.fixed.has(image.payload.holder))
    if (catalog && (layout.bootCatalog?.size ?? 0) > (context.catalog?.size ?? 0)) return { reason: 'the boot catalog grew past its sectors' }
  }
  const descriptors = layout.appends || tablesChanged || layout.dirty.iso.has(root) || layout.dirty.joliet.has(root) || changes.attributes.has(root.inode)
  return { layout, patches: [...patcher.patches(), ...dataPatches], descriptors, catalog, oldPathTables, freedSectors: freed }
}

/**
 * Why this commit cannot write only some directories, if so: Rock Ridge relocation (RRIP 4.1.5) and the
 * depth limit of ECMA-119 6.8.2.1 are planned over the whole tree, so a directory written at the eighth
 * level, a directory moved to another depth, or the root while it holds the relocation directory, are
 * left to a whole-tree write.
 */
function whyNotPartial (dirty: ReadonlySet<Node>, changes: ChangeSet, root: Node, settings: ImageSettings): string | undefined {
  if (settings.interchangeLevel === 4) return undefined // ISO 9660:1999: no depth limit, nothing relocated
  for (const dir of dirty) {
    const depth = depthOf(dir)
    if (depth >= MAX_DEPTH) return `${pathOf(dir)} is at level ${depth}, where Rock Ridge relocation and the depth limit (ECMA-119 6.8.2.1) are planned over the whole tree`
  }
  for (const [dir, depth] of changes.moved) {
    if (attached(dir, root) && depthOf(dir) !== depth) return `${pathOf(dir)} moved to another level, which may change what Rock Ridge relocates (RRIP 4.1.5)`
  }
  if (dirty.has(root) && (root.dir?.peek() ?? []).some(n => (n.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0)) {
    return 'the root holds the Rock Ridge relocation directory (RRIP 4.1.5), which is planned with the whole tree'
  }
  return undefined
}

/** Every directory to write, and every directory without a place yet in a tree it is in (new ones, or ones given a Joliet name), loaded. */
async function closeOver (dirty: Set<Node>, root: Node, trees: readonly TreeName[]): Promise<void> {
  const queue = [...dirty]
  for (let i = 0; i < queue.length; i++) {
    for (const child of queue[i].dir?.peek() ?? []) {
      if (child.dir === undefined || dirty.has(child)) continue
      if (trees.some(tree => inTree(tree, child, root) && child.dir?.extents?.[tree] === undefined)) {
        await child.dir.complete()
        dirty.add(child)
        queue.push(child)
      }
    }
  }
}

/** A directory with no subdirectory, found down the first subdirectories from the root (read on the way). */
async function someLeaf (root: Node): Promise<Node> {
  let node = root
  for (;;) {
    await node.dir?.complete()
    const sub = (node.dir?.peek() ?? []).find(child => child.dir !== undefined && child.names.iso !== undefined && (child.flags & NodeFlag.RELOCATION_DIRECTORY) === 0)
    if (sub === undefined) return node
    node = sub
  }
}

/**
 * The continuation areas (SUSP 5.1) the image has for the records of a directory about to be written, by
 * record ("self", "parent", or the identifier): an area whose bytes do not change is kept where it is.
 */
async function oldContinuations (dir: Node, context: CommitContext, settings: ImageSettings): Promise<Map<string, OldContinuation>> {
  const found = new Map<string, OldContinuation>()
  const place = dir.dir?.extents?.iso
  if (place === undefined || settings.rockRidge === undefined) return found
  const quiet = new WarningLog(false)
  const where = { structure: 'directory', lba: place.extent }
  const bytes = await readExactly(context.source, place.extent * SECTOR_SIZE, Math.ceil(place.size / SECTOR_SIZE) * SECTOR_SIZE, where)
  for (const { record } of parseDirectoryRecords(bytes, place.extent, quiet, where)) {
    const id = record.identifier
    const key = id.length === 1 && id[0] === 0 ? 'self' : id.length === 1 && id[0] === 1 ? 'parent' : id.toString('latin1')
    if (found.has(key)) continue // the further records of a multi-extent file
    const field = record.systemUse.subarray(xaSkip(record.systemUse))
    const ce = parseSuspEntries(field, quiet, where).find(e => e.signature === 'CE')
    if (ce === undefined) continue
    const area = parseCE(ce, quiet, where)
    if (area.offset + area.length > SECTOR_SIZE || (area.block + 1) * SECTOR_SIZE > context.source.size) continue
    const sector = await readExactly(context.source, area.block * SECTOR_SIZE, SECTOR_SIZE, where)
    found.set(key, { lba: area.block, offset: area.offset, bytes: Buffer.from(sector.subarray(area.offset, area.offset + area.length)) })
  }
  return found
}

/**
 * Whether a directory that moves leaves continuation areas of other records behind it: genisoimage packs
 * the areas of all records right after the last directory, and libarchive reads an area only when its pass
 * reaches it straight after a directory. Moving that directory away would make bsdtar lose every long
 * Rock Ridge name in the image: left to a whole-tree write. (The sector is told by its first bytes: a SUSP
 * entry starts with two capitals, a length and version 1; a directory record with its length and a zero.)
 */
async function strandedContinuations (
  layout: PartialLayout, context: CommitContext, continuations: ReadonlyMap<Node, Map<string, OldContinuation>>
): Promise<string | undefined> {
  for (const [node, plan] of layout.dirty.iso) {
    const old = node.dir?.extents?.iso
    if (old === undefined || old.extent === plan.extent) continue
    const after = old.extent + Math.ceil(old.size / SECTOR_SIZE)
    // xorriso puts each directory's areas right after it: those are this directory's own, written anew.
    if ([...continuations.get(node)?.values() ?? []].some(area => area.lba === after && area.offset === 0)) continue
    if ((after + 1) * SECTOR_SIZE > context.source.size) continue
    const head = await readExactly(context.source, after * SECTOR_SIZE, 4, { structure: 'sector', lba: after })
    const upper = (b: number): boolean => b >= 0x41 && b <= 0x5a
    if (upper(head[0]) && upper(head[1]) && head[2] >= 4 && head[3] === 1) {
      return `directory ${pathOf(node)} would move away from the Rock Ridge continuation areas that follow it, which libarchive reads only right after a directory`
    }
  }
  return undefined
}

/**
 * Every name (node) of each changed inode. Looked for in the directories the changes were made through;
 * a file with more names than found there (its Rock Ridge link count, RRIP 4.1.1), a file of an image
 * that records no link counts, or a directory not found, is looked for in the whole tree, loaded for it.
 */
async function namesOf (inodes: ReadonlySet<Inode>, changes: ChangeSet, root: Node, settings: ImageSettings): Promise<Map<Inode, Node[]>> {
  const names = new Map<Inode, Node[]>()
  const add = (node: Node): void => {
    const list = names.get(node.inode)
    if (list === undefined) names.set(node.inode, [node])
    else list.push(node)
  }
  if (inodes.has(root.inode)) add(root)
  const byDir = new Map<Node, Set<Inode>>()
  for (const inode of inodes) {
    for (const dir of changes.seenIn.get(inode) ?? []) {
      if (!attached(dir, root)) continue
      const wanted = byDir.get(dir)
      if (wanted === undefined) byDir.set(dir, new Set([inode]))
      else wanted.add(inode)
    }
  }
  for (const [dir, wanted] of byDir) {
    await dir.dir?.complete()
    for (const child of dir.dir?.peek() ?? []) if (wanted.has(child.inode)) add(child)
  }
  const incomplete = [...inodes].some(inode => inode !== root.inode && !allNamesFound(inode, names.get(inode) ?? [], settings))
  if (!incomplete) return names
  await loadAll(root)
  names.clear()
  if (inodes.has(root.inode)) add(root)
  const stack: Node[] = [root]
  while (stack.length > 0) {
    for (const child of (stack.pop() as Node).dir?.peek() ?? []) {
      if (inodes.has(child.inode)) add(child)
      if (child.dir !== undefined) stack.push(child)
    }
  }
  return names
}

function allNamesFound (inode: Inode, found: readonly Node[], settings: ImageSettings): boolean {
  if (inode.kind === 'directory') return found.length > 0
  // Content that never had a record in the image is named only in directories written anew.
  if (!found.some(n => n.origin !== undefined) && !isImageData(inode)) return true
  if (settings.rockRidge === undefined || !inode.posix) return false
  return found.filter(n => n.names.iso !== undefined).length >= inode.nlink
}

function isImageData (inode: Inode): boolean {
  const data = inode.data instanceof OverlayData ? inode.data.base : inode.compressed?.raw ?? inode.data
  return data instanceof ImageExtentsSource
}

/** A changed file's new content where its extent holds it: the bytes that changed, and the file's one section. */
async function inPlaceData (
  inode: Inode, context: CommitContext, budget: number
): Promise<{ sections: FileSectionPlan[], patches: Patch[], bytes: number } | undefined> {
  const overlay = inode.data
  if (!(overlay instanceof OverlayData) || !(overlay.base instanceof ImageExtentsSource) || overlay.base.image !== context.source) return undefined
  const sections = overlay.base.sections
  if (sections.length !== 1 || sections[0].unitSize !== 0) return undefined
  if (overlay.size > Math.ceil(sections[0].length / SECTOR_SIZE) * SECTOR_SIZE) return undefined
  const patches: Patch[] = []
  let bytes = 0
  for (const [start, end] of overlay.changedRanges()) {
    bytes += end - start
    if (bytes > budget) return undefined
    const changed = Buffer.alloc(end - start)
    await overlay.read(changed, 0, changed.length, start)
    patches.push({ offset: sections[0].lba * SECTOR_SIZE + start, bytes: changed })
  }
  return { sections: [{ lba: sections[0].lba, length: overlay.size }], patches, bytes }
}

/** Where data stays: the image's own extents, unless it changed (then only where written in place). */
function keptPlace (holder: Placed, context: CommitContext, changes: ChangeSet, inPlace: ReadonlyMap<Inode, FileSectionPlan[]>): FileSectionPlan[] | undefined {
  if (!(holder instanceof Region) && changes.data.has(holder)) return inPlace.get(holder)
  const data = holder instanceof Region ? holder.data : holder.compressed?.raw ?? holder.data
  if (!(data instanceof ImageExtentsSource) || data.image !== context.source) return undefined
  // Interleaved sections (ECMA-119 6.4.3) cannot be described again by our records: rewrite those.
  if (data.sections.some(s => s.unitSize !== 0 && s.gapSize !== 0)) return undefined
  return data.sections.map(s => ({ lba: s.lba, length: s.length }))
}

/** A tree's path table as the image has it (the L table: ECMA-119 9.4), or why it cannot be read. */
async function readPathTable (
  context: CommitContext, descriptor: VolumeDescriptor
): Promise<{ records: PathTableRecord[], plan: PathTablePlan, bytes: Buffer } | string> {
  const where = { structure: 'L path table', lba: descriptor.lPathTable }
  try {
    const bytes = await readExactly(context.source, descriptor.lPathTable * SECTOR_SIZE, descriptor.pathTableSize, where)
    return { records: parsePathTable(bytes, 'L', where), plan: oldPathTablePlan(descriptor), bytes }
  } catch (err) {
    if (err instanceof InvalidImageError) return `the image's path table cannot be read (${err.message})`
    throw err
  }
}

function oldPathTablePlan (descriptor: VolumeDescriptor): PathTablePlan {
  const size = descriptor.pathTableSize
  return { size, lLba: descriptor.lPathTable, mLba: descriptor.mPathTable, sectors: Math.max(1, Math.ceil(size / SECTOR_SIZE)) }
}

function pathTableFor (
  tree: TreeName, written: ReadonlyMap<Node, DirectoryPlan>, rootPlan: DirectoryPlan, context: CommitContext,
  tables: ReadonlyMap<TreeName, { old: OldPathTable }>
): { records?: PathTableRecord[], old: PathTablePlan } {
  const descriptor = tree === 'iso' ? context.descriptors.primary : context.descriptors.joliet?.descriptor
  if (descriptor === undefined) throw new InvalidImageError('IMAGE_BAD_PATH_TABLE', 'no descriptor for the Joliet tree', { structure: 'path table' })
  const old = oldPathTablePlan(descriptor)
  const table = tables.get(tree)
  if (written.size === 0 || table === undefined) return { old }
  const records = updatedPathTable(table.old, written, rootPlan, node => node.dir?.extents?.[tree]?.extent)
  if (typeof records === 'string') throw new InvalidImageError('IMAGE_BAD_PATH_TABLE', records, { structure: 'path table', lba: old.lLba })
  return { records, old }
}

/**
 * The records that describe a directory written elsewhere, or whose attributes changed: its record in its
 * parent, its "." (when not written), the ".." of each subdirectory; and the ".." of a directory that moved.
 * What cannot be patched (`rewrite`) gets its directory written instead. A directory whose entries' records
 * are patched must have been read without irregularity (`touched`); "." and ".." are checked for what they
 * are where they are patched (record-patcher.ts), and say nothing of the entries read with the directory.
 */
async function patchDirectoryRecords (
  layout: PartialLayout, changes: ChangeSet, names: ReadonlyMap<Inode, Node[]>, root: Node, settings: ImageSettings,
  patcher: RecordPatcher, touched: Set<Node>, rewrite: Set<Node>
): Promise<void> {
  for (const tree of treesOf(settings)) {
    const written = layout.dirty[tree]
    const factsOf = (node: Node): RecordFacts | undefined => {
      const plan = written.get(node)
      const place = plan ?? node.dir?.extents?.[tree]
      if (place === undefined) return undefined
      return { extent: place.extent, dataLength: place.size, inode: node.inode, links: node.inode.nlink, rockRidge: tree === 'iso' && settings.rockRidge !== undefined }
    }
    const patchOrRewrite = async (dir: Node, patch: () => Promise<string | undefined>): Promise<void> => {
      if ((await patch()) !== undefined) rewrite.add(dir)
    }
    const followed = new Set<Node>(written.keys())
    for (const inode of changes.attributes) {
      if (inode.kind !== 'directory') continue
      for (const node of names.get(inode) ?? []) if (inTree(tree, node, root)) followed.add(node)
    }
    for (const dir of followed) {
      const facts = factsOf(dir)
      if (facts === undefined) continue
      const parent = dir.parent
      if (parent !== undefined && !written.has(parent)) {
        const location = dir.origin?.[tree]
        touched.add(parent)
        if (location === undefined) rewrite.add(parent)
        else await patchOrRewrite(parent, async () => await patcher.patch(location, facts))
      }
      if (!written.has(dir)) {
        const place = dir.dir?.extents?.[tree]
        if (place !== undefined) await patchOrRewrite(dir, async () => await patcher.patchSelfOrParent(place.extent, 0, facts))
      }
      await dir.dir?.complete()
      for (const child of dir.dir?.peek() ?? []) {
        if (child.dir === undefined || written.has(child) || !inTree(tree, child, root)) continue
        const place = child.dir.extents?.[tree]
        if (place === undefined) continue // written: closeOver added it
        await patchOrRewrite(child, async () => await patcher.patchSelfOrParent(place.extent, 1, facts))
      }
    }
    for (const dir of changes.moved.keys()) {
      if (!attached(dir, root) || written.has(dir) || !inTree(tree, dir, root) || followed.has(dir.parent as Node)) continue
      const place = dir.dir?.extents?.[tree]
      const facts = factsOf(dir.parent as Node)
      if (place === undefined || facts === undefined) continue
      await patchOrRewrite(dir, async () => await patcher.patchSelfOrParent(place.extent, 1, facts))
    }
  }
}

/** The records of changed files in directories not written: size, date, PX, TF, and the extent of data that moved. */
async function patchFileRecords (
  layout: PartialLayout, names: ReadonlyMap<Inode, Node[]>, dirty: ReadonlySet<Node>, settings: ImageSettings,
  patcher: RecordPatcher, touched: Set<Node>, rewrite: Set<Node>
): Promise<void> {
  for (const [inode, nodes] of names) {
    if (inode.kind === 'directory') continue
    const sections = layout.placed.get(inode)
    const moved = sections !== undefined && !layout.fixed.has(inode)
    for (const node of nodes) {
      const parent = node.parent
      if (parent === undefined || dirty.has(parent)) continue
      touched.add(parent)
      // Another number of sections means another number of records (ECMA-119 6.5.1): written anew.
      if (moved && sections.length !== 1) {
        rewrite.add(parent)
        continue
      }
      for (const tree of treesOf(settings)) {
        const location = node.origin?.[tree]
        const named = tree === 'iso' ? node.names.iso : node.names.joliet
        if (named === undefined) continue
        if (location === undefined) {
          rewrite.add(parent)
          continue
        }
        const why = await patcher.patch(location, {
          extent: moved ? (sections[0].length > 0 ? sections[0].lba : 0) : undefined,
          dataLength: (inode.compressed?.raw ?? inode.data).size,
          inode,
          links: inode.nlink,
          rockRidge: tree === 'iso' && settings.rockRidge !== undefined
        })
        if (why !== undefined) rewrite.add(parent)
      }
    }
  }
}

function treesOf (settings: ImageSettings): TreeName[] {
  return settings.joliet !== undefined ? ['iso', 'joliet'] : ['iso']
}

/** Whether a node is still in the tree (an edit may have removed it, or a directory above it). */
function attached (node: Node, root: Node): boolean {
  let n: Node | undefined = node
  while (n !== undefined && n !== root) n = n.parent
  return n === root
}
