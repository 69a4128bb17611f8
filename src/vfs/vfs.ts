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
  readdir (path: string): Promise<string[]>
  readlink (path: string): Promise<string>
  /** Opens a file; returns a handle for read/release. `flags` are open(2) flags. */
  open (path: string, flags: number): Promise<number>
  read (handle: number, buf: Buffer, length: number, position: number): Promise<number>
  release (handle: number): Promise<void>
  statfs (): Promise<FsStats>
}
