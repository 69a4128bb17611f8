import * as os from 'node:os'
import * as path from 'node:path'
import { logger } from '../../log'
import { currentPlatform } from '../../platform'

const log = logger('write')

/**
 * copy_file_range(2) through native/copy-range.c: large file data copied from file to file in the kernel,
 * as cp and cat copy it (five times faster here than through JavaScript buffers). Undefined where the
 * addon is not built or the system has no such call; callers then copy through buffers.
 */
type CopyRange = (inFd: number, inPos: number, outFd: number, outPos: number, length: number, skipHoles: boolean,
  callback: (err: (Error & { errno?: number }) | null) => void) => void

const native = ((): CopyRange | undefined => {
  // ISOMOUNT_NO_KERNEL_COPY=1: copy through buffers (tests compare the two ways; a suspected kernel bug).
  if (!currentPlatform().kernelCopy || process.env.ISOMOUNT_NO_KERNEL_COPY === '1') return undefined
  try {
    // From dist/src/iso/io (or src/iso/io under ts-node) to the repository's native/build.
    const root = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..')
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(path.join(root, 'native/build/Release/copy_range.node')) as { copyRange: CopyRange }).copyRange
  } catch (err) {
    log('copy_file_range addon not available (%s): copying through buffers', (err as Error).message)
    return undefined
  }
})()

/** errno values that mean "not between these files": another way must be taken. */
const { ENOSYS, EXDEV, EINVAL, EOPNOTSUPP } = os.constants.errno
const UNSUPPORTED = new Set([ENOSYS, EXDEV, EINVAL, EOPNOTSUPP])

/**
 * Copies `length` bytes at `inPos` of `inFd` to `outPos` of `outFd` in the kernel; with `skipHoles` the
 * source's holes are left unwritten (the target must read zeros there). Resolves false when this cannot
 * be done between these files (the caller copies the range another way, over whatever was copied);
 * other errors reject.
 */
export async function copyRange (inFd: number, inPos: number, outFd: number, outPos: number, length: number, skipHoles: boolean): Promise<boolean> {
  if (native === undefined) return false
  const copy = native
  return await new Promise((resolve, reject) => {
    copy(inFd, inPos, outFd, outPos, length, skipHoles, err => {
      if (err === null) resolve(true)
      else if (UNSUPPORTED.has(err.errno ?? 0)) resolve(false)
      else reject(Object.assign(err, { code: errnoCode(err.errno) }))
    })
  })
}

export const canCopyRanges = native !== undefined

function errnoCode (errno: number | undefined): string {
  return Object.entries(os.constants.errno).find(([, value]) => value === errno)?.[0] ?? 'EIO'
}
