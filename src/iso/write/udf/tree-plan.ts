import { InvalidInputError } from '../../../errors'
import { fidLength } from '../../codec/udf/file-identifier'
import { FileType } from '../../codec/udf/icb'
import { SECTOR_SIZE } from '../../codec/volume-descriptor'
import type { Inode } from '../../model/inode'
import { NodeFlag, type Node } from '../../model/node'
import { udfIdentifierOf } from '../../naming/udf'
import { loadedEntries } from '../tree-plan'

/*
 * The UDF tree a written image records (ECMA-167 part 4): one file entry per inode (hard links are
 * several identifiers of one entry, 4/14.9.6), and per directory its file identifier descriptors, the
 * parent's first (4/8.6). It is a tree of its own over the same inodes as the ECMA-119 trees: a node is
 * in it when it has a UDF name (model/node.ts Names.udf), and its file data is the data the other trees
 * point at, so the bridge image holds every file once.
 */

/** UDF 3.2.1.1: unique IDs 1-15 are reserved; the root's is 0, every other entry's from 16 up. */
export const FIRST_UNIQUE_ID = 16

export interface UdfEntryPlan {
  inode: Inode
  fileType: number
  uniqueId: number
  /** The identifiers naming it (4/14.9.6): a directory's parent identifier in each subdirectory counts too. */
  links: number
  directory?: UdfDirectoryPlan
  /** Filled in by placement: the entry's block in the partition. */
  block: number
}

export interface UdfChild {
  node: Node
  identifier: Buffer
  entry: UdfEntryPlan
}

export interface UdfDirectoryPlan {
  node: Node
  entry: UdfEntryPlan
  parent: UdfDirectoryPlan
  children: UdfChild[]
  /** Bytes of its identifiers, the parent's included. */
  size: number
  /** Filled in by placement: the first block of its identifiers. */
  dataBlock: number
}

export interface UdfTreePlan {
  root: UdfDirectoryPlan
  /** Breadth first, the root first. */
  directories: UdfDirectoryPlan[]
  /** Every entry (directories' included) once, in the order they are placed. */
  entries: UdfEntryPlan[]
  files: number
  nextUniqueId: number
}

/** The UDF tree of `root`: every node with a UDF name, below the root. */
export function planUdfTree (root: Node): UdfTreePlan {
  const entries: UdfEntryPlan[] = []
  const byInode = new Map<Inode, UdfEntryPlan>()
  let nextUniqueId = FIRST_UNIQUE_ID
  const entryFor = (node: Node, fileType: number): UdfEntryPlan => {
    const known = byInode.get(node.inode)
    if (known !== undefined) return known
    const entry: UdfEntryPlan = { inode: node.inode, fileType, uniqueId: node === root ? 0 : nextUniqueId++, links: 0, block: 0 }
    byInode.set(node.inode, entry)
    entries.push(entry)
    return entry
  }
  const newDirectory = (node: Node, parent: UdfDirectoryPlan | undefined): UdfDirectoryPlan => {
    const entry = entryFor(node, FileType.DIRECTORY)
    const dir: UdfDirectoryPlan = { node, entry, parent: undefined as unknown as UdfDirectoryPlan, children: [], size: fidLength(0, 0), dataBlock: 0 }
    dir.parent = parent ?? dir
    entry.directory = dir
    // The parent identifier of its own data names its parent; a directory's entry counts it (4/14.9.6).
    entry.links = 1
    return dir
  }
  const rootPlan = newDirectory(root, undefined)
  const directories = [rootPlan]
  let files = 0
  for (let i = 0; i < directories.length; i++) {
    const dir = directories[i]
    for (const child of loadedEntries(dir.node)) {
      const name = child.names.udf
      if (name === undefined || (child.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0) continue
      const identifier = udfIdentifierOf(name)
      const fileType = fileTypeOf(child)
      if (child.isDirectory) {
        const sub = newDirectory(child, dir)
        dir.entry.links++
        directories.push(sub)
        dir.children.push({ node: child, identifier, entry: sub.entry })
      } else {
        const entry = entryFor(child, fileType)
        if (entry.links === 0) files++
        entry.links++
        dir.children.push({ node: child, identifier, entry })
      }
      dir.size += fidLength(0, identifier.length)
    }
    // No order is required (4/8.6); byte order of the names keeps a written image reproducible.
    dir.children.sort((a, b) => Buffer.compare(a.identifier, b.identifier))
  }
  for (const dir of directories) {
    if (dir.size > MAX_DIRECTORY_BYTES) {
      throw new InvalidInputError('TOO_LARGE', `a UDF directory of ${dir.size} bytes of identifiers is more than this writer records`)
    }
  }
  return { root: rootPlan, directories, entries, files, nextUniqueId }
}

/** Directory data is recorded in one extent, whose length (30 bits) must fit a short allocation descriptor. */
const MAX_DIRECTORY_BYTES = 0x3ffff800

/** Blocks an entry's data takes besides the entry itself: a directory's identifiers. */
export function directoryBlocks (dir: UdfDirectoryPlan): number {
  return Math.ceil(dir.size / SECTOR_SIZE)
}

function fileTypeOf (node: Node): number {
  switch (node.inode.kind) {
    case 'directory': return FileType.DIRECTORY
    case 'file': return FileType.FILE
    // Symbolic links, fifos, sockets and devices are empty files here, as genisoimage -udf records them:
    // 7-Zip (and so Windows users' usual tool) refuses a whole UDF volume that holds a file entry of type
    // 12 ("Unsupported feature", tried on pycdlib's symlinks too), and their nature is in Rock Ridge.
    default: return FileType.FILE
  }
}
