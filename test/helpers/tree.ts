import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

/** One entry of a directory tree, as compared across readers. */
export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'other'
  size?: number
  sha256?: string
  target?: string
  mode?: number
  mtime?: number
  /** Other paths of the tree that are hard links to this file. */
  links?: string[]
}

export interface SnapshotOptions {
  /** Record permission bits (readers that keep Rock Ridge modes). */
  modes?: boolean
  /** Record mtimes, to the second (readers that keep Rock Ridge times). */
  mtimes?: boolean
  /** Leave out paths matching this (relative, without leading slash). */
  skip?: RegExp
  /** Leave out the mtime of paths matching this (written "now", so different in every copy). */
  skipMtime?: RegExp
  /** Record which files are hard links to each other (readers that keep Rock Ridge link counts). */
  links?: boolean
}

/** A host directory as path → entry, sorted: what every comparison in the tests is made on. */
export function snapshot (root: string, options: SnapshotOptions = {}): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {}
  const byInode = new Map<number, string[]>()
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name)
      const rel = path.relative(root, full)
      if (options.skip?.test(rel) === true) continue
      const st = fs.lstatSync(full)
      const entry: TreeEntry = { type: 'other' }
      if (st.isSymbolicLink()) {
        entry.type = 'symlink'
        entry.target = fs.readlinkSync(full)
      } else if (st.isDirectory()) {
        entry.type = 'dir'
      } else if (st.isFIFO()) {
        entry.type = 'fifo'
      } else if (st.isFile()) {
        entry.type = 'file'
        entry.size = st.size
        entry.sha256 = createHash('sha256').update(fs.readFileSync(full)).digest('hex')
      }
      if (options.modes === true && entry.type !== 'symlink') entry.mode = st.mode & 0o7777
      if (options.mtimes === true && entry.type !== 'symlink' && entry.type !== 'dir' && options.skipMtime?.test(rel) !== true) {
        entry.mtime = Math.floor(st.mtimeMs / 1000)
      }
      if (options.links === true && entry.type === 'file' && st.nlink > 1) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), rel])
      out[rel] = entry
      if (entry.type === 'dir') walk(full)
    }
  }
  walk(root)
  for (const group of byInode.values()) {
    for (const member of group) out[member].links = group.filter(other => other !== member)
  }
  return out
}

/** The same snapshot with file contents only (names and data), for readers that keep nothing else. */
export function contentOnly (tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {}
  for (const [p, e] of Object.entries(tree)) out[p] = { type: e.type, size: e.size, sha256: e.sha256, target: e.target }
  return out
}

export function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Deterministic bytes (no two 4 KiB blocks alike), for data that must land exactly; `size` a multiple of 4. */
export function pattern (size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i)
  return buf
}
