import { InternalError, InvalidImageError } from '../../errors'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { allBootImages } from '../model/boot'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import { depthOf, NodeFlag, type Node } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import { needsSerials, type FileSectionPlan, type PathTablePlan, type WriteContent } from '../write/layout'
import { inTree, planPartialLayout, type OldContinuation, type PartialLayout, type TreeName } from '../write/partial-layout'
import type { ImageSettings } from '../write/settings'
import { payloadsOf } from '../write/system-area-writer'
import { MAX_DEPTH, pathOf } from '../write/tree-plan'
import { inPlaceData, keptPlace, MAX_IN_PLACE_DATA, namesOf } from './changed-files'
import type { CommitContext } from './context'
import { oldContinuations, someLeaf, strandedContinuations } from './continuations'
import type { Patch } from './journal'
import { oldPathTable, pathTableFor, readPathTable, type OldPathTable } from './path-table-update'
import { RecordPatcher } from './record-patcher'
import { attached, patchDirectoryRecords, patchFileRecords, treesOf } from './record-updates'
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
  // A UDF tree's file entries carry sizes, times and modes too, and its integrity descriptor counts: written whole.
  if (settings.udf !== undefined) {
    return { reason: 'the image has a UDF file system, which is written whole (a remaster)' }
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
    if (needsSerials(layout.links)) return { reason: 'an empty file has hard links: PX serial numbers go into every record, so the whole tree is written' }
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
    // A directory that outgrew its extent may have taken a subdirectory's (partial-layout.ts): not freed.
    const taken = new Set([...layout.dirty[tree].values()].map(plan => plan.extent))
    for (const [node, plan] of layout.dirty[tree]) {
      const old = node.dir?.extents?.[tree]
      if (old !== undefined && old.extent !== plan.extent && !taken.has(old.extent)) freed += Math.ceil(old.size / SECTOR_SIZE)
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
