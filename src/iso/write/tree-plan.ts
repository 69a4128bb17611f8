import { InvalidInputError } from '../../errors'
import { encodeUcs2 } from '../codec/joliet'
import { Inode, S_IFDIR } from '../model/inode'
import { Directory, Node, NodeFlag } from '../model/node'
import { generateIsoName } from '../naming/iso9660'
import { compareIsoIdentifiers, compareJolietNames } from '../naming/order'
import type { ImageSettings } from './settings'
import type { SystemUsePlan } from './system-use-plan'

/*
 * The physical directory trees a written image records: the ISO9660 tree (with Rock Ridge deep directories
 * relocated, RRIP 4.1.5) and the Joliet tree, each directory with its records in the order the standards
 * require, and numbered in path table order (ECMA-119 6.9.1).
 */

/** ECMA-119 6.8.2.1: at most eight levels, the root being the first. */
export const MAX_DEPTH = 8

export type RecordRole = 'entry' | 'placeholder' | 'relocated'

/** One record (or run of multi-extent records) in a directory. */
export interface RecordPlan {
  node: Node
  identifier: Buffer
  role: RecordRole
  /** The directory this record points at (directories, placeholders and relocated records). */
  target?: DirectoryPlan
  /** Filled in by the layout pass: Rock Ridge placement and one record's length. */
  systemUse?: SystemUsePlan
  length: number
}

export interface DirectoryPlan {
  node: Node
  /** Path table directory number, 1 for the root (6.9). */
  number: number
  depth: number
  /** Physical parent; the root is its own parent (9.1.11, 6.9.2). */
  parent: DirectoryPlan
  /** For a relocated directory: where it logically lives (Rock Ridge PL). */
  logicalParent?: DirectoryPlan
  identifier: Buffer
  records: RecordPlan[]
  /** Filled in by the layout pass. */
  extent: number
  size: number
  selfSystemUse?: SystemUsePlan
  parentSystemUse?: SystemUsePlan
}

export interface TreePlan {
  /** In path table order; [0] is the root. */
  directories: DirectoryPlan[]
}

/** ISO9660 identifiers are ASCII at levels 1-3 and UTF-8 at level 4 (what genisoimage records). */
export function isoIdentifierBytes (identifier: string): Buffer {
  return Buffer.from(identifier, 'utf8')
}

export function jolietIdentifierBytes (identifier: string): Buffer {
  return encodeUcs2(identifier)
}

/** Whether an entry has a record of its own in the ISO9660 tree (the relocation directory is the writer's business). */
export function isInIsoTree (node: Node): boolean {
  return node.names.iso !== undefined && (node.flags & NodeFlag.RELOCATION_DIRECTORY) === 0
}

/**
 * The ISO9660 tree. With Rock Ridge, a directory that would sit deeper than eight levels moves to the
 * relocation directory at the root, leaving a placeholder record (CL) at its place; without Rock Ridge such
 * a tree cannot be recorded below level 4 and is refused.
 */
export function planIsoTree (root: Node, settings: ImageSettings): TreePlan {
  const relocationAllowed = settings.rockRidge !== undefined && settings.interchangeLevel < 4
  const depthLimited = settings.interchangeLevel < 4 && settings.keepDeepDirectories !== true
  const rootPlan = newDirectory(root, undefined, Buffer.from([0]), 1)
  let relocation: DirectoryPlan | undefined
  const relocationDirectory = (): DirectoryPlan => {
    if (relocation === undefined) {
      const node = existingRelocationDirectory(root) ?? syntheticRelocationDirectory(root, settings)
      relocation = newDirectory(node, rootPlan, isoIdentifierBytes(node.names.iso as string), 2)
      rootPlan.records.push({ node, identifier: relocation.identifier, role: 'entry', target: relocation, length: 0 })
      queue.push(relocation)
    }
    return relocation
  }

  // Breadth first; records are sorted per directory afterwards.
  const queue: DirectoryPlan[] = [rootPlan]
  for (let i = 0; i < queue.length; i++) {
    const dir = queue[i]
    for (const child of loadedEntries(dir.node)) {
      if (!isInIsoTree(child)) continue
      const identifier = isoIdentifierBytes(child.names.iso as string)
      if (!child.isDirectory) {
        dir.records.push({ node: child, identifier, role: 'entry', length: 0 })
        continue
      }
      if (dir.depth + 1 <= MAX_DEPTH || !depthLimited) {
        const plan = newDirectory(child, dir, identifier, dir.depth + 1)
        dir.records.push({ node: child, identifier, role: 'entry', target: plan, length: 0 })
        queue.push(plan)
        continue
      }
      if (!relocationAllowed) {
        throw new InvalidInputError('UNSUPPORTED', `directory ${pathOf(child)} is deeper than the ${MAX_DEPTH} levels ECMA-119 6.8.2.1 allows; ` +
          'use Rock Ridge (which relocates it), interchange level 4, or keep it where it is (mkisofs -D)')
      }
      const host = relocationDirectory()
      const plan = newDirectory(child, host, identifier, host.depth + 1)
      plan.logicalParent = dir
      dir.records.push({ node: child, identifier, role: 'placeholder', target: plan, length: 0 })
      host.records.push({ node: child, identifier, role: 'relocated', target: plan, length: 0 })
      queue.push(plan)
    }
  }
  for (const dir of queue) sortIsoRecords(dir.records)
  return { directories: numberInPathTableOrder(rootPlan) }
}

/** ECMA-119 9.3: a directory's records by name, extension, then version (a placeholder sorts as the file it is). */
function sortIsoRecords (records: RecordPlan[]): void {
  records.sort((a, b) => compareIsoIdentifiers(
    a.node.names.iso as string, b.node.names.iso as string, a.role !== 'placeholder' && a.node.isDirectory, b.role !== 'placeholder' && b.node.isDirectory))
}

/**
 * One directory's records in the ISO9660 tree, sorted, where no relocation is involved (a commit that
 * writes only some directories checks that first); `target` gives the plan a subdirectory's record points at.
 */
export function isoRecords (node: Node, target: (child: Node, identifier: Buffer) => DirectoryPlan): RecordPlan[] {
  const records: RecordPlan[] = []
  for (const child of loadedEntries(node)) {
    if (!isInIsoTree(child)) continue
    const identifier = isoIdentifierBytes(child.names.iso as string)
    records.push({ node: child, identifier, role: 'entry', target: child.isDirectory ? target(child, identifier) : undefined, length: 0 })
  }
  sortIsoRecords(records)
  return records
}

/** One directory's records in the Joliet tree, sorted by UCS-2 code units; `target` as for isoRecords. */
export function jolietRecords (node: Node, target: (child: Node, identifier: Buffer) => DirectoryPlan): RecordPlan[] {
  const records: RecordPlan[] = []
  for (const child of loadedEntries(node)) {
    if (child.names.joliet === undefined) continue
    const identifier = jolietIdentifierBytes(child.names.joliet)
    records.push({ node: child, identifier, role: 'entry', target: child.isDirectory ? target(child, identifier) : undefined, length: 0 })
  }
  records.sort((a, b) => compareJolietNames(a.node.names.joliet as string, b.node.names.joliet as string))
  return records
}

/** The Joliet tree: every node with a Joliet name; no depth limit is enforced (as genisoimage). */
export function planJolietTree (root: Node): TreePlan {
  const rootPlan = newDirectory(root, undefined, Buffer.from([0]), 1)
  const queue: DirectoryPlan[] = [rootPlan]
  for (let i = 0; i < queue.length; i++) {
    const dir = queue[i]
    dir.records = jolietRecords(dir.node, (child, identifier) => {
      const plan = newDirectory(child, dir, identifier, dir.depth + 1)
      queue.push(plan)
      return plan
    })
  }
  return { directories: numberInPathTableOrder(rootPlan) }
}

/**
 * ECMA-119 6.9.1: by level, then parent's number, then identifier. Records are already sorted by
 * identifier, so a breadth-first walk over them yields exactly that order.
 */
function numberInPathTableOrder (root: DirectoryPlan): DirectoryPlan[] {
  const ordered: DirectoryPlan[] = [root]
  for (let i = 0; i < ordered.length; i++) {
    ordered[i].number = i + 1
    for (const record of ordered[i].records) {
      if (record.target !== undefined && record.role !== 'placeholder') ordered.push(record.target)
    }
  }
  return ordered
}

export function newDirectory (node: Node, parent: DirectoryPlan | undefined, identifier: Buffer, depth: number): DirectoryPlan {
  const plan: DirectoryPlan = { node, number: 0, depth, parent: undefined as unknown as DirectoryPlan, identifier, records: [], extent: 0, size: 0 }
  plan.parent = parent ?? plan
  return plan
}

/** A directory's entries, which must be loaded by the time a tree is planned. */
export function loadedEntries (node: Node): readonly Node[] {
  const entries = node.dir?.peek()
  if (entries === undefined) throw new Error(`directory ${pathOf(node)} must be loaded before layout`)
  return entries
}

function existingRelocationDirectory (root: Node): Node | undefined {
  return loadedEntries(root).find(n => (n.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0 && n.names.iso !== undefined)
}

/** A relocation directory for this write only; it is not added to the model. */
function syntheticRelocationDirectory (root: Node, settings: ImageSettings): Node {
  const taken = new Set(loadedEntries(root).map(n => n.names.iso))
  // Named as any directory (genisoimage: ".rr_moved" is _RR_MOVE at level 1), numbered if the name is taken.
  const iso = generateIsoName(settings.relocationDirectory, true, settings.interchangeLevel, id => taken.has(id), undefined, settings.isoNames)
  const inode = new Inode({ mode: S_IFDIR | 0o555, times: root.inode.times, posix: true, nlink: 2, ino: 0xfffffffe })
  const node = new Node(root, { iso, rr: settings.relocationDirectory }, inode, new Directory())
  node.flags |= NodeFlag.RELOCATION_DIRECTORY
  return node
}

/** A node's path for messages, in the names a user sees first (Rock Ridge, else ISO9660, else Joliet). */
export function pathOf (node: Node): string {
  const parts: string[] = []
  for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) parts.push(n.names.rr ?? n.names.iso ?? n.names.joliet ?? '?')
  return '/' + parts.reverse().join('/')
}
