import { InternalError } from '../../errors'
import { bootCatalogSize } from '../codec/el-torito'
import { pathTableRecordLength, type PathTableRecord } from '../codec/path-table'
import { serializeSuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { DataSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import { depthOf, type DirectoryExtent, type Node } from '../model/node'
import { Region } from '../model/payload'
import { descriptorSequence, deviceEnd, filesWithContinuations, rockRidgeFor, sectionsFor, sizeTrees, toCatalogShape, type FileSectionPlan, type Layout, type PathTablePlan, type Placed, type WriteContent } from './layout'
import type { ImageSettings } from './settings'
import { ContinuationAllocator, type SystemUsePlan } from './system-use-plan'
import { payloadsOf } from './system-area-writer'
import { isInIsoTree, isoIdentifierBytes, isoRecords, jolietIdentifierBytes, jolietRecords, newDirectory, pathOf, type DirectoryPlan, type RecordPlan, type TreePlan } from './tree-plan'

/*
 * The layout of a commit that writes only some directories. Those are planned, sized and (later)
 * serialized exactly as a full layout would do it; every other directory stays where the image has it and
 * appears only as what records point at: a stub with its extent and size. A written directory goes back
 * into its own extent when it fits there, else after the image's end, as do new Rock Ridge continuation
 * areas, path tables that no longer fit, and data that is new or moved. Link counts are the inodes' own
 * (as recorded, kept up to date by edits), so that a rewritten directory and the records patched around it
 * agree without counting the whole tree.
 */

export type TreeName = 'iso' | 'joliet'

export interface PartialPlacement {
  /** The directories to write (loaded and merged, new ones among them); every one that lacks a place in a tree it is in must be here. */
  dirty: ReadonlySet<Node>
  /** The first sector after the image: what is appended goes from here. */
  startLba: number
  /** The image as it is: its sectors, and the volume size its descriptors record (kept when nothing is appended). */
  oldTotalSectors: number
  oldVolumeSectors: number
  /** Data that stays where it is, and where; undefined: written anew after the image. */
  keep: (holder: Placed) => FileSectionPlan[] | undefined
  /** Data whose records are patched rather than rewritten: placed too, even though no written directory names it. */
  alsoPlaced: Iterable<Placed>
  /** Written directories that go after the image even if they fit where they are (see needsMovedLeaf). */
  forceMove?: Iterable<Node>
  /** The image's continuation areas of the written directories' records (kept where their bytes do not change). */
  oldContinuation?: OldContinuations
  /** Where the boot catalog is (it is rewritten there when it changes). */
  catalog?: { lba: number, size: number }
  /**
   * The path table of a tree given the written directories' places (`records`; undefined when it does not
   * change), and where the image has it now.
   */
  pathTable: (tree: TreeName, written: ReadonlyMap<Node, DirectoryPlan>, root: DirectoryPlan) => { records?: PathTableRecord[], old: PathTablePlan }
}

export interface PartialLayout extends Layout {
  /** The directories written, per tree, by node (the root's plan may be a stub when it is not written). */
  dirty: Record<TreeName, Map<Node, DirectoryPlan>>
  /**
   * Directories that must be written too for this layout to hold (below one that moved after the image):
   * not empty means this layout is not to be written, but planned again with them (and their subtrees).
   */
  mustWrite: Set<Node>
  /**
   * New continuation areas need a directory moved after the image to be read right before them, and no
   * written one is a leaf: a leaf directory must be written (and given in forceMove) for this layout to hold.
   */
  needsMovedLeaf: boolean
  pathTableRecords: Partial<Record<TreeName, PathTableRecord[]>>
  /** Whether anything goes after the image's end (otherwise every change is in place). */
  appends: boolean
}

export function planPartialLayout (root: Node, settings: ImageSettings, content: WriteContent, placement: PartialPlacement): PartialLayout {
  const trees: TreeName[] = settings.joliet !== undefined ? ['iso', 'joliet'] : ['iso']
  const dirty: Record<TreeName, Map<Node, DirectoryPlan>> = { iso: new Map(), joliet: new Map() }
  const stubs: Record<TreeName, Map<Node, DirectoryPlan>> = { iso: new Map(), joliet: new Map() }
  const links = new Map<Inode, number>()

  const planOf = (tree: TreeName, node: Node): DirectoryPlan => {
    const existing = dirty[tree].get(node) ?? stubs[tree].get(node)
    if (existing !== undefined) return existing
    const place = node.dir?.extents?.[tree]
    if (placement.dirty.has(node) || place === undefined) return planDirectory(tree, node)
    const stub = newDirectory(node, undefined, identifierOf(tree, node), depthOf(node))
    stub.number = node === root ? 1 : 0
    stub.extent = place.extent
    stub.size = place.size
    stubs[tree].set(node, stub)
    links.set(node.inode, node.inode.nlink)
    return stub
  }
  const planDirectory = (tree: TreeName, node: Node): DirectoryPlan => {
    if (!placement.dirty.has(node)) throw new InternalError(`directory ${pathOf(node)} has no place in the image and is not written`)
    const plan = newDirectory(node, undefined, identifierOf(tree, node), depthOf(node))
    plan.number = node === root ? 1 : 0
    // Registered before its parent and children are planned: they point back at it.
    dirty[tree].set(node, plan)
    if (node.parent !== undefined) plan.parent = planOf(tree, node.parent)
    links.set(node.inode, node.inode.nlink)
    const target = (child: Node): DirectoryPlan => planOf(tree, child)
    plan.records = tree === 'iso' ? isoRecords(node, target) : jolietRecords(node, target)
    for (const record of plan.records) links.set(record.node.inode, record.node.inode.nlink)
    return plan
  }
  for (const tree of trees) {
    for (const node of placement.dirty) if (inTree(tree, node, root)) planOf(tree, node)
    // The root's record is in the descriptors, which are always written: it needs its place either way.
    planOf(tree, root)
  }

  const allocator = new ContinuationAllocator()
  const treePlan = (tree: TreeName): TreePlan => ({ directories: [...dirty[tree].values()] })
  // PX serial numbers (empty hard links) go into every record or none: a delta commit needing them is
  // refused by delta-plan.ts and the whole tree written.
  sizeTrees(treePlan('iso'), settings.joliet !== undefined ? treePlan('joliet') : undefined, settings, links, allocator, false)

  // A directory goes back into its extent when it fits there (keeping the extent's size: trailing sectors
  // without records, room for what the next commit adds; 6.8.1.1 ends a sector's records at a zero byte,
  // and every reader we test reads such directories), else after the image. libarchive (bsdtar) reads
  // the image in one pass forward from the root's extent and drops a directory that lies before its
  // parent ("Ignoring out-of-order directory"): below a directory that goes after the image, every
  // directory goes there too, after it, parents first (those not written yet are reported: mustWrite).
  const sized = new Map<DirectoryPlan, number>()
  for (const plans of Object.values(dirty)) for (const plan of plans.values()) sized.set(plan, plan.size)
  let next = placement.startLba
  const moved = new Set<DirectoryPlan>()
  // Directories that outgrew their extent and took their first subdirectory's instead (evicted: see below).
  const relocated = new Set<DirectoryPlan>()
  const mustWrite = new Set<Node>()
  const forced = new Set<DirectoryPlan>()
  const place = (tree: TreeName): void => {
    for (const plan of [...dirty[tree].values()].sort((a, b) => a.depth - b.depth)) {
      plan.size = sized.get(plan) as number
      const old: DirectoryExtent | undefined = plan.node.dir?.extents?.[tree]
      const room = old !== undefined ? Math.ceil(old.size / SECTOR_SIZE) * SECTOR_SIZE : 0
      // A directory moved under a parent that lies after it (one an earlier commit moved) moves too.
      const afterParent = plan.parent === plan || (old !== undefined && old.extent > plan.parent.extent)
      const mayStay = !forced.has(plan) && !moved.has(plan.parent) && old !== undefined
      if (mayStay && plan.size <= room && afterParent) {
        plan.extent = old.extent
        plan.size = room
        notBefore(tree, plan)
        continue
      }
      // Outgrown: moved after the image, it would take every directory below it along (libarchive's one
      // pass, above), the whole tree for a full root, as when a file is added to the root of an install
      // image. Instead it takes the extent of its subdirectory that lies first, when that holds it: every
      // other subdirectory still lies after it, and only the evicted one (with what lies below it, usually
      // nothing) moves after the image. Its own old extent is left unused.
      const first = mayStay ? firstSubdirectory(tree, plan) : undefined
      if (first !== undefined && first.room >= plan.size && (plan.parent === plan || first.extent > plan.parent.extent)) {
        plan.extent = first.extent
        plan.size = first.room
        relocated.add(plan)
        const evicted = dirty[tree].get(first.node)
        if (evicted !== undefined) forced.add(evicted)
        else mustWrite.add(first.node)
        notBefore(tree, plan)
        continue
      }
      // One that grew out of its extent gets room to grow again (a quarter more, a sector at least), as
      // sectors without records: the next entries added fit where it is.
      if (old !== undefined) plan.size = Math.max(Math.ceil(plan.size * 5 / 4 / SECTOR_SIZE) * SECTOR_SIZE, plan.size + SECTOR_SIZE)
      plan.extent = next
      next += plan.size / SECTOR_SIZE
      moved.add(plan)
      notBefore(tree, plan)
    }
  }
  /** Subdirectories not written that would lie before their parent (all of them, below one that moved). */
  const notBefore = (tree: TreeName, plan: DirectoryPlan): void => {
    for (const record of plan.records) {
      if (record.target !== undefined && !dirty[tree].has(record.target.node) && record.target.extent < plan.extent) mustWrite.add(record.target.node)
    }
  }
  // Continuation areas: kept where the image has them when their bytes do not change and their directory
  // stays; new ones in a region right after the directories that moved. libarchive (bsdtar) reads an area
  // only when its one pass reaches it straight after a directory, in the order of the areas' places, and
  // an area it never reaches holds up every later one: genisoimage leaves the root's ER area after the
  // Joliet directories, out of that pass. So with new areas, the root's "." area is new too (before none
  // of them), and a directory moves to be read right before the region: a leaf, as nothing moves with it.
  for (const node of placement.forceMove ?? []) {
    const plan = dirty.iso.get(node)
    if (plan !== undefined) forced.add(plan)
  }
  let continuation = { lba: next, sectors: 0 }
  let needsMovedLeaf = false
  for (;;) {
    next = placement.startLba
    moved.clear()
    relocated.clear()
    mustWrite.clear()
    place('iso')
    // A relocated directory's areas move too: kept, they would lie before it, out of libarchive's pass.
    const areasMove = new Set([...moved, ...relocated])
    let sectors = packContinuations(dirty.iso, areasMove, settings, links, placement.oldContinuation, true)
    if (sectors > 0) {
      const rootPlan = dirty.iso.get(root)
      if (rootPlan === undefined) mustWrite.add(root)
      else sectors = packContinuations(dirty.iso, areasMove, settings, links, placement.oldContinuation, false)
      if (![...dirty.iso.values()].some(plan => moved.has(plan))) {
        const leaf = [...dirty.iso.values()].filter(plan => !plan.records.some(r => r.target !== undefined)).sort((a, b) => b.depth - a.depth)[0]
        if (leaf !== undefined) {
          forced.add(leaf)
          continue
        }
        needsMovedLeaf = true
      }
    }
    continuation = { lba: next, sectors }
    next += sectors
    break
  }
  if (settings.joliet !== undefined) {
    // libarchive reads the Joliet tree instead of the Rock Ridge one when the Joliet root comes first
    // (choose_volume): a root that moves takes the Joliet root after it.
    const isoRoot = dirty.iso.get(root)
    const jolietRoot = dirty.joliet.get(root)
    const jolietRootAt = root.dir?.extents?.joliet?.extent ?? Infinity
    if (isoRoot !== undefined && (moved.has(isoRoot) || isoRoot.extent > jolietRootAt) && jolietRoot !== undefined) forced.add(jolietRoot)
    place('joliet')
  }

  // Path tables: back where they are when they fit, else after the directories (ECMA-119 9.4).
  const pathTables: Partial<Record<TreeName, PathTablePlan>> = {}
  const pathTableRecords: Partial<Record<TreeName, PathTableRecord[]>> = {}
  for (const tree of trees) {
    const { records, old } = placement.pathTable(tree, dirty[tree], planOf(tree, root))
    if (records === undefined) {
      pathTables[tree] = old
      continue
    }
    const size = records.reduce((sum, r) => sum + pathTableRecordLength(r.identifier.length), 0)
    const sectors = Math.max(1, Math.ceil(size / SECTOR_SIZE))
    if (sectors <= old.sectors) {
      pathTables[tree] = { ...old, size }
    } else {
      pathTables[tree] = { size, lLba: next, mLba: next + sectors, sectors }
      next += 2 * sectors
    }
    pathTableRecords[tree] = records
  }

  const descriptors = descriptorSequence(settings, content)
  let bootCatalog: Layout['bootCatalog']
  if (content.boot !== undefined) {
    if (placement.catalog === undefined) throw new InternalError('a boot catalog without a place')
    const size = Math.max(SECTOR_SIZE, Math.ceil(bootCatalogSize(toCatalogShape(content.boot)) / SECTOR_SIZE) * SECTOR_SIZE)
    bootCatalog = { lba: placement.catalog.lba, size, inode: content.boot.catalog }
  }

  // Data: what stays is where it is; what is new or moved goes after the metadata, boot images first.
  const placed = new Map<Placed, FileSectionPlan[]>()
  const data = new Map<Placed, DataSource>()
  const fixed = new Set<Placed>()
  const appendedRegions = new Set<Region>()
  const continued = filesWithContinuations(treePlan('iso'))
  const put = (what: Placed): void => {
    if (placed.has(what) || what === content.boot?.catalog || (!(what instanceof Region) && what.kind !== 'file')) return
    if (what instanceof Region && what.place === 'appended') {
      appendedRegions.add(what)
      return
    }
    const source = what instanceof Region ? what.data : what.compressed?.raw ?? what.data
    data.set(what, source)
    const kept = continued.has(what as Inode) ? undefined : placement.keep(what)
    if (kept !== undefined) {
      placed.set(what, kept)
      fixed.add(what)
      return
    }
    placed.set(what, sectionsFor(source.size, next))
    next += Math.ceil(source.size / SECTOR_SIZE)
  }
  for (const payload of payloadsOf(content)) put(payload.holder)
  for (const tree of trees) {
    for (const plan of dirty[tree].values()) for (const record of plan.records) if (record.target === undefined) put(record.node.inode)
  }
  for (const what of placement.alsoPlaced) put(what)

  // Appended partitions stay after the volume's data: they move only when the volume grows, and then the
  // volume ends as a whole write ends it (padding, alignment, what followed the partitions).
  for (const region of appendedRegions) data.set(region, region.data)
  const keptRegions = next > placement.startLba ? [] : [...appendedRegions].map(region => placement.keep(region))
  const appends = next > placement.startLba || keptRegions.some(kept => kept === undefined)
  let dataSectors = placement.oldVolumeSectors
  let totalSectors = placement.oldTotalSectors
  if (!appends) {
    for (const [i, region] of [...appendedRegions].entries()) {
      placed.set(region, keptRegions[i] as FileSectionPlan[])
      fixed.add(region)
    }
  } else {
    ({ dataSectors, totalSectors } = deviceEnd(next, content, appendedRegions.size > 0, from => {
      next = from
      for (const region of appendedRegions) {
        placed.set(region, sectionsFor(region.data.size, next))
        next += Math.ceil(region.data.size / SECTOR_SIZE)
      }
      return next
    }))
  }

  const rootOf = (tree: TreeName): DirectoryPlan => planOf(tree, root)
  const treeOf = (tree: TreeName): Layout['iso'] => ({
    directories: [rootOf(tree), ...[...dirty[tree].values()].filter(d => d.node !== root)],
    pathTable: pathTables[tree] as PathTablePlan
  })
  return {
    settings,
    totalSectors,
    dataSectors,
    volumeSectors: !appends ? placement.oldVolumeSectors : content.systemArea?.volumeCoversDevice === true ? totalSectors : dataSectors,
    ...descriptors,
    bootCatalog,
    iso: treeOf('iso'),
    joliet: settings.joliet !== undefined ? treeOf('joliet') : undefined,
    continuation,
    placed,
    content: data,
    links,
    serials: false,
    fixed,
    bodyStartLba: placement.startLba,
    written: new Map(),
    dirty,
    mustWrite,
    needsMovedLeaf,
    pathTableRecords,
    appends
  }
}

/**
 * The subdirectory of `plan` whose extent in the image comes first, with its room (whole sectors). New
 * subdirectories have no extent yet: they go after the image, after everything this commit keeps.
 */
function firstSubdirectory (tree: TreeName, plan: DirectoryPlan): { node: Node, extent: number, room: number } | undefined {
  let first: { node: Node, extent: number, room: number } | undefined
  for (const record of plan.records) {
    const node = record.target?.node
    if (node === undefined || node.parent !== plan.node) continue
    const place = node.dir?.extents?.[tree]
    if (place === undefined) continue
    if (first === undefined || place.extent < first.extent) first = { node, extent: place.extent, room: Math.ceil(place.size / SECTOR_SIZE) * SECTOR_SIZE }
  }
  return first
}

/** A continuation area as the image has it: where, and its bytes. */
export interface OldContinuation {
  lba: number
  offset: number
  bytes: Buffer
}

/** The image's continuation areas of a directory's records: "." as 'self', ".." as 'parent', others by identifier (latin1). */
export type OldContinuations = (dir: Node, record: string) => OldContinuation | undefined

/**
 * Lays out the continuation areas of the written ISO9660 directories: an area whose directory stays and
 * whose bytes are those the image has for the same record keeps its place; the others are packed into a
 * new region. Returns the region's sectors.
 */
function packContinuations (
  plans: ReadonlyMap<Node, DirectoryPlan>, moved: ReadonlySet<DirectoryPlan>, settings: ImageSettings, links: Map<Inode, number>,
  old: OldContinuations | undefined, keepRootSelf: boolean
): number {
  const allocator = new ContinuationAllocator()
  for (const plan of plans.values()) {
    const roles: Array<[RecordPlan | 'self' | 'parent', SystemUsePlan | undefined, string]> = [
      ['self', plan.selfSystemUse, 'self'], ['parent', plan.parentSystemUse, 'parent'],
      ...plan.records.map(r => [r, r.systemUse, r.identifier.toString('latin1')] as [RecordPlan, SystemUsePlan | undefined, string])
    ]
    for (const [role, use, key] of roles) {
      if (use === undefined || use.areas.length === 0) continue
      for (const area of use.areas) delete area.lba
      const keep = !moved.has(plan) && use.areas.length === 1 && (keepRootSelf || plan.number !== 1 || role !== 'self')
      const kept = keep ? old?.(plan.node, key) : undefined
      if (kept !== undefined && kept.bytes.length === use.areas[0].length) {
        const entries = rockRidgeFor(role, plan, settings, links, false).slice(use.inlineCount)
        if (Buffer.concat(entries.map(serializeSuspEntry)).equals(kept.bytes)) {
          use.areas[0].lba = kept.lba
          use.areas[0].offset = kept.offset
          continue
        }
      }
      for (const area of use.areas) {
        const at = allocator.allocate(area.length)
        area.sector = at.sector
        area.offset = at.offset
      }
    }
  }
  return allocator.sectors
}

/** Whether a directory is in a tree: the root always (when the tree exists), others by their names. */
export function inTree (tree: TreeName, node: Node, root: Node): boolean {
  if (node === root) return true
  return tree === 'iso' ? isInIsoTree(node) : node.names.joliet !== undefined
}

function identifierOf (tree: TreeName, node: Node): Buffer {
  if (node.parent === undefined) return Buffer.from([0])
  return tree === 'iso' ? isoIdentifierBytes(node.names.iso as string) : jolietIdentifierBytes(node.names.joliet as string)
}

