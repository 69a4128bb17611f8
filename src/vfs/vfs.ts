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
 * Who asks for an operation: the process behind a FUSE request (src/fuse takes its ids from the request),
 * or a caller in process. Without one, an operation is the daemon's own: its user, no permission checks.
 */
export interface Caller {
  uid: number
  gid: number
  /** Supplementary groups, for checks made here; a mount's kernel knows them itself. */
  groups?: readonly number[]
  pid?: number
}

/**
 * The file system operations the FUSE layer maps its callbacks onto: paths in, promises out, errors as
 * IsoError (or Node system errors) that errnoName() turns into errno. One conformance suite runs against
 * this interface directly and through a real mount. Operations that name a path take the caller: it owns
 * what it creates, and its permissions are checked where nothing else checks them (ImageVfs).
 */
export interface Vfs {
  getattr (path: string, caller?: Caller): Promise<Stat>
  /** A directory's entries with their attributes (FUSE passes the types on, sparing a lookup each). */
  readdir (path: string, caller?: Caller): Promise<Array<{ name: string, stat: Stat }>>
  readlink (path: string, caller?: Caller): Promise<string>
  /** Opens a file; returns a handle for read/write/release. `flags` are open(2) flags. */
  open (path: string, flags: number, caller?: Caller): Promise<number>
  read (handle: number, buf: Buffer, length: number, position: number): Promise<number>
  release (handle: number): Promise<void>
  statfs (): Promise<FsStats>

  create (path: string, mode: number, caller?: Caller): Promise<number>
  write (handle: number, buf: Buffer, length: number, position: number): Promise<number>
  truncate (path: string, size: number, caller?: Caller): Promise<void>
  ftruncate (handle: number, size: number): Promise<void>
  mkdir (path: string, mode: number, caller?: Caller): Promise<void>
  rmdir (path: string, caller?: Caller): Promise<void>
  unlink (path: string, caller?: Caller): Promise<void>
  rename (from: string, to: string, caller?: Caller): Promise<void>
  symlink (target: string, path: string, caller?: Caller): Promise<void>
  link (existing: string, path: string, caller?: Caller): Promise<void>
  mknod (path: string, mode: number, rdev: number, caller?: Caller): Promise<void>
  chmod (path: string, mode: number, caller?: Caller): Promise<void>
  chown (path: string, uid: number, gid: number, caller?: Caller): Promise<void>
  /** A time left undefined stays as it is (utimensat's UTIME_OMIT). */
  utimens (path: string, atimeMs: number | undefined, mtimeMs: number | undefined, caller?: Caller): Promise<void>
  fsync (handle: number): Promise<void>
}
