import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../errors'
import { currentPlatform } from '../platform'
import type { MountOptions } from '../vfs/mount-options'
import { readMountRecord } from './runtime'

/**
 * What can be refused before anything is locked or mounted: by the command itself (an answer at once,
 * without starting a daemon) and again by the daemon, which may run alone (-f). Returns the mount point
 * resolved.
 */
export function checkMountRequest (mountpoint: string, options: MountOptions): string {
  // An older session is history: it can be looked at, not changed.
  if (options.session !== undefined && !options.ro) throw new InvalidInputError('BAD_ARGUMENT', 'session= needs ro: an older session cannot be changed')
  return checkMountPoint(mountpoint, options)
}

/**
 * Checks the directory a mount is asked for and returns it resolved, or fails with what is wrong and what
 * to do: libfuse's own messages ("fuse: mountpoint is not empty",
 * a bare ENOENT) name neither the cause nor the way out.
 */
function checkMountPoint (requested: string, options: { nonempty: boolean }): string {
  let dir: string
  try {
    dir = fs.realpathSync(requested)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const abs = path.resolve(requested)
    if (code === 'ENOENT') throw new InvalidInputError('NOT_FOUND', `mount point ${abs} does not exist (create it first: mkdir -p ${abs})`)
    // A FUSE mount whose daemon died answers every access with ENOTCONN until it is unmounted.
    if (code === 'ENOTCONN') {
      throw new InvalidInputError('BUSY', `${abs} is a mount whose file system process has ended; unmount it first (${currentPlatform().manualUnmount(abs)})`)
    }
    if (code === 'ENOTDIR') throw new InvalidInputError('NOT_A_DIRECTORY', `mount point ${abs}: a part of the path is not a directory`)
    throw new InvalidInputError('NOT_FOUND', `mount point ${abs} cannot be reached: ${(err as Error).message}`)
  }
  if (!fs.statSync(dir).isDirectory()) throw new InvalidInputError('NOT_A_DIRECTORY', `mount point ${dir} is not a directory`)
  const daemon = readMountRecord(dir)
  if (daemon !== undefined && daemon.pid !== process.pid) {
    if (!currentPlatform().isMountPoint(dir)) {
      // Unmounted while its commit failed: this daemon waits for `isomount -u` to retry (daemon.ts).
      throw new InvalidInputError('BUSY', `isomount process ${daemon.pid} still holds changes to ${daemon.image} made at ${dir}: ` +
        `its commit failed. Run "isomount -u ${dir}" to retry it, or "kill ${daemon.pid}" to discard them, then mount again`)
    }
    throw new InvalidInputError('BUSY', `${dir} is already mounted (${daemon.image}, isomount process ${daemon.pid}); unmount it first: isomount -u ${dir}`)
  }
  if (currentPlatform().isMountPoint(dir)) {
    throw new InvalidInputError('BUSY', `${dir} is already a mount point; unmount what is there first, or choose another directory`)
  }
  if (!options.nonempty) {
    const entries = fs.readdirSync(dir).sort()
    if (entries.length > 0) {
      const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ` and ${entries.length - 3} more` : '')
      throw new InvalidInputError('NOT_EMPTY', `mount point ${dir} is not empty (it holds ${shown}): the mount would hide ` +
        'what is there until it is unmounted. Use an empty directory, or -o nonempty to mount over it anyway')
    }
  }
  return dir
}
