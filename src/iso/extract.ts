import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InternalError, InvalidInputError } from '../errors'
import type { IsoImage } from './image'
import type { Inode } from './model/inode'
import type { Node } from './model/node'
import { majorOf, minorOf } from './model/stat'
import type { Namespace } from './namespace'
import { decodeName, recordedBytes } from './read/names'

export interface ExtractOptions {
  namespace?: Namespace
  /** Called after each entry with running totals. */
  onProgress?: (progress: { entries: number, bytes: number }) => void
  /** Called for entries that cannot be created here (device nodes when not root). */
  onWarning?: (message: string) => void
}

const COPY_CHUNK = 1024 * 1024
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/** Host paths are bytes: a name the image records in bytes that are not UTF-8 is created with those bytes. */
type HostPath = Buffer

/**
 * Copies the tree at `source` (a directory: its contents; a file: the file itself) into the host directory
 * `dest`, keeping Rock Ridge modes, times, symlinks, fifos, devices (as root) and hard links. Rock Ridge
 * names and symlink targets keep the bytes the image records, UTF-8 or not (read/names.ts).
 *
 * Nothing is ever written outside `dest`: names come from the view, which never yields "", ".", ".." or a
 * name with "/"; and no existing symlink is followed: anything already in the way is replaced, not
 * written through.
 */
export async function extractTree (image: IsoImage, source: string, dest: string, options: ExtractOptions = {}): Promise<{ entries: number, bytes: number }> {
  const view = image.view(options.namespace)
  const start = await view.resolve(image.root, source)
  fs.mkdirSync(dest, { recursive: true })
  const totals = { entries: 0, bytes: 0 }
  const linked = new Map<Inode, HostPath>()
  const directories: Array<{ node: Node, hostPath: HostPath }> = []
  const isRoot = process.getuid?.() === 0
  const destBytes = Buffer.from(dest, 'utf8')
  const show = (p: HostPath): string => decodeName(p)

  /** A node's name on the host: the view's, in the bytes the image recorded it in where they are not UTF-8. */
  const hostName = (node: Node): Buffer => {
    const name = view.nameOf(node) ?? 'file'
    return view.namespace === 'rockridge' && node.names.rr === name ? recordedBytes(node.rrNameBytes, name) : Buffer.from(name, 'utf8')
  }
  const join = (parent: HostPath, node: Node): HostPath => Buffer.concat([parent, SLASH, hostName(node)])

  const extractOne = async (node: Node, hostPath: HostPath): Promise<void> => {
    const inode = node.inode
    const kind = inode.kind
    if (kind === 'directory') {
      makeDirectory(hostPath)
      directories.push({ node, hostPath })
    } else {
      clearWay(hostPath, show)
      const earlier = linked.get(inode)
      if (earlier !== undefined && kind !== 'symlink') {
        fs.linkSync(earlier, hostPath)
      } else {
        if (kind === 'file') totals.bytes += await copyFile(node, hostPath, show)
        else if (kind === 'symlink') fs.symlinkSync(recordedBytes(inode.symlinkTargetBytes, inode.symlinkTarget ?? ''), hostPath)
        else if (!makeSpecial(node, hostPath, isRoot, options, show, dest)) return
        if (inode.nlink > 1) linked.set(inode, hostPath)
        applyAttributes(node, hostPath, isRoot)
      }
    }
    totals.entries++
    options.onProgress?.(totals)
  }

  if (start.isDirectory) {
    // Parents are walked before their children: each child's host path extends its parent's.
    const hostPaths = new Map<Node, HostPath>([[start, destBytes]])
    for await (const { node } of image.walk(source, options.namespace)) {
      const parent = node.parent !== undefined ? hostPaths.get(node.parent) : undefined
      if (parent === undefined) throw new InternalError('extraction met a node before its directory')
      const hostPath = join(parent, node)
      if (node.isDirectory) hostPaths.set(node, hostPath)
      await extractOne(node, hostPath)
    }
    directories.unshift({ node: start, hostPath: destBytes })
  } else {
    await extractOne(start, join(destBytes, start))
  }
  // Directory modes and times last, deepest first: a read-only directory must not block its children,
  // and writing children would change the times.
  for (const { node, hostPath } of directories.reverse()) applyAttributes(node, hostPath, isRoot)
  return totals
}

const SLASH = Buffer.from('/')

function makeDirectory (hostPath: HostPath): void {
  const existing = lstat(hostPath)
  if (existing?.isDirectory() === true) return
  if (existing !== undefined) fs.rmSync(hostPath, { force: true })
  fs.mkdirSync(hostPath, { mode: 0o700 })
}

/** Removes a non-directory in the way; a directory in the way is an error (as tar reports it). */
function clearWay (hostPath: HostPath, show: (p: HostPath) => string): void {
  const existing = lstat(hostPath)
  if (existing === undefined) return
  if (existing.isDirectory()) throw new InvalidInputError('IS_A_DIRECTORY', `${show(hostPath)} exists and is a directory`)
  fs.unlinkSync(hostPath)
}

async function copyFile (node: Node, hostPath: HostPath, show: (p: HostPath) => string): Promise<number> {
  const fd = fs.openSync(hostPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600)
  try {
    const data = node.inode.data
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, data.size)))
    let position = 0
    while (position < data.size) {
      const n = await data.read(buf, 0, Math.min(buf.length, data.size - position), position)
      if (n === 0) throw new Error(`${show(hostPath)}: file data ended early`)
      let written = 0
      while (written < n) written += fs.writeSync(fd, buf, written, n - written, position + written)
      position += n
    }
    return position
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * mkfifo(1) and mknod(1) take their path as an argument, which a child process gets as a string; a node
 * whose path is not UTF-8 is made under a temporary name in the destination (`scratch`, the caller's
 * string, so on the same file system) and renamed into place (rename takes bytes).
 */
function makeSpecial (node: Node, hostPath: HostPath, isRoot: boolean, options: ExtractOptions, show: (p: HostPath) => string, scratch: string): boolean {
  const inode = node.inode
  const mode = (inode.mode & 0o7777).toString(8)
  if (inode.kind === 'socket') {
    options.onWarning?.(`${show(hostPath)}: sockets cannot be extracted; skipped`)
    return false
  }
  if (inode.kind !== 'fifo' && !isRoot) {
    options.onWarning?.(`${show(hostPath)}: device nodes need root; skipped`)
    return false
  }
  const direct = Buffer.from(hostPath.toString('utf8'), 'utf8').equals(hostPath)
  const made = direct ? hostPath.toString('utf8') : path.join(scratch, `.isomount-extract-${process.pid}`)
  const args = inode.kind === 'fifo'
    ? ['mkfifo', ['-m', mode, made]] as const
    : ['mknod', ['-m', mode, made, inode.kind === 'char-device' ? 'c' : 'b', String(majorOf(inode.rdev)), String(minorOf(inode.rdev))]] as const
  spawnSync(args[0], [...args[1]])
  if (!fs.existsSync(made)) return false
  if (!direct) fs.renameSync(made, hostPath)
  return true
}

function applyAttributes (node: Node, hostPath: HostPath, isRoot: boolean): void {
  const inode = node.inode
  const { atimeMs, mtimeMs } = inode.times
  if (inode.kind === 'symlink') {
    if (isRoot && inode.posix) fs.lchownSync(hostPath, inode.uid, inode.gid)
    fs.lutimesSync(hostPath, atimeMs / 1000, mtimeMs / 1000)
    return
  }
  if (isRoot && inode.posix) fs.chownSync(hostPath, inode.uid, inode.gid)
  fs.chmodSync(hostPath, inode.mode & 0o7777)
  fs.utimesSync(hostPath, atimeMs / 1000, mtimeMs / 1000)
}

function lstat (p: HostPath): fs.Stats | undefined {
  try {
    return fs.lstatSync(p)
  } catch {
    return undefined
  }
}
