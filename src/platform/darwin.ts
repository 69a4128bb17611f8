import * as fs from 'node:fs'
import { busy, commandFailed, runCommand, runCommandSync } from './command'
import { bsdMountHasTarget } from './mount-table'
import { escapeOptionValue, pidExists, type FuseOptionRequest, type Platform, type ProcessStatus, type UnmountHow } from './platform'

/**
 * macOS with macFUSE (≥ 4; osxfuse 3 names its devices and file system type osxfuse). Written from
 * macFUSE's and macOS's documentation and tested here with captured output and stand-in commands only:
 * no Mac runs our tests.
 */
export const darwin: Platform = {
  name: 'darwin',

  fuseOptions (request: FuseOptionRequest): string[] {
    // volname: Finder's name for the volume; local: shown as a local disk, not a network volume.
    const options = ['use_ino', 'default_permissions', `fsname=${escapeOptionValue(request.fsname)}`,
      `volname=${escapeOptionValue(request.volumeName)}`, 'local']
    // Without these, Finder stores resource forks and extended attributes as `._NAME` files and its view
    // settings as `.DS_Store` in every directory it opens, which the next commit would write into the image.
    if (!request.appleDouble) options.push('noappledouble')
    if (!request.appleXattr) options.push('noapplexattr')
    if (request.readOnly) options.push('rdonly')
    // macOS mounts over a non-empty directory without being told: `nonempty` is not a macFUSE option.
    return options
  },

  // macOS's mount and umount have no helpers to tell about: `isomount -u` is what waits there.
  announceMount: async () => {},

  isMountPoint (dir: string): boolean {
    const listing = runCommandSync('mount', [])
    return listing.status === 0 && bsdMountHasTarget(listing.stdout, dir)
  },

  async unmount (mountpoint: string, how: UnmountHow): Promise<void> {
    // umount(8) first: it refuses a busy mount, as we want. diskutil is what macOS suggests when umount
    // is not allowed to (a mount another user made); `force` is the nearest to Linux's lazy unmount.
    const attempts: Array<[string, string[]]> = how === 'detach'
      ? [['diskutil', ['unmount', 'force', mountpoint]], ['umount', ['-f', mountpoint]]]
      : [['umount', [mountpoint]], ['diskutil', ['unmount', mountpoint]]]
    let failure: Error | undefined
    for (const [file, args] of attempts) {
      const result = await runCommand(file, args)
      if (result.status === 0) return
      // umount: "Resource busy -- try 'diskutil unmount'"; diskutil: "Unmount failed: ... dissented by PID".
      if (how === 'normal' && /busy|dissent/i.test(result.stderr + result.stdout)) throw busy(mountpoint)
      if (!darwin.isMountPoint(mountpoint)) return
      failure ??= commandFailed(file, args, result)
    }
    throw failure as Error
  },

  manualUnmount: mountpoint => `umount ${mountpoint}`,

  fuseDescriptors (): number[] {
    const devices = fuseDeviceNumbers()
    if (devices.size === 0) return []
    let fds: string[]
    try {
      fds = fs.readdirSync('/dev/fd')
    } catch {
      return []
    }
    return fds.map(Number).filter(fd => isDevice(fd, devices))
  },

  isFuseDescriptor (fd: number): boolean {
    return isDevice(fd, fuseDeviceNumbers())
  },

  mountFailureHint: 'is macFUSE (4 or later) installed, and its system extension allowed in System Settings > Privacy & Security?',

  processStatus (pid: number): ProcessStatus | undefined {
    if (!pidExists(pid)) return undefined
    const ps = runCommandSync('ps', ['-o', 'stat=,lstart=', '-p', String(pid)])
    if (ps.status !== 0) return ps.status === -1 ? {} : undefined
    return parsePsStatus(ps.stdout)
  },

  kernelCopy: false
}

/** `ps -o stat=,lstart=` output: "Ss   Tue Dec  2 13:30:00 2025"; a Z in the state is a zombie. */
export function parsePsStatus (text: string): ProcessStatus | undefined {
  const line = text.trim()
  if (line === '') return undefined
  const [state, ...start] = line.split(/\s+/)
  if (state.includes('Z')) return undefined
  return start.length > 0 ? { start: start.join(' ') } : {}
}

/**
 * The device numbers of macFUSE's character devices (/dev/macfuse0, …; /dev/osxfuse0, … before macFUSE
 * 4): a descriptor open on one of them is the session of a mount. Read each time, as macFUSE creates
 * them when its extension loads.
 */
let fuseDevicePattern = /^(macfuse|osxfuse)\d+$/
let deviceDirectory = '/dev'

function fuseDeviceNumbers (): Set<number> {
  const numbers = new Set<number>()
  let names: string[]
  try {
    names = fs.readdirSync(deviceDirectory)
  } catch {
    return numbers
  }
  for (const name of names.filter(n => fuseDevicePattern.test(n))) {
    try {
      const st = fs.statSync(`${deviceDirectory}/${name}`)
      if (st.isCharacterDevice()) numbers.add(st.rdev)
    } catch { /* gone meanwhile */ }
  }
  return numbers
}

function isDevice (fd: number, devices: Set<number>): boolean {
  try {
    const st = fs.fstatSync(fd)
    return st.isCharacterDevice() && devices.has(st.rdev)
  } catch {
    return false
  }
}

/** For tests on Linux: which device files count as macFUSE's (say, /dev/fuse). */
export function setFuseDevicesForTest (directory: string, pattern: RegExp): void {
  deviceDirectory = directory
  fuseDevicePattern = pattern
}
