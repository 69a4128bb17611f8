import * as fs from 'node:fs'
import { logger } from '../log'
import { busy, commandFailed, runCommand } from './command'
import { parseMountinfo } from './mount-table'
import { escapeOptionValue, pidExists, type FuseOptionRequest, type Platform, type ProcessStatus, type UnmountHow } from './platform'

const log = logger('fuse')

/** Linux with libfuse 2 and its fusermount. */
export const linux: Platform = {
  name: 'linux',

  fuseOptions (request: FuseOptionRequest): string[] {
    // use_ino: our stable inode numbers reach stat; big_writes: 128 KiB writes instead of 4 KiB;
    // subtype: the mount table says fuse.isomount, which is what umount(8) looks up its helper by.
    const options = ['use_ino', 'big_writes', 'default_permissions', `fsname=${escapeOptionValue(request.fsname)}`, 'subtype=isomount']
    if (request.readOnly) options.push('ro')
    // fusermount refuses a non-empty mount point unless told (the mount would hide what is there).
    if (request.nonempty) options.push('nonempty')
    return options
  },

  isMountPoint (dir: string): boolean {
    return parseMountinfo(readIfPresent('/proc/self/mountinfo')).some(entry => entry.target === dir)
  },

  /**
   * umount(8) finds its helper for a mount (/sbin/umount.fuse.isomount) by the type in the mount table,
   * fuse.isomount, but as root it asks statfs(2) instead, which says only "fuse", unless /run/mount/utab
   * has an entry for the mount point. A fake mount (nothing mounted, utab written) makes one, with the
   * userspace option libmount itself uses for such cases (uhelper=, as udisks2 sets it; there is no
   * /sbin/umount.isomount, so users other than root are not affected). Only root may write utab.
   */
  async announceMount (fsname: string, mountpoint: string): Promise<void> {
    if (process.getuid?.() !== 0) return
    const result = await runCommand('mount', ['--fake', '--internal-only', '-t', 'fuse.isomount', '-o', 'uhelper=isomount', fsname, mountpoint])
    if (result.status !== 0) log('mount --fake for %s: %s', mountpoint, result.stderr.trim())
  },

  async unmount (mountpoint: string, how: UnmountHow): Promise<void> {
    // As root, umount(8) without helpers (-i), which also removes the utab entry announceMount made;
    // fusermount (the only way for other users) does the same unmount but leaves utab alone.
    const [file, args] = process.getuid?.() === 0
      ? ['umount', how === 'detach' ? ['-i', '-l', mountpoint] : ['-i', mountpoint]]
      : ['fusermount', how === 'detach' ? ['-u', '-z', mountpoint] : ['-u', mountpoint]]
    const result = await runCommand(file, args)
    if (result.status === 0) return
    if (/busy/i.test(result.stderr)) throw busy(mountpoint)
    if (!linux.isMountPoint(mountpoint)) return
    throw commandFailed(file, args, result)
  },

  manualUnmount: mountpoint => process.getuid?.() === 0 ? `umount ${mountpoint}` : `fusermount -u ${mountpoint}`,

  fuseDescriptors (): number[] {
    let fds: string[]
    try {
      fds = fs.readdirSync('/proc/self/fd')
    } catch {
      return []
    }
    return fds.map(Number).filter(fd => linux.isFuseDescriptor(fd))
  },

  isFuseDescriptor (fd: number): boolean {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/fuse'
    } catch {
      return false
    }
  },

  mountFailureHint: 'is /dev/fuse available and fusermount installed?',

  processStatus (pid: number): ProcessStatus | undefined {
    if (!pidExists(pid)) return undefined
    const stat = readIfPresent(`/proc/${pid}/stat`)
    if (stat === '') return {}
    // proc(5): the command name (field 2) may hold spaces and parentheses, so fields are counted after
    // its closing one: the state is field 3, the start time in clock ticks since boot field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined
    return { start: fields[19] }
  },

  kernelCopy: true
}

function readIfPresent (file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
