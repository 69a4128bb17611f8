import * as os from 'node:os'
import { InvalidInputError } from '../errors'
import { darwin } from './darwin'
import { linux } from './linux'
import type { Platform } from './platform'

export type { FuseOptionRequest, Platform, PlatformName, ProcessStatus, UnmountHow } from './platform'
export { pidExists } from './platform'

/**
 * The platform this process runs on. ISOMOUNT_PLATFORM=darwin|linux overrides it: tests run the macOS
 * code paths on Linux with stand-in commands on PATH (test/platform/).
 */
export function currentPlatform (): Platform {
  const name = process.env.ISOMOUNT_PLATFORM ?? os.platform()
  if (name === 'linux') return linux
  if (name === 'darwin') return darwin
  return unsupported(name)
}

/** A system we have no FUSE support for: the library works (no kernel copy), mounting says why not. */
function unsupported (name: string): Platform {
  const refuse = (): never => {
    throw new InvalidInputError('UNSUPPORTED', `mounting needs Linux or macOS; this system is ${name}`)
  }
  return {
    name: 'other',
    fuseOptions: refuse,
    isMountPoint: () => false,
    announceMount: async () => {},
    unmount: async () => refuse(),
    manualUnmount: mountpoint => `umount ${mountpoint}`,
    fuseDescriptors: () => [],
    isFuseDescriptor: () => false,
    mountFailureHint: `mounting needs Linux or macOS; this system is ${name}`,
    processStatus: pid => linux.processStatus(pid),
    kernelCopy: false
  }
}
