import { InvalidInputError } from '../../errors'
import { Inode, S_IFDIR, S_IFMT, type InodeInit } from '../model/inode'
import { Directory, Node, type Names } from '../model/node'
import { NamespaceView, splitPath, type Namespace } from '../namespace'
import { generateIsoName, validateIsoName } from '../naming/iso9660'
import {
  cutToUnits, jolietNameFor, validateJolietName, validateRockRidgeName, JOLIET_LONG_MAX, JOLIET_MAX
} from '../naming/joliet'
import { validateUdfName } from '../naming/udf'
import { withoutVersion } from '../read/names'
import type { ImageSettings } from '../write/settings'

/** Names a caller may set explicitly, and which trees an entry is in. */
export interface NameOptions {
  /** The ISO9660 identifier ("README.TXT;1"), validated against the interchange level. */
  isoName?: string
  /** The Joliet name. */
  jolietName?: string
  /** The Rock Ridge name. */
  rrName?: string
  /** false: not in the Joliet tree (hidden from Joliet, as pycdlib's rm_hard_link of the Joliet name). */
  joliet?: boolean
  /** false: only in the Joliet tree. */
  iso?: boolean
  /** false: not in the UDF tree (of an image that has one). */
  udf?: boolean
  /**
   * The name is a host file name (mkisofs): no namespace's rules are applied to it as given; each
   * namespace's name is derived from it (ISO9660 generated, Joliet cut to its limit, as genisoimage).
   */
  hostName?: boolean
}

/**
 * Changes to the namespace-neutral tree, addressed by a path in one namespace. Names in the other
 * namespaces follow: an ISO9660 identifier is generated for the level (collisions numbered), a Joliet
 * name derived, so that an entry added or renamed through one namespace appears in all of them.
 */
export class TreeEditor {
  private nextIno = 0xfffffff0
  /** Per directory, where ISO9660 collision numbering resumes for each base name. */
  private readonly isoCounters = new WeakMap<Node, Map<string, number>>()
  /** Where each removed file was: a boot file replaced by name (an editor's save) is followed there. */
  readonly formerPlaces = new WeakMap<Inode, { parent: Node, names: Names }>()

  constructor (private readonly root: Node, private readonly settings: () => ImageSettings) {}

  private view (namespace: Namespace): NamespaceView {
    return new NamespaceView(namespace)
  }

  /** The directory a new path goes into and the new entry's name. */
  async parentOf (path: string, namespace: Namespace): Promise<{ parent: Node, name: string }> {
    const parts = splitPath(path)
    // ".." would make "/a/../b" mean something other than what each namespace's parent links say.
    if (parts.includes('..')) throw new InvalidInputError('BAD_PATH', `"${path}": paths in an image may not contain ".."`)
    const name = parts.pop()
    if (name === undefined) throw new InvalidInputError('BAD_PATH', `"${path}" names the root`)
    const parent = await this.view(namespace).resolve(this.root, '/' + parts.join('/'))
    if (parent.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${parts.join('/')} is not a directory`)
    return { parent, name }
  }

  allocateIno (): number {
    return this.nextIno--
  }

  /** Creates a new entry with a new inode at `path`. */
  async create (path: string, namespace: Namespace, init: Omit<InodeInit, 'ino'>, options: NameOptions = {}): Promise<Node> {
    const { parent, name } = await this.parentOf(path, namespace)
    return await this.createIn(parent, name, namespace, init, options)
  }

  /** Creates a new entry called `name` (in `namespace`) in the directory `parent`. */
  async createIn (parent: Node, name: string, namespace: Namespace, init: Omit<InodeInit, 'ino'>, options: NameOptions = {}): Promise<Node> {
    if (parent.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', 'not a directory')
    const isDirectory = (init.mode & S_IFMT) === S_IFDIR
    const names = await this.namesFor(parent, name, namespace, isDirectory, options)
    const inode = new Inode({ ...init, ino: this.allocateIno(), nlink: isDirectory ? 2 : 1 })
    const node = new Node(parent, names, inode, isDirectory ? new Directory() : undefined)
    await this.attach(parent, node)
    if (isDirectory) parent.inode.nlink++
    return node
  }

  /**
   * A new entry in no directory tree: a file mkisofs -hide and -hide-joliet (or -hide without -J) left
   * out of every tree. genisoimage still writes its data; an El Torito entry may point at it (a hidden
   * boot file boots, as a hidden boot catalog is read), which is all such an inode is good for.
   */
  createDetached (init: Omit<InodeInit, 'ino'>): Node {
    const isDirectory = (init.mode & S_IFMT) === S_IFDIR
    const inode = new Inode({ ...init, ino: this.allocateIno(), nlink: isDirectory ? 2 : 1 })
    return new Node(undefined, {}, inode, isDirectory ? new Directory() : undefined)
  }

  /**
   * The trees a new entry of `parent` joins, given which it is kept out of: only trees its parent is
   * in (an entry below a Joliet-only directory is Joliet-only), and Joliet only when the image has it.
   */
  treesFor (parent: Node, options: Pick<NameOptions, 'iso' | 'joliet' | 'udf'>): { iso: boolean, joliet: boolean, udf: boolean } {
    const parentInIso = parent.names.iso !== undefined
    const parentInJoliet = parent.names.joliet !== undefined && this.settings().joliet !== undefined
    // genisoimage -udf -hide keeps a file in UDF: -hide is about the ISO9660 tree (Windows media are made so).
    const parentInUdf = parent.names.udf !== undefined && this.settings().udf !== undefined
    return { iso: options.iso !== false && parentInIso, joliet: options.joliet !== false && parentInJoliet, udf: options.udf !== false && parentInUdf }
  }

  /** A new name for an existing inode (a hard link), possibly in one namespace's tree only. */
  async link (target: Node, path: string, namespace: Namespace, options: NameOptions = {}): Promise<Node> {
    const { parent, name } = await this.parentOf(path, namespace)
    return await this.linkIn(target, parent, name, namespace, options)
  }

  async linkIn (target: Node, parent: Node, name: string, namespace: Namespace, options: NameOptions = {}): Promise<Node> {
    if (target.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', 'directories cannot be hard-linked')
    const names = await this.namesFor(parent, name, namespace, false, options)
    const node = new Node(parent, names, target.inode)
    await this.attach(parent, node)
    if (names.iso !== undefined) target.inode.nlink++
    return node
  }

  /** Removes one name; a directory must be empty in every namespace. */
  async remove (node: Node): Promise<void> {
    const parent = node.parent
    if (parent?.dir === undefined) throw new InvalidInputError('BAD_PATH', 'the root cannot be removed')
    // The parent's Joliet records must be merged first: merged later, the removed entry's Joliet record
    // would find no node and come back as a Joliet-only entry.
    await parent.dir.complete()
    // Empty in every namespace: Joliet-only entries count too.
    if (node.dir !== undefined && (await node.dir.complete(), (await node.dir.list()).length > 0)) {
      throw new InvalidInputError('NOT_EMPTY', 'directory not empty')
    }
    parent.dir.remove(node)
    node.parent = undefined
    this.formerPlaces.set(node.inode, { parent, names: node.names })
    if (node.isDirectory) parent.inode.nlink = Math.max(2, parent.inode.nlink - 1)
    else if (node.names.iso !== undefined) node.inode.nlink = Math.max(0, node.inode.nlink - 1)
  }

  /**
   * Moves or renames an entry. The name given is its name in `namespace`; its names in the other trees it
   * is in are derived again from it. Replacing an existing target is the caller's decision (POSIX rename
   * replaces, pycdlib refuses), made before calling this.
   */
  async rename (node: Node, path: string, namespace: Namespace): Promise<void> {
    const { parent, name } = await this.parentOf(path, namespace)
    for (let p: Node | undefined = parent; p !== undefined; p = p.parent) {
      if (p === node) throw new InvalidInputError('BAD_ARGUMENT', 'a directory cannot move into itself')
    }
    const oldParent = node.parent
    if (oldParent?.dir === undefined) throw new InvalidInputError('BAD_PATH', 'the root cannot be renamed')
    await oldParent.dir.complete()
    const keep: NameOptions = { iso: node.names.iso !== undefined, joliet: node.names.joliet !== undefined, udf: node.names.udf !== undefined }
    oldParent.dir.remove(node)
    try {
      node.names = await this.namesFor(parent, name, namespace, node.isDirectory, keep)
    } catch (err) {
      oldParent.dir.add(node)
      throw err
    }
    node.parent = parent
    ;(parent.dir as Directory).add(node)
    if (node.isDirectory && parent !== oldParent) {
      oldParent.inode.nlink = Math.max(2, oldParent.inode.nlink - 1)
      parent.inode.nlink++
    }
  }

  private async attach (parent: Node, node: Node): Promise<void> {
    await (parent.dir as Directory).complete()
    ;(parent.dir as Directory).add(node)
  }

  /**
   * Every name an entry called `name` in `namespace` gets in `parent`, checked for collisions in each
   * namespace view (a name taken in any tree the entry joins is EXISTS).
   */
  async namesFor (parent: Node, name: string, namespace: Namespace, isDirectory: boolean, options: NameOptions): Promise<Names> {
    const settings = this.settings()
    // Collisions are checked against every tree, the Joliet names included.
    await parent.dir?.complete()
    const parentInIso = parent.names.iso !== undefined
    const parentInJoliet = parent.names.joliet !== undefined && settings.joliet !== undefined
    const parentInUdf = parent.names.udf !== undefined && settings.udf !== undefined
    const inIso = (options.iso ?? (namespace !== 'joliet' || parentInIso)) && parentInIso
    const inJoliet = (options.joliet ?? parentInJoliet) && parentInJoliet
    const inUdf = options.udf !== false && parentInUdf
    if (namespace === 'joliet' && !parentInJoliet) throw new InvalidInputError('NOT_FOUND', 'the directory is not in the Joliet tree')
    // A directory only UDF names (Windows media: all but the root) takes entries only in UDF.
    if (namespace === 'udf' && !parentInUdf) throw new InvalidInputError('NOT_FOUND', 'the directory is not in the UDF tree')
    if (namespace !== 'joliet' && namespace !== 'udf' && !parentInIso) throw new InvalidInputError('NOT_FOUND', 'the directory is not in the ISO9660 tree')
    if (!inIso && !inJoliet && !inUdf) throw new InvalidInputError('BAD_ARGUMENT', 'an entry must be in the ISO9660, Joliet or UDF tree')
    // The namespace whose rules the given name follows; none for a host name.
    const givenIn = options.hostName === true ? undefined : namespace
    const names: Names = {}
    const taken = async (ns: Namespace, display: string): Promise<boolean> => (await this.view(ns).child(parent, display)) !== undefined

    if (inIso) {
      if (settings.rockRidge !== undefined) {
        names.rr = validateRockRidgeName(options.rrName ?? (givenIn === 'iso9660' ? withoutVersion(name) : name))
        if (await taken('rockridge', names.rr)) throw exists(names.rr)
      }
      if (options.isoName !== undefined || givenIn === 'iso9660') {
        names.iso = validateIsoName(options.isoName ?? name, isDirectory, settings.interchangeLevel)
        if (await taken('iso9660', withoutVersion(names.iso))) throw exists(names.iso)
      } else {
        const isoView = await this.view('iso9660').entries(parent)
        let counters = this.isoCounters.get(parent)
        if (counters === undefined) this.isoCounters.set(parent, counters = new Map())
        names.iso = generateIsoName(name, isDirectory, settings.interchangeLevel, id => isoView.has(withoutVersion(id)), counters, settings.isoNames)
      }
    }
    if (inJoliet && settings.joliet !== undefined) {
      const long = settings.joliet.long
      let joliet: string
      if (options.jolietName !== undefined || givenIn === 'joliet') {
        joliet = validateJolietName(withoutVersion(options.jolietName ?? name), long)
        if (await taken('joliet', joliet)) throw exists(joliet)
      } else {
        const jolietView = await this.view('joliet').entries(parent)
        // An ISO9660 identifier's ";1" is its version, not part of the name (ECMA-119 7.5.1): "FOO.TXT;1" is "FOO.TXT".
        const source = givenIn === 'iso9660' ? withoutVersion(name) : name
        joliet = uniqueJolietName(jolietNameFor(source, long), long, candidate => jolietView.has(candidate))
      }
      names.joliet = joliet
    }
    // The UDF tree (a bridge image's second file system) takes the name as given, or the Rock Ridge one:
    // UDF names are long and case-preserving, as POSIX ones are.
    if (inUdf) {
      const udf = validateUdfName(givenIn === 'udf' ? name : names.rr ?? (givenIn === 'iso9660' ? withoutVersion(name) : name))
      if (await taken('udf', udf)) throw exists(udf)
      names.udf = udf
    }
    return names
  }
}

/**
 * The namespace a child of `parent` is named in when none is given: `fallback` (the image's default) in
 * the ISO9660 tree, else the tree the directory is in (a Joliet-only one, or a UDF-only one of Windows media).
 */
export function namespaceFor (parent: Node, fallback: Namespace): Namespace {
  if (parent.names.iso !== undefined) return fallback
  return parent.names.joliet === undefined && parent.names.udf !== undefined ? 'udf' : 'joliet'
}

function exists (name: string): InvalidInputError {
  return new InvalidInputError('EXISTS', `"${name}" already exists`, { name })
}

/** Two long names cut to the same Joliet name are told apart by a number before the extension. */
function uniqueJolietName (name: string, long: boolean, taken: (name: string) => boolean): string {
  if (!taken(name)) return name
  const max = long ? JOLIET_LONG_MAX : JOLIET_MAX
  const dot = name.lastIndexOf('.')
  // An extension too long to leave room for a number is no extension (the number goes at the end).
  const split = dot > 0 && name.length - dot < max - 8
  const extension = split ? name.slice(dot) : ''
  const stem = split ? name.slice(0, dot) : name
  for (let n = 1; ; n++) {
    const suffix = `~${n}`
    // Lengths in UTF-16 units, the unit of Joliet's limit (see cutToUnits).
    const candidate = cutToUnits(stem, max - extension.length - suffix.length) + suffix + extension
    if (!taken(candidate)) return candidate
  }
}
