import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import type { AddOptions, IsoImage } from '../image'
import { HostFileSource } from '../model/host-sources'
import type { FileKind } from '../model/inode'
import type { Node } from '../model/node'
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
  const links = new Map<string, Node>()
  const root = await ensureDirectory(image, target)
  const base = target === '/' ? '' : target.replace(/\/+$/, '')
  const st = fs.lstatSync(hostPath)
  if (!st.isDirectory()) {
    const name = options.as ?? path.basename(hostPath)
    await addOne(image, root, hostPath, name, `${base}/${name}`, st, options, links)
    return 1
  }
  let count = 0
  const stack: Array<{ host: string, image: string, node: Node }> = [{ host: hostPath, image: base, node: root }]
  while (stack.length > 0) {
    const dir = stack.pop() as { host: string, image: string, node: Node }
    const subdirectories: Array<{ host: string, image: string, node: Node }> = []
    for (const name of fs.readdirSync(dir.host).sort()) {
      const host = path.join(dir.host, name)
      if (options.exclude?.(host, name) === true) continue
      const entry = fs.lstatSync(host)
      const imagePath = `${dir.image}/${name}`
      // Without Rock Ridge nothing can record a symlink or a special file; genisoimage leaves them out too.
      if (!entry.isFile() && !entry.isDirectory() && image.extensions.rockRidge === undefined) {
        options.onSkip?.(host, 'symbolic links and special files need Rock Ridge (-R)')
        continue
      }
      const node = await addOne(image, dir.node, host, name, imagePath, entry, options, links)
      options.onEntry?.(++count)
      if (entry.isDirectory()) subdirectories.push({ host, image: imagePath, node })
    }
    for (let i = subdirectories.length - 1; i >= 0; i--) stack.push(subdirectories[i])
  }
  return count
}

async function addOne (
  image: IsoImage, parent: Node, host: string, name: string, imagePath: string, st: fs.Stats, options: ImportOptions, links: Map<string, Node>
): Promise<Node> {
  const add: AddOptions = {
    hostName: true,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: clampedTimeMs(st.mtimeMs),
    atimeMs: clampedTimeMs(st.atimeMs),
    ctimeMs: clampedTimeMs(st.ctimeMs)
  }
  if (options.rationalRock === true) rationalize(add, st)
  if (options.hideFromIso?.(host, imagePath) === true) add.iso = false
  if (options.hideFromJoliet?.(host, imagePath) === true) add.joliet = false
  if (options.hidden?.(host, imagePath) === true) add.hidden = true
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
    const first = st.nlink > 1 ? links.get(key) : undefined
    if (first !== undefined) return await image.linkChild(first, parent, name, { iso: add.iso, joliet: add.joliet, hostName: true })
    const node = await image.addChild(parent, name, 'file', { data: new HostFileSource(host, st.size) }, add)
    if (st.nlink > 1) links.set(key, node)
    return node
  }
  if (st.isSymbolicLink()) return await image.addChild(parent, name, 'symlink', { symlinkTarget: fs.readlinkSync(host) }, add)
  const special: FileKind | undefined = st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'char-device' : st.isBlockDevice() ? 'block-device' : undefined
  if (special === undefined) throw new InvalidInputError('UNSUPPORTED', `${host}: unsupported file type`)
  return await image.addChild(parent, name, special, { rdev: st.rdev }, add)
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
  const namespace = parent.names.iso === undefined ? 'joliet' : image.defaultNamespace
  return (await image.view(namespace).entries(parent)).get(name)
}

async function createDirectory (image: IsoImage, parent: Node, name: string, add: AddOptions): Promise<Node> {
  const node = await image.addChild(parent, name, 'directory', {}, add)
  let map = createdDirectories.get(parent)
  if (map === undefined) createdDirectories.set(parent, map = new Map())
  map.set(name, node)
  return node
}

/** Creates the target directory and its parents (graft points may name new ones). */
async function ensureDirectory (image: IsoImage, target: string): Promise<Node> {
  let node = image.root
  for (const part of target.split('/').filter(p => p !== '')) {
    const existing = await existingChild(image, node, part)
    if (existing !== undefined && !existing.isDirectory) throw new InvalidInputError('EXISTS', `${part} exists and is not a directory`)
    node = existing ?? await createDirectory(image, node, part, {})
  }
  return node
}
