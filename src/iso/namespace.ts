import { InvalidInputError } from '../errors'
import { Node, NodeFlag } from './model/node'
import { withoutVersion } from './read/names'

/**
 * The ways to name what is on an image (design notes: views over one tree, not copies), in the order of
 * preference: Rock Ridge (the kernel's rule), then UDF (on Windows media the ISO9660 side holds little
 * more than a README), then Joliet, then plain ISO9660.
 */
export type Namespace = 'rockridge' | 'udf' | 'joliet' | 'iso9660'
export const NAMESPACES: readonly Namespace[] = ['rockridge', 'udf', 'joliet', 'iso9660']

export function parseNamespace (text: string): Namespace {
  const aliases: Record<string, Namespace> = { rockridge: 'rockridge', rr: 'rockridge', udf: 'udf', joliet: 'joliet', iso9660: 'iso9660', iso: 'iso9660' }
  const ns = aliases[text.toLowerCase()]
  if (ns === undefined) throw new InvalidInputError('BAD_ARGUMENT', `unknown namespace "${text}" (rockridge, udf, joliet or iso9660)`)
  return ns
}

export interface ViewOptions {
  /** Leave out entries with the ECMA-119 "existence" (hidden) bit; Linux isofs shows them unless `hide`. */
  hideHidden?: boolean
  /** Show associated files (ECMA-119 9.1.6 bit 2), which Linux isofs hides unless `showassoc`. */
  showAssociated?: boolean
}

/** One namespace's view of the tree: the names it gives nodes, and path lookup by those names. */
export class NamespaceView {
  private readonly key: string
  readonly nameOf: (node: Node) => string | undefined

  constructor (readonly namespace: Namespace, private readonly options: ViewOptions = {}) {
    this.key = `${namespace}:${options.hideHidden === true ? 1 : 0}:${options.showAssociated === true ? 1 : 0}`
    this.nameOf = (node: Node) => this.visible(node) ? safeComponent(this.rawName(node)) : undefined
  }

  /** The entries of a directory in this namespace, name → node, in directory order. */
  async entries (dir: Node): Promise<ReadonlyMap<string, Node>> {
    if (dir.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${this.pathOf(dir)} is not a directory`)
    // Joliet and UDF names are merged into a directory only when something asks for them.
    if (this.namespace === 'joliet' || this.namespace === 'udf') await dir.dir.complete(this.namespace)
    return await dir.dir.index(this.key, this.nameOf)
  }

  async child (dir: Node, name: string): Promise<Node | undefined> {
    return (await this.entries(dir)).get(name)
  }

  /**
   * The node at an absolute path ("/" is the root). `search`, if given, is called with each directory
   * before it is searched (a permission check may throw).
   */
  async resolve (root: Node, path: string, search?: (dir: Node) => void): Promise<Node> {
    let node = root
    for (const component of splitPath(path)) {
      if (node.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${this.pathOf(node)} is not a directory`, { path })
      search?.(node)
      const child = await this.child(node, component)
      if (child === undefined) throw new InvalidInputError('NOT_FOUND', `${path}: no such file or directory`, { path })
      node = child
    }
    return node
  }

  /**
   * The node at `path` if every directory on the way is loaded and indexed in this namespace, found
   * without a promise; undefined otherwise (not loaded, or not there), for `resolve` to find out. A mount
   * answers most lookups this way: `ls -l` of a directory looks up each entry its listing just loaded.
   */
  resolveLoaded (root: Node, path: string): Node | undefined {
    let node = root
    let start = 0
    while (start < path.length) {
      let end = path.indexOf('/', start)
      if (end < 0) end = path.length
      if (end > start && !(end === start + 1 && path.charCodeAt(start) === 0x2e)) {
        const index = node.dir?.readyIndex(this.key, this.completedTree)
        const child = index?.get(path.slice(start, end))
        if (child === undefined) return undefined
        node = child
      }
      start = end + 1
    }
    return node
  }

  /** The tree whose names a directory must have merged before this view can list it. */
  private get completedTree (): string | undefined {
    return this.namespace === 'joliet' || this.namespace === 'udf' ? this.namespace : undefined
  }

  /**
   * The node at `path` with symbolic links followed, inside the image: a relative target from the link's
   * directory, an absolute one from the image's root (as chroot would see it), in every component and the
   * last; at most 40 links, as Linux allows (ELOOP beyond). A target that leaves the image (a ".." above
   * the root stays at the root, as in a chroot) or names nothing there is NOT_FOUND, saying which link.
   */
  async resolveFollowing (root: Node, path: string): Promise<Node> {
    let followed = 0
    const walk = async (start: Node, components: string[], shown: string): Promise<Node> => {
      let node = start
      for (let i = 0; i < components.length; i++) {
        const component = components[i]
        if (component === '..') {
          node = node.parent ?? node
          continue
        }
        if (node.dir === undefined) throw new InvalidInputError('NOT_A_DIRECTORY', `${this.pathOf(node)} is not a directory`, { path: shown })
        const child = await this.child(node, component)
        if (child === undefined) throw new InvalidInputError('NOT_FOUND', `${shown}: no such file or directory`, { path: shown })
        const target = child.inode.symlinkTarget
        if (target === undefined) {
          node = child
          continue
        }
        if (++followed > MAX_SYMLINKS) throw new InvalidInputError('SYMLINK_LOOP', `${shown}: too many levels of symbolic links`, { path: shown })
        try {
          node = await walk(target.startsWith('/') ? root : node, splitTarget(target), shown)
        } catch (err) {
          if (err instanceof InvalidInputError && err.code === 'NOT_FOUND') {
            throw new InvalidInputError('NOT_FOUND', `${this.pathOf(child)} is a symbolic link to ${target}, which is not in the image`, { path: shown })
          }
          throw err
        }
      }
      return node
    }
    return await walk(root, splitTarget(path), path)
  }

  /** The path of a node in this namespace (for messages; "?" for a component the namespace lacks). */
  pathOf (node: Node): string {
    const parts: string[] = []
    for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) parts.push(this.nameOf(n) ?? '?')
    return '/' + parts.reverse().join('/')
  }

  private visible (node: Node): boolean {
    if ((node.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0) return false
    if ((node.flags & NodeFlag.ASSOCIATED) !== 0 && this.options.showAssociated !== true) return false
    if ((node.flags & NodeFlag.HIDDEN) !== 0 && this.options.hideHidden === true) return false
    return true
  }

  private rawName (node: Node): string | undefined {
    const { iso, rr, joliet, udf } = node.names
    switch (this.namespace) {
      case 'rockridge': return iso === undefined ? undefined : rr ?? withoutVersion(iso)
      case 'udf': return udf
      case 'joliet': return joliet === undefined ? undefined : withoutVersion(joliet)
      case 'iso9660': return iso === undefined ? undefined : withoutVersion(iso)
    }
  }
}

/** Linux's limit on symbolic links followed in one lookup (MAXSYMLINKS). */
const MAX_SYMLINKS = 40

/** A link target's components: like a path's, but ".." kept (it means the parent, not a name). */
function splitTarget (target: string): string[] {
  return target.split('/').filter(c => c !== '' && c !== '.')
}

export function splitPath (path: string): string[] {
  return path.split('/').filter(c => c !== '' && c !== '.')
}

/**
 * A name from a damaged or hostile image can be empty, "." or "..", or contain "/" or NUL; none of those
 * can be a path component, and letting one through would let `extract` write outside its destination.
 */
function safeComponent (name: string | undefined): string | undefined {
  if (name === undefined) return undefined
  if (name === '' || name === '.' || name === '..') return name.replace(/^\.{0,2}$/, m => '_'.repeat(m.length + 1))
  return /[/\0]/.test(name) ? name.replace(/[/\0]/g, '_') : name
}
