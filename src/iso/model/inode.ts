import type { ZisofsInfo } from '../codec/rock-ridge'
import { EMPTY_SOURCE, type DataSource } from './data-source'

/** POSIX file type bits (st_mode & S_IFMT), as Rock Ridge PX records them (RRIP 4.1.1). */
export const S_IFMT = 0o170000
export const S_IFSOCK = 0o140000
export const S_IFLNK = 0o120000
export const S_IFREG = 0o100000
export const S_IFBLK = 0o060000
export const S_IFDIR = 0o040000
export const S_IFCHR = 0o020000
export const S_IFIFO = 0o010000

export type FileKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char-device' | 'block-device'

const KIND_BY_TYPE = new Map<number, FileKind>([
  [S_IFREG, 'file'], [S_IFDIR, 'directory'], [S_IFLNK, 'symlink'], [S_IFIFO, 'fifo'],
  [S_IFSOCK, 'socket'], [S_IFCHR, 'char-device'], [S_IFBLK, 'block-device']
])

export function kindOfMode (mode: number): FileKind | undefined {
  return KIND_BY_TYPE.get(mode & S_IFMT)
}

export function typeBitsOf (kind: FileKind): number {
  for (const [bits, k] of KIND_BY_TYPE) if (k === kind) return bits
  return S_IFREG
}

export interface Times {
  mtimeMs: number
  atimeMs: number
  ctimeMs: number
  birthtimeMs?: number
}

export interface InodeInit {
  mode: number
  uid?: number
  gid?: number
  times: Times
  posix?: boolean
  data?: DataSource
  symlinkTarget?: string
  rdev?: number
  nlink?: number
  ino: number
}

/**
 * What a file is, apart from its names: type and permissions, owners, times, content. Several names (hard
 * links, and the same file seen through ISO9660 and Joliet) share one inode.
 */
export class Inode {
  mode: number
  uid: number
  gid: number
  times: Times
  /** True when mode/uid/gid were recorded (Rock Ridge PX); false when they are defaults. */
  posix: boolean
  data: DataSource
  symlinkTarget?: string
  rdev: number
  /** Link count: from Rock Ridge PX when recorded, kept up to date by edits. */
  nlink: number
  /**
   * A zisofs file read from an image: `data` shows it uncompressed, `raw` is the stream as recorded. A
   * remaster copies `raw` and its ZF entry unchanged; an edit of the content drops this.
   */
  compressed?: { raw: DataSource, zisofs: ZisofsInfo }
  /** The symlink target's bytes as recorded, where they are not UTF-8 (read/names.ts recordedBytes). */
  symlinkTargetBytes?: Buffer
  /**
   * A directory's size as its record gives it, the extent's bytes (Linux isofs reports that as st_size);
   * undefined for a directory made by an edit.
   */
  recordedDirectorySize?: number
  /** Stable inode number (derived from the image position; see read/tree-loader.ts). */
  readonly ino: number

  constructor (init: InodeInit) {
    this.mode = init.mode
    this.uid = init.uid ?? 0
    this.gid = init.gid ?? 0
    this.times = init.times
    this.posix = init.posix ?? false
    this.data = init.data ?? EMPTY_SOURCE
    this.symlinkTarget = init.symlinkTarget
    this.rdev = init.rdev ?? 0
    this.nlink = init.nlink ?? 1
    this.ino = init.ino
  }

  get kind (): FileKind {
    return kindOfMode(this.mode) ?? 'file'
  }

  get size (): number {
    if (this.symlinkTarget !== undefined) return Buffer.byteLength(this.symlinkTarget)
    return this.data.size
  }
}
