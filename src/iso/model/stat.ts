import type { FileKind } from './inode'
import type { Node } from './node'

/** stat(2)-like attributes of a node, independent of namespace. */
export interface Stat {
  kind: FileKind
  mode: number
  uid: number
  gid: number
  size: number
  /** Link count. Directories without a recorded count report 1, "unknown" (as btrfs does), never a guess
   * that could make `find` skip subdirectories (GNU find's leaf optimisation trusts nlink 2). */
  nlink: number
  ino: number
  rdev: number
  blocks: number
  mtimeMs: number
  atimeMs: number
  ctimeMs: number
  birthtimeMs?: number
  /** mode/uid/gid were recorded (Rock Ridge), not defaulted. */
  posix: boolean
}

export function statOf (node: Node): Stat {
  const inode = node.inode
  const size = node.isDirectory ? directorySize(node) : inode.size
  const stat: Stat = {
    kind: inode.kind,
    mode: inode.mode,
    uid: inode.uid,
    gid: inode.gid,
    size,
    nlink: node.isDirectory && !inode.posix ? 1 : inode.nlink,
    ino: inode.ino,
    rdev: inode.rdev,
    blocks: Math.ceil(size / 512),
    mtimeMs: inode.times.mtimeMs,
    atimeMs: inode.times.atimeMs,
    ctimeMs: inode.times.ctimeMs,
    posix: inode.posix
  }
  if (inode.times.birthtimeMs !== undefined) stat.birthtimeMs = inode.times.birthtimeMs
  return stat
}

/**
 * A directory's size is its directory record's data length, as Linux isofs reports it (fs/isofs/inode.c
 * sets i_size from the record for directories as for files): the extent's bytes, a multiple of 2048
 * (the ISO9660 record's; a directory only in the Joliet tree, the Joliet record's). A directory made by
 * an edit has none yet and reports one sector, what a small new directory takes when written.
 */
function directorySize (node: Node): number {
  return node.inode.recordedDirectorySize ?? 2048
}

/** glibc's major() of an st_rdev (makedev()'s encoding: 12 bits of major at 8..19, the rest from bit 44). */
export function majorOf (rdev: number): number {
  return (Math.floor(rdev / 256) & 0xfff) + Math.floor(rdev / 2 ** 44) * 0x1000
}

/** glibc's minor() of an st_rdev: 8 bits at 0..7, 24 more at 20..43. */
export function minorOf (rdev: number): number {
  return (rdev & 0xff) + (Math.floor(rdev / 2 ** 20) % 2 ** 24) * 256
}
