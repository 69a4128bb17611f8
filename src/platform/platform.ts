/**
 * What differs between the systems isomount mounts on (Linux with libfuse 2, macOS with macFUSE), behind
 * one interface: the rest of src/ asks this module and never looks at process.platform or /proc itself
 * (test/platform/isolation.test.ts checks that).
 */
/** `other`: a system we have no FUSE support for (the library still works there). */
export type PlatformName = 'linux' | 'darwin' | 'other'

/** How an unmount lets go: `normal` fails with BUSY while the mount is in use, as umount(8) does;
 * `detach` takes it away now and the session ends when its last user lets go (Linux's lazy unmount; a
 * forced unmount on macOS, which has none). */
export type UnmountHow = 'normal' | 'detach'

export interface FuseOptionRequest {
  readOnly: boolean
  allowOther: boolean
  /** The source the mount table shows: the image path. */
  fsname: string
  /** The volume name (the image's volume id): what Finder shows on macOS. */
  volumeName: string
  /** Mount over a directory that is not empty (libfuse's `nonempty`). */
  nonempty: boolean
  /** macOS: let Finder write `._*` AppleDouble files and `.DS_Store` into the mount (off by default). */
  appleDouble: boolean
  /** macOS: let the system set its com.apple.* extended attributes (off by default). */
  appleXattr: boolean
}

export interface ProcessStatus {
  /**
   * When the process started, in the system's own terms (clock ticks since boot on Linux, ps's lstart on
   * macOS): with the pid, it tells a process apart from a later one given the same pid. Undefined when
   * it cannot be found out.
   */
  start?: string
}

export interface Platform {
  readonly name: PlatformName
  /** libfuse options for a mount, beyond the ones fuse-native sets itself. */
  fuseOptions: (request: FuseOptionRequest) => string[]
  /** Whether `dir` (absolute, resolved) is a mount point now. */
  isMountPoint: (dir: string) => boolean
  /**
   * Tells the system's mount tools about a mount just made (best effort): on Linux, so that a plain
   * umount(8) runs our helper and waits for the commit.
   */
  announceMount: (fsname: string, mountpoint: string) => Promise<void>
  /** Unmounts a FUSE mount (see UnmountHow); a mount point that is not mounted any more is not an error. */
  unmount: (mountpoint: string, how: UnmountHow) => Promise<void>
  /** The command a user types to unmount by hand without waiting for a commit, for messages. */
  manualUnmount: (mountpoint: string) => string
  /** This process's open descriptors on the FUSE device. */
  fuseDescriptors: () => number[]
  /** Whether `fd` is (still) open on the FUSE device: libfuse closes it when its session ends. */
  isFuseDescriptor: (fd: number) => boolean
  /** What to check when a mount fails for a reason libfuse did not give. */
  readonly mountFailureHint: string
  /** A process that runs (a zombie does not: it has ended, only its parent has not collected it), or undefined. */
  processStatus: (pid: number) => ProcessStatus | undefined
  /** copy_file_range(2) exists, so the copy-range addon may be used. */
  readonly kernelCopy: boolean
}

/** kill(2) with signal 0: whether a process with this pid exists (EPERM: it does, and is not ours). */
export function pidExists (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** libfuse option values are comma-separated; a comma or backslash in a value is escaped (fuse_opt.c). */
export function escapeOptionValue (value: string): string {
  return value.replace(/[\\,]/g, c => `\\${c}`)
}
