import type { SuspEntry } from '../codec/susp'
import type { Inode } from './inode'

/**
 * The names one entry has in each namespace. `iso` is the ISO9660 identifier as recorded ("README.TXT;1"),
 * `rr` the Rock Ridge name, `joliet` the Joliet identifier, `udf` the name in the UDF file system. An
 * absent `iso`, `joliet` or `udf` means the entry is not in that directory tree at all (a file can be
 * hidden from Joliet only, or exist only in Joliet, or only in UDF as on Windows install media).
 */
export interface Names {
  iso?: string
  rr?: string
  joliet?: string
  udf?: string
}

/** Where an entry's records were read from: lets a commit rewrite them in place. */
export interface RecordLocation {
  lba: number
  offset: number
  length: number
}

/**
 * Where an entry of the UDF tree was read: its file identifier descriptor (as an absolute 2048-byte
 * sector, offset and length, like a directory record's) and its file entry (the block of its partition
 * the prevailing entry is in, and that block's absolute byte position).
 */
export interface UdfRecordLocation {
  /** None for the root, which the file set descriptor names. */
  fid?: RecordLocation
  entry: { partition: number, block: number, position: number }
}

export interface Origin {
  iso?: RecordLocation
  joliet?: RecordLocation
  udf?: UdfRecordLocation
}

/** Where a directory's records lie in one tree: the extent (after any extended attribute record) and its size in bytes. */
export interface DirectoryExtent {
  extent: number
  size: number
}

/** A directory's places in the image, per tree: learned as it (or its parent, for Joliet) is read; moved by a commit. */
export interface DirectoryExtents {
  iso?: DirectoryExtent
  joliet?: DirectoryExtent
}

/** Flags of a node: ECMA-119 9.1.6 bits the views honour, and bits of our own above the record's byte. */
export const NodeFlag = {
  HIDDEN: 0x01,
  ASSOCIATED: 0x04,
  /** The Rock Ridge relocation directory (rr_moved): an artifact of RRIP 4.1.5, hidden from every view. */
  RELOCATION_DIRECTORY: 0x100
} as const

/** An entry in the namespace-neutral tree: names, a parent, and the inode it names. */
export class Node {
  parent: Node | undefined
  names: Names
  readonly inode: Inode
  /** NodeFlag bits. */
  flags: number
  readonly dir: Directory | undefined
  origin?: Origin
  /** SUSP entries this code does not interpret (AAIP "AL", Amiga "AS", …), written back unchanged. */
  foreignSystemUse?: SuspEntry[]
  /** The Rock Ridge name's bytes as recorded, where they are not UTF-8 (read/names.ts recordedBytes). */
  rrNameBytes?: Buffer

  constructor (parent: Node | undefined, names: Names, inode: Inode, dir?: Directory, flags = 0) {
    this.parent = parent
    this.names = names
    this.inode = inode
    this.dir = dir
    this.flags = flags
  }

  get isDirectory (): boolean {
    return this.dir !== undefined
  }
}

/** ECMA-119 6.8.2.1 levels: the root is the first. */
export function depthOf (node: Node): number {
  let depth = 1
  for (let n = node.parent; n !== undefined; n = n.parent) depth++
  return depth
}

type NameOf = (node: Node) => string | undefined

interface NameIndex {
  nameOf: NameOf
  map: Map<string, Node>
  /** Some name was held by two entries (damaged images only): a removal must then rebuild the index. */
  shadowed: boolean
}

/**
 * A directory's entries, loaded on first use: opening an image parses the root only, and a directory is
 * read from the image the first time someone looks into it. Entries keep insertion order in a Set and the
 * per-namespace name indexes are kept up to date on each change, so that adding, removing and looking up
 * are O(1) whatever the directory's size.
 */
/** What completes a directory with one more tree's names (Joliet, UDF), run once when first needed. */
export type Completers = Record<string, () => Promise<void>>

export class Directory {
  /** Where the image holds this directory, per tree; undefined for a directory an edit made. */
  extents?: DirectoryExtents
  /**
   * What was irregular in reading it (its records, their Rock Ridge entries, its Joliet twin): a commit
   * neither rewrites it nor patches its records then (the bytes it would write could lose what was skipped).
   */
  irregularities?: string[]
  private entries?: Set<Node>
  private listed?: readonly Node[]
  private loading?: Promise<void>
  private readonly completing = new Map<string, Promise<void>>()
  private readonly indexes = new Map<string, NameIndex>()

  /**
   * `loader` reads the directory's entries; `completers`, if any, add what only some uses need, one per
   * tree (the image's Joliet names, its UDF names: a Rock Ridge walk never pays for them).
   */
  constructor (private loader?: () => Promise<Node[]>, private completers?: Completers) {
    if (loader === undefined) this.entries = new Set()
  }

  /**
   * Loads the directory and runs the completer of `tree` once (its names merged in, the entries only it
   * has added); every completer when no tree is named (an edit or a write needs all the names).
   */
  async complete (tree?: string): Promise<void> {
    await this.load()
    if (this.completers === undefined) return
    const trees = tree === undefined ? Object.keys(this.completers) : [tree]
    for (const name of trees) {
      const completer = this.completers?.[name]
      if (completer === undefined) continue
      let running = this.completing.get(name)
      if (running === undefined) {
        running = completer().then(() => {
          if (this.completers !== undefined) delete this.completers[name]
          this.completing.delete(name)
        }, err => {
          this.completing.delete(name)
          throw err
        })
        this.completing.set(name, running)
      }
      await running
    }
  }

  get loaded (): boolean {
    return this.entries !== undefined
  }

  async list (): Promise<readonly Node[]> {
    await this.load()
    return this.snapshot()
  }

  /** Reads the directory from the image if it has not been yet. */
  async load (): Promise<void> {
    if (this.entries !== undefined) return
    if (this.loading === undefined) {
      const loader = this.loader as () => Promise<Node[]>
      this.loading = loader().then(entries => {
        this.entries = new Set(entries)
        this.loader = undefined
        this.loading = undefined
      }, err => {
        // A failed load (an unreadable sector) may be retried on the next access.
        this.loading = undefined
        throw err
      })
    }
    await this.loading
  }

  /** Entries if loaded, without loading. */
  peek (): readonly Node[] | undefined {
    return this.entries === undefined ? undefined : this.snapshot()
  }

  /**
   * A name → entry map for one namespace, built on first use. `nameOf` gives an entry's name in the
   * namespace (undefined: not in it); the first entry with a name wins.
   */
  async index (key: string, nameOf: NameOf): Promise<ReadonlyMap<string, Node>> {
    const cached = this.indexes.get(key)
    if (cached !== undefined) return cached.map
    await this.load()
    const index: NameIndex = { nameOf, map: new Map(), shadowed: false }
    for (const node of this.entries as Set<Node>) indexNode(index, node)
    this.indexes.set(key, index)
    return index.map
  }

  /**
   * The index `index` built for `key`, if it is built and every completer `trees` names has run: what a
   * lookup of an entry already seen needs, without a promise.
   */
  readyIndex (key: string, tree?: string): ReadonlyMap<string, Node> | undefined {
    if (tree !== undefined && this.completers?.[tree] !== undefined) return undefined
    return this.indexes.get(key)?.map
  }

  add (node: Node): void {
    this.loadedEntries().add(node)
    this.listed = undefined
    for (const index of this.indexes.values()) indexNode(index, node)
  }

  /** Removes an entry; to rename one, remove it, change its names, and add it back. */
  remove (node: Node): void {
    this.loadedEntries().delete(node)
    this.listed = undefined
    for (const [key, index] of this.indexes) {
      const name = index.nameOf(node)
      if (name === undefined || index.map.get(name) !== node) continue
      index.map.delete(name)
      if (index.shadowed) this.indexes.delete(key)
    }
  }

  private snapshot (): readonly Node[] {
    if (this.listed === undefined) this.listed = [...(this.entries as Set<Node>)]
    return this.listed
  }

  private loadedEntries (): Set<Node> {
    if (this.entries === undefined) throw new Error('directory changed before it was loaded')
    return this.entries
  }
}

function indexNode (index: NameIndex, node: Node): void {
  const name = index.nameOf(node)
  if (name === undefined) return
  if (index.map.has(name)) index.shadowed = true
  else index.map.set(name, node)
}
