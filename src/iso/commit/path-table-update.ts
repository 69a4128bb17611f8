import { InvalidImageError } from '../../errors'
import { parsePathTable, type PathTableRecord } from '../codec/path-table'
import { SECTOR_SIZE, type VolumeDescriptor } from '../codec/volume-descriptor'
import { readExactly } from '../io/byte-source'
import type { Node } from '../model/node'
import type { PathTablePlan } from '../write/layout'
import type { TreeName } from '../write/partial-layout'
import type { DirectoryPlan } from '../write/tree-plan'
import type { CommitContext } from './context'

/*
 * The path table (ECMA-119 9.4) of a tree of which a commit writes only some directories: the image's own
 * table, with those directories' places and subdirectories replaced. Directories nobody wrote keep their
 * entries and their order; the table is then numbered again (6.9.1: by level, parent number, identifier),
 * so that a directory added, removed or renamed anywhere renumbers what follows, as a full rewrite would.
 */

interface Entry {
  extent: number
  extendedAttributeLength: number
  identifier: Buffer
  children: Entry[]
}

/** The image's table as a tree of entries, found by extent. */
export interface OldPathTable {
  root: Entry
  byExtent: Map<number, Entry>
}

/**
 * The table read back as a tree, or why it cannot serve: more than 65,535 directories (9.4.6 parent
 * numbers are 16-bit, and xorriso writes the low 16 bits of larger ones, so they no longer say which
 * directory is meant), or a table that does not describe a tree.
 */
export function oldPathTable (records: readonly PathTableRecord[], rootExtent: number): OldPathTable | string {
  if (records.length > 0xffff) return `the image has ${records.length} directories, more than the 65,535 whose parents a path table can name (ECMA-119 9.4.6)`
  const entries: Entry[] = []
  const byExtent = new Map<number, Entry>()
  for (const [i, record] of records.entries()) {
    const entry: Entry = { extent: record.extent, extendedAttributeLength: record.extendedAttributeLength, identifier: record.identifier, children: [] }
    if (i === 0 ? record.extent !== rootExtent : record.parent < 1 || record.parent > i) return 'the image\'s path table does not describe its tree'
    if (byExtent.has(record.extent)) return 'the image\'s path table names one extent twice'
    if (i > 0) entries[record.parent - 1].children.push(entry)
    entries.push(entry)
    byExtent.set(record.extent, entry)
  }
  if (entries.length === 0) return 'the image has an empty path table'
  return { root: entries[0], byExtent }
}

/**
 * The new table: the written directories (`written`, with their final extents; `oldExtentOf` says where
 * each was) get their current subdirectories, in record order; every other entry is as it was.
 */
export function updatedPathTable (
  old: OldPathTable, written: ReadonlyMap<Node, DirectoryPlan>, rootPlan: DirectoryPlan, oldExtentOf: (node: Node) => number | undefined
): PathTableRecord[] | string {
  const made = new Map<DirectoryPlan, Entry>()
  let missing: string | undefined
  const entryOf = (plan: DirectoryPlan): Entry => {
    const found = made.get(plan)
    if (found !== undefined) return found
    const oldExtent = written.has(plan.node) ? oldExtentOf(plan.node) : plan.extent
    let entry = oldExtent !== undefined ? old.byExtent.get(oldExtent) : undefined
    if (entry === undefined) {
      if (oldExtent !== undefined) missing = `the image's path table does not list the directory at LBA ${oldExtent}`
      entry = { extent: plan.extent, extendedAttributeLength: 0, identifier: plan.identifier, children: [] }
    }
    made.set(plan, entry)
    return entry
  }
  for (const plan of written.values()) {
    const entry = entryOf(plan)
    entry.extent = plan.extent
    entry.extendedAttributeLength = 0
    entry.children = plan.records.filter(r => r.target !== undefined).map(r => {
      const child = entryOf(r.target as DirectoryPlan)
      child.identifier = r.identifier
      return child
    })
  }
  const root = entryOf(rootPlan)
  if (missing !== undefined) return missing
  // Breadth first over children in identifier order: level, then parent number, then identifier.
  const order: Entry[] = [root]
  const parents: number[] = [1]
  for (let i = 0; i < order.length; i++) {
    for (const child of order[i].children) {
      order.push(child)
      parents.push(i + 1)
    }
  }
  return order.map((entry, i) => ({
    extendedAttributeLength: entry.extendedAttributeLength,
    extent: entry.extent,
    parent: parents[i],
    identifier: i === 0 ? Buffer.from([0]) : entry.identifier
  }))
}

/** A tree's path table as the image has it (the L table: ECMA-119 9.4), or why it cannot be read. */
export async function readPathTable (
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

export function pathTableFor (
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
