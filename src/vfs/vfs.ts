import type { Stat } from '../iso/model/stat'

/** What statfs(2) reports. */
export interface FsStats {
  blockSize: number
  blocks: number
  blocksFree: number
  files: number
  filesFree: number
  nameMax: number
  readOnly: boolean
}

/**
 * The file system operations the FUSE layer maps its callbacks onto: paths in, promises out, errors as
 * IsoError (or Node system errors) that errnoName() turns into errno. One conformance suite runs against
 * this interface directly and through a real mount.
 */
export interface Vfs {
  getattr (path: string): Promise<Stat>
  /** A directory's entries with their attributes (FUSE passes the types on, sparing a lookup each). */
  readdir (path: string): Promise<Array<{ name: string, stat: Stat }>>
  readlink (path: string): Promise<string>
  /** Opens a file; returns a handle for read/write/release. `flags` are open(2) flags. */
  open (path: string, flags: number): Promise<number>
  read (handle: number, buf: Buffer, length: number, position: number): Promise<number>
  release (handle: number): Promise<void>
  statfs (): Promise<FsStats>

  create (path: string, mode: number): Promise<number>
  write (handle: number, buf: Buffer, length: number, position: number): Promise<number>
  truncate (path: string, size: number): Promise<void>
  ftruncate (handle: number, size: number): Promise<void>
  mkdir (path: string, mode: number): Promise<void>
  rmdir (path: string): Promise<void>
  unlink (path: string): Promise<void>
  rename (from: string, to: string): Promise<void>
  symlink (target: string, path: string): Promise<void>
  link (existing: string, path: string): Promise<void>
  mknod (path: string, mode: number, rdev: number): Promise<void>
  chmod (path: string, mode: number): Promise<void>
  chown (path: string, uid: number, gid: number): Promise<void>
  /** A time left undefined stays as it is (utimensat's UTIME_OMIT). */
  utimens (path: string, atimeMs: number | undefined, mtimeMs: number | undefined): Promise<void>
  fsync (handle: number): Promise<void>
}
