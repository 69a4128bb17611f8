// Types for the parts of fuse-native (2.2.x, untyped) this project uses.
declare module 'fuse-native' {
  type Callback = (code: number, ...results: unknown[]) => void

  export interface FuseStat {
    mode: number
    uid: number
    gid: number
    size: number
    dev?: number
    nlink: number
    ino: number
    rdev: number
    blksize: number
    blocks: number
    atime: number | Date
    mtime: number | Date
    ctime: number | Date
  }

  export interface FuseStatfs {
    bsize: number
    frsize: number
    blocks: number
    bfree: number
    bavail: number
    files: number
    ffree: number
    favail: number
    fsid: number
    flag: number
    namemax: number
  }

  export type FuseOperations = Record<string, (...args: any[]) => void>

  export interface FuseOptions {
    force?: boolean
    mkdir?: boolean
    debug?: boolean
    allowOther?: boolean
    defaultPermissions?: boolean
    fsname?: string
    subtype?: string
    kernelCache?: boolean
    entryTimeout?: number
    attrTimeout?: number
    maxRead?: number
    timeout?: number | false | Record<string, number | false>
  }

  class Fuse {
    constructor (mnt: string, ops: FuseOperations, opts?: FuseOptions)
    mnt: string
    mount (cb: (err: Error | null) => void): void
    unmount (cb: (err: Error | null) => void): void
    protected _fuseOptions (): string
    /** The addon's per-mount state (fuse_thread_t), allocated when mounting. */
    protected _thread: Buffer | null
    static [errno: string]: any
  }

  export = Fuse
}
