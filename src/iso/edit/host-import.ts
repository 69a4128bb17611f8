import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import type { AddOptions, IsoImage } from '../image'
import { HostFileSource } from '../model/host-sources'
import type { FileKind } from '../model/inode'
import type { Node } from '../model/node'
import { namespaceFor } from './tree-editor'
import { clampedTimeMs } from '../write/settings'

export interface ImportOptions {
  /** Skip entries whose name or host path matches (mkisofs -m, -x, -exclude-list). */
  exclude?: (hostPath: string, name: string) => boolean
  /** Leave entries out of the ISO9660/Rock Ridge tree (mkisofs -hide): they are Joliet-only. */
  hideFromIso?: (hostPath: string, imagePath: string) => boolean
  /** Leave entries out of the Joliet tree (mkisofs -hide-joliet). */
  hideFromJoliet?: (hostPath: string, imagePath: string) => boolean
  /** Set the ECMA-119 hidden bit (mkisofs -hidden). */
  hidden?: (hostPath: string, imagePath: string) => boolean
  /** mkisofs -r: owner 0, everything readable, execute bits spread, write and special bits cleared. */
  rationalRock?: boolean
  /**
   * Attributes of directories no host directory stands for: the parents a graft point names. Default:
   * the library's (0755, owner 0, now).
   */
  syntheticDirectory?: Pick<AddOptions, 'mode' | 'uid' | 'gid' | 'mtimeMs'>
  /**
   * A source directory gives the image directory it is imported into its mode, owner and times: the
   * root the first time (genisoimage and xorriso take the root's from the first source directory grafted
   * onto it), any other target directory when this import creates it (`-graft-points x/y=dir`: y is dir).
   * Default false: target directories keep what they have.
   */
  attributesFromSource?: boolean
  /**
   * Image paths in host names ("/isolinux/isolinux.bin") whose files `fileAt` should find afterwards
   * (mkisofs -b): found by the names the files have on the host, whatever their names in the image, and
   * whether or not any tree shows them.
   */
  remember?: Iterable<string>
  /** Follow symbolic links (mkisofs -f): import what they point at instead of the links. */
  followLinks?: boolean
  /**
   * An entry already in the image where a non-directory is imported is replaced (cp over an existing
   * file); default: it is an error (EXISTS). Directories are always merged.
   */
  replace?: boolean
  /** Hard links share one inode and one copy of the data (default); false: each name its own copy (mkisofs -no-cache-inodes). */
  findHardLinks?: boolean
  /**
   * What every entry records instead of what the host has (mkisofs -uid, -gid, -file-mode for regular
   * files, -dir-mode for directories), applied after rationalRock.
   */
  overrides?: { uid?: number, gid?: number, fileMode?: number, dirMode?: number }
  /** When importing a single file: its name in the image (default: its host name). */
  as?: string
  onEntry?: (count: number) => void
  /** Told of each entry left out (a symlink or special file in an image without Rock Ridge). */
  onSkip?: (hostPath: string, reason: string) => void
}

/**
 * Adds a host file or directory tree into the image directory `target` (created if missing): a directory's
 * contents go into it, a file goes into it under its own name. Keeps modes, owners, times, symlinks,
 * special files and hard links. Entries come in name order, so the same tree gives the same image.
 * Works on nodes, not paths: an entry hidden from one tree still gets its children.
 */
export async function importHostTree (image: IsoImage, hostPath: string, target: string, options: ImportOptions = {}): Promise<number> {
  return await new HostImport(image, options).add(hostPath, target, options.as)
}

/**
 * One import run over several sources (mkisofs's PATH arguments): hard links are found across all of
 * them (genisoimage shares one extent between `a.txt` and `b.txt` given as two arguments when they are one
 * inode), and files left out of every tree are remembered by image path for El Torito to find.
 */
export class HostImport {
  private readonly links = new Map<string, Node>()
  private readonly hostNames = new WeakMap<Node, string>()
  /** The files of `options.remember`, as they are imported. */
  private readonly remembered = new Map<string, Node | undefined>()
  private rootTaken = false

  constructor (private readonly image: IsoImage, private readonly options: ImportOptions = {}) {
    for (const p of options.remember ?? []) this.remembered.set(normalize(p), undefined)
  }

  /**
   * A file named in `options.remember`, by its path in host names: genisoimage looks boot files up that
   * way, among every entry it read, hidden ones included (tree.c search_tree_file compares host names).
   * In an image without Rock Ridge or Joliet no view knows those names ("isolinux" is ISOLINUX there).
   */
  fileAt (imagePath: string): Node | undefined {
    return this.remembered.get(normalize(imagePath))
  }

  /** A directory by its path in host names (see fileAt), if a tree shows it. */
  async directoryAt (imagePath: string): Promise<Node | undefined> {
    let node: Node | undefined = this.image.root
    for (const part of normalize(imagePath).split('/').filter(p => p !== '')) {
      node = await existingChild(this.image, node, part)
      if (node === undefined || !node.isDirectory) return undefined
    }
    return node
  }

  private remember (imagePath: string, node: Node): void {
    if (this.remembered.has(imagePath)) this.remembered.set(imagePath, node)
  }

  /** Imports `hostPath` into the image directory `target`; `as` renames a single file. */
  async add (hostPath: string, target: string, as?: string): Promise<number> {
    const image = this.image
    const options = this.options
    const { node: root, created } = await this.ensureDirectory(target)
    const base = target === '/' ? '' : target.replace(/\/+$/, '')
    const st = this.statSource(hostPath)
    if (!st.isDirectory()) {
      const name = as ?? path.basename(hostPath)
      await this.addOne(root, hostPath, name, `${base}/${name}`, st)
      return 1
    }
    const isRoot = root === image.root
    if (options.attributesFromSource === true && ((isRoot && !this.rootTaken) || (!isRoot && created))) {
      if (isRoot) this.rootTaken = true
      const add = this.attributesOf(st)
      image.setNodeAttributes(root, { mode: add.mode, uid: add.uid, gid: add.gid, mtimeMs: add.mtimeMs, atimeMs: add.atimeMs, ctimeMs: add.ctimeMs })
    }
    return await this.addContents(hostPath, base, root)
  }

  /**
   * Imports `hostPath` as the entry `name` of the image directory `parent` (cp -a's "SOURCE DEST"): a
   * file becomes that entry; a directory becomes that directory (with the host directory's attributes),
   * or is merged into it if it exists, its contents imported. `imagePath` is where that is (what
   * -hide-style matchers and `remember` see).
   */
  async addAs (hostPath: string, parent: Node, name: string, imagePath: string): Promise<number> {
    const st = this.statSource(hostPath)
    if (!st.isDirectory()) {
      await this.addOne(parent, hostPath, name, imagePath, st)
      return 1
    }
    const existing = await existingChild(this.image, parent, name)
    if (existing !== undefined && !existing.isDirectory) throw new InvalidInputError('EXISTS', `${imagePath} exists and is not a directory`)
    const dir = existing ?? await createDirectory(this.image, parent, name, this.attributesOf(st))
    this.hostNames.set(dir, name)
    return 1 + await this.addContents(hostPath, imagePath, dir)
  }

  /** The contents of the host directory `hostPath`, recursively, into the image directory `root`. */
  private async addContents (hostPath: string, base: string, root: Node): Promise<number> {
    const image = this.image
    const options = this.options
    let count = 0
    interface Pending { host: string, image: string, node: Node, ancestors: string[] }
    const key = (st: fs.Stats): string => `${st.dev}:${st.ino}`
    const stack: Pending[] = [{ host: hostPath, image: base, node: root, ancestors: [key(fs.statSync(hostPath))] }]
    while (stack.length > 0) {
      const dir = stack.pop() as Pending
      const subdirectories: Pending[] = []
      for (const name of fs.readdirSync(dir.host).sort()) {
        // Spelled as the source argument spells it ("./src/a"): -hide and -m globs match that, as genisoimage's do.
        const host = dir.host.endsWith('/') ? dir.host + name : `${dir.host}/${name}`
        if (options.exclude?.(host, name) === true) continue
        const entry = this.statSource(host)
        const imagePath = `${dir.image}/${name}`
        // Without Rock Ridge nothing can record a symlink or a special file; genisoimage leaves them out too.
        if (!entry.isFile() && !entry.isDirectory() && image.extensions.rockRidge === undefined) {
          options.onSkip?.(host, 'symbolic links and special files need Rock Ridge (-R)')
          continue
        }
        // Followed links can lead back up the tree (a link to "..") : that directory is not entered again.
        if (entry.isDirectory() && dir.ancestors.includes(key(entry))) {
          options.onSkip?.(host, 'a symbolic link to a directory it is in (a loop)')
          continue
        }
        const node = await this.addOne(dir.node, host, name, imagePath, entry)
        options.onEntry?.(++count)
        if (entry.isDirectory()) subdirectories.push({ host, image: imagePath, node, ancestors: [...dir.ancestors, key(entry)] })
      }
      for (let i = subdirectories.length - 1; i >= 0; i--) stack.push(subdirectories[i])
    }
    return count
  }

  /**
   * lstat, or stat with `followLinks` (mkisofs -f): a link then stands for what it points at; one that
   * points nowhere stays a link rather than failing the import.
   */
  private statSource (host: string): fs.Stats {
    const st = fs.lstatSync(host)
    if (this.options.followLinks !== true || !st.isSymbolicLink()) return st
    try {
      return fs.statSync(host)
    } catch {
      return st
    }
  }

  private attributesOf (st: fs.Stats): AddOptions {
    const add: AddOptions = {
      hostName: true,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      // Whole seconds, as genisoimage and xorriso record host times (the short TF form every reader knows).
      mtimeMs: clampedTimeMs(wholeSeconds(st.mtimeMs)),
      atimeMs: clampedTimeMs(wholeSeconds(st.atimeMs)),
      ctimeMs: clampedTimeMs(wholeSeconds(st.ctimeMs))
    }
    if (this.options.rationalRock === true) rationalize(add, st)
    const overrides = this.options.overrides
    if (overrides !== undefined) {
      if (overrides.uid !== undefined) add.uid = overrides.uid
      if (overrides.gid !== undefined) add.gid = overrides.gid
      if (overrides.fileMode !== undefined && st.isFile()) add.mode = overrides.fileMode
      if (overrides.dirMode !== undefined && st.isDirectory()) add.mode = overrides.dirMode
      // genisoimage: with -file-mode or -dir-mode, what is neither (a symlink) gets -r's mode (0777: 0555).
      if ((overrides.fileMode !== undefined || overrides.dirMode !== undefined) && !st.isFile() && !st.isDirectory() && this.options.rationalRock !== true) {
        const { uid, gid } = add
        rationalize(add, st)
        Object.assign(add, { uid, gid })
      }
    }
    return add
  }

  /** The name a node was imported under (what a translation table lists where no tree keeps it). */
  hostNameOf (node: Node): string | undefined {
    return this.hostNames.get(node)
  }

  private async addOne (parent: Node, host: string, name: string, imagePath: string, st: fs.Stats): Promise<Node> {
    const node = await this.addEntry(parent, host, name, imagePath, st)
    this.hostNames.set(node, name)
    return node
  }

  private async addEntry (parent: Node, host: string, name: string, imagePath: string, st: fs.Stats): Promise<Node> {
    const image = this.image
    const options = this.options
    const add = this.attributesOf(st)
    if (options.hideFromIso?.(host, imagePath) === true) add.iso = false
    if (options.hideFromJoliet?.(host, imagePath) === true) add.joliet = false
    if (options.hidden?.(host, imagePath) === true) add.hidden = true
    const trees = image.edits.tree.treesFor(parent, add)
    if (!trees.iso && !trees.joliet && !trees.udf) return this.addDetached(host, imagePath, st, add)
    if (options.replace === true && !st.isDirectory()) {
      const existing = await existingChild(image, parent, name)
      if (existing?.isDirectory === true) throw new InvalidInputError('IS_A_DIRECTORY', `${imagePath} exists and is a directory`)
      if (existing !== undefined) await image.removeNode(existing)
    }
    if (st.isDirectory()) {
      const existing = await existingChild(image, parent, name)
      if (existing !== undefined) {
        if (!existing.isDirectory) throw new InvalidInputError('EXISTS', `${imagePath} exists and is not a directory`)
        return existing
      }
      return await createDirectory(image, parent, name, add)
    }
    if (st.isFile()) {
      // Hard links share one inode (and one copy of the data) in the image too.
      const key = `${st.dev}:${st.ino}`
      const first = st.nlink > 1 && options.findHardLinks !== false ? this.links.get(key) : undefined
      let node: Node
      if (first !== undefined) node = await image.linkChild(first, parent, name, { iso: add.iso, joliet: add.joliet, hostName: true })
      else node = await image.addChild(parent, name, 'file', { data: new HostFileSource(host, st.size) }, add)
      if (first === undefined && st.nlink > 1) this.links.set(key, node)
      this.remember(imagePath, node)
      return node
    }
    if (st.isSymbolicLink()) return await image.addChild(parent, name, 'symlink', { symlinkTarget: fs.readlinkSync(host) }, add)
    const special = specialKind(st)
    if (special === undefined) throw new InvalidInputError('UNSUPPORTED', `${host}: unsupported file type`)
    return await image.addChild(parent, name, special, { rdev: st.rdev }, add)
  }

  /**
   * An entry hidden from every tree it could be in (mkisofs -hide and -hide-joliet, or -hide without -J).
   * genisoimage writes such a file's data with no directory record pointing at it; we keep the file only
   * for El Torito (a hidden boot file still boots) and write its data only if a boot entry points at it.
   * A directory's contents are hidden with it (genisoimage: "the contents of that directory will be
   * hidden"): its files are remembered the same way.
   */
  private addDetached (host: string, imagePath: string, st: fs.Stats, add: AddOptions): Node {
    const edits = this.image.edits
    if (st.isDirectory()) return edits.addDetached('directory', {}, add)
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`
      const node = (st.nlink > 1 ? this.links.get(key) : undefined) ?? edits.addDetached('file', { data: new HostFileSource(host, st.size) }, add)
      if (st.nlink > 1 && !this.links.has(key)) this.links.set(key, node)
      this.remember(imagePath, node)
      return node
    }
    // A symlink or special file in no tree has nothing anyone could use.
    return edits.addDetached(specialKind(st) ?? 'symlink', {}, add)
  }

  /** Creates the target directory and its parents (graft points may name new ones). */
  private async ensureDirectory (target: string): Promise<{ node: Node, created: boolean }> {
    const image = this.image
    let node = image.root
    let created = false
    for (const part of target.split('/').filter(p => p !== '')) {
      const existing = await existingChild(image, node, part)
      if (existing !== undefined && !existing.isDirectory) throw new InvalidInputError('EXISTS', `${part} exists and is not a directory`)
      created = existing === undefined
      node = existing ?? await createDirectory(image, node, part, { ...this.options.syntheticDirectory })
      this.hostNames.set(node, part)
    }
    return { node, created }
  }
}

function normalize (imagePath: string): string {
  return '/' + imagePath.split('/').filter(p => p !== '' && p !== '.').join('/')
}

function specialKind (st: fs.Stats): FileKind | undefined {
  return st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'char-device' : st.isBlockDevice() ? 'block-device' : undefined
}

/** mkisofs -r (man page, "-r"): sane permissions for a read-only medium shared by everyone. */
function rationalize (add: AddOptions, st: fs.Stats): void {
  let mode = (add.mode ?? 0) | 0o444
  if (st.isDirectory() || (mode & 0o111) !== 0) mode |= 0o111
  mode &= ~0o222
  mode &= ~0o7000
  add.mode = mode
  add.uid = 0
  add.gid = 0
}

/**
 * Directories created under a host name, per parent: where the image has neither Rock Ridge nor Joliet,
 * the names a lookup sees are generated ISO9660 ones ("BOOT" for "boot"), so merging a second source
 * into the same directory must remember which host name it came from.
 */
const createdDirectories = new WeakMap<Node, Map<string, Node>>()

/** The entry `name` would become, if it exists already. */
async function existingChild (image: IsoImage, parent: Node, name: string): Promise<Node | undefined> {
  const created = createdDirectories.get(parent)?.get(name)
  if (created !== undefined) return created
  const namespace = namespaceFor(parent, image.defaultNamespace)
  return (await image.view(namespace).entries(parent)).get(name)
}

async function createDirectory (image: IsoImage, parent: Node, name: string, add: AddOptions): Promise<Node> {
  const node = await image.addChild(parent, name, 'directory', {}, add)
  let map = createdDirectories.get(parent)
  if (map === undefined) createdDirectories.set(parent, map = new Map())
  map.set(name, node)
  return node
}

function wholeSeconds (ms: number): number {
  return Math.floor(ms / 1000) * 1000
}
