import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import type { IsoImage } from './image'
import type { Inode } from './model/inode'
import type { Node } from './model/node'
import { majorOf, minorOf } from './model/stat'
import type { Namespace } from './namespace'

export interface ExtractOptions {
  namespace?: Namespace
  /** Called after each entry with running totals. */
  onProgress?: (progress: { entries: number, bytes: number }) => void
  /** Called for entries that cannot be created here (device nodes when not root). */
  onWarning?: (message: string) => void
}

const COPY_CHUNK = 1024 * 1024
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/**
 * Copies the tree at `source` (a directory: its contents; a file: the file itself) into the host directory
 * `dest`, keeping Rock Ridge modes, times, symlinks, fifos, devices (as root) and hard links.
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
  const linked = new Map<Inode, string>()
  const directories: Array<{ node: Node, hostPath: string }> = []
  const isRoot = process.getuid?.() === 0

  const extractOne = async (node: Node, hostPath: string): Promise<void> => {
    const inode = node.inode
    const kind = inode.kind
    if (kind === 'directory') {
      makeDirectory(hostPath)
      directories.push({ node, hostPath })
    } else {
      clearWay(hostPath)
      const earlier = linked.get(inode)
      if (earlier !== undefined && kind !== 'symlink') {
        fs.linkSync(earlier, hostPath)
      } else {
        if (kind === 'file') totals.bytes += await copyFile(node, hostPath)
        else if (kind === 'symlink') fs.symlinkSync(inode.symlinkTarget ?? '', hostPath)
        else if (!makeSpecial(node, hostPath, isRoot, options)) return
        if (inode.nlink > 1) linked.set(inode, hostPath)
        applyAttributes(node, hostPath, isRoot)
      }
    }
    totals.entries++
    options.onProgress?.(totals)
  }

  if (start.isDirectory) {
    for await (const { path: entryPath, node } of image.walk(source, options.namespace)) {
      const relative = entryPath.slice(source === '/' ? 0 : source.replace(/\/+$/, '').length)
      await extractOne(node, path.join(dest, ...relative.split('/').filter(c => c !== '')))
    }
    directories.unshift({ node: start, hostPath: dest })
  } else {
    await extractOne(start, path.join(dest, view.nameOf(start) ?? 'file'))
  }
  // Directory modes and times last, deepest first: a read-only directory must not block its children,
  // and writing children would change the times.
  for (const { node, hostPath } of directories.reverse()) applyAttributes(node, hostPath, isRoot)
  return totals
}

function makeDirectory (hostPath: string): void {
  const existing = lstat(hostPath)
  if (existing?.isDirectory() === true) return
  if (existing !== undefined) fs.rmSync(hostPath, { force: true })
  fs.mkdirSync(hostPath, { mode: 0o700 })
}

/** Removes a non-directory in the way; a directory in the way is an error (as tar reports it). */
function clearWay (hostPath: string): void {
  const existing = lstat(hostPath)
  if (existing === undefined) return
  if (existing.isDirectory()) throw new InvalidInputError('IS_A_DIRECTORY', `${hostPath} exists and is a directory`)
  fs.unlinkSync(hostPath)
}

async function copyFile (node: Node, hostPath: string): Promise<number> {
  const fd = fs.openSync(hostPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600)
  try {
    const data = node.inode.data
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, data.size)))
    let position = 0
    while (position < data.size) {
      const n = await data.read(buf, 0, Math.min(buf.length, data.size - position), position)
      if (n === 0) throw new Error(`${hostPath}: file data ended early`)
      let written = 0
      while (written < n) written += fs.writeSync(fd, buf, written, n - written, position + written)
      position += n
    }
    return position
  } finally {
    fs.closeSync(fd)
  }
}

function makeSpecial (node: Node, hostPath: string, isRoot: boolean, options: ExtractOptions): boolean {
  const inode = node.inode
  const mode = (inode.mode & 0o7777).toString(8)
  if (inode.kind === 'fifo') {
    spawnSync('mkfifo', ['-m', mode, hostPath])
    return fs.existsSync(hostPath)
  }
  if (inode.kind === 'socket') {
    options.onWarning?.(`${hostPath}: sockets cannot be extracted; skipped`)
    return false
  }
  if (!isRoot) {
    options.onWarning?.(`${hostPath}: device nodes need root; skipped`)
    return false
  }
  spawnSync('mknod', ['-m', mode, hostPath, inode.kind === 'char-device' ? 'c' : 'b', String(majorOf(inode.rdev)), String(minorOf(inode.rdev))])
  return fs.existsSync(hostPath)
}

function applyAttributes (node: Node, hostPath: string, isRoot: boolean): void {
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

function lstat (p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p)
  } catch {
    return undefined
  }
}
