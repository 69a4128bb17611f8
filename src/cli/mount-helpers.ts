import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { userMessage } from '../errors'
import { readMountRecord } from '../fuse/runtime'
import { control, main as isomountMain } from './isomount'

/**
 * The helpers util-linux's mount(8) and umount(8) run for file systems of type fuse.isomount (our mounts
 * say so in the mount table: Platform.fuseOptions sets subtype=isomount), found as /sbin/mount.fuse.isomount
 * and /sbin/umount.fuse.isomount (scripts/install-mount-helpers.sh puts them there). With them, fstab lines
 * and `mount -t fuse.isomount` mount like `isomount`, and a plain `umount` waits for the commit as
 * `isomount -u` does, so `umount /mnt/x && dd if=x.iso of=/dev/sdX` copies the new image.
 *
 * Exit statuses follow mount(8): 0 success, 1 bad usage, 32 the mount or unmount failed.
 */
const EX_USAGE = 1
const EX_FAIL = 32

/** The isomount command beside these helpers (bin/ of this package). */
const ISOMOUNT_BIN = path.resolve(__dirname, '../../../bin/isomount')

/** Arguments as libmount's exec_helper passes them: operands first, then single-letter flags. */
interface HelperArgs {
  operands: string[]
  flags: Set<string>
  options: string[]
  namespace?: string
}

function parseHelperArgs (args: string[], withValue: string): HelperArgs | undefined {
  const parsed: HelperArgs = { operands: [], flags: new Set(), options: [] }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (!arg.startsWith('-') || arg === '-') {
      parsed.operands.push(arg)
      continue
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]
      if (!withValue.includes(flag)) {
        parsed.flags.add(flag)
        continue
      }
      const value = j + 1 < arg.length ? arg.slice(j + 1) : args[++i]
      if (value === undefined) return undefined
      if (flag === 'o') parsed.options.push(value)
      else if (flag === 'N') parsed.namespace = value
      // -t TYPE: we know our type.
      break
    }
  }
  return parsed
}

/**
 * umount.fuse.isomount TARGET [-nlfvr] [-t TYPE] [-N NAMESPACE]: what `isomount -u` does (commit while
 * live, unmount, answer once the image is on disk), `-l` detaching instead of failing while busy. A
 * forced (-f) or read-only-remount (-r) unmount, one in another namespace (-N), and a mount no running
 * isomount serves (its daemon was killed) are handed to umount(8) itself, which does not wait.
 */
export async function umountHelper (argv: string[]): Promise<void> {
  const args = argv.slice(2)
  const parsed = parseHelperArgs(args, 'tN')
  if (parsed === undefined || parsed.operands.length !== 1) {
    process.stderr.write('usage: umount.fuse.isomount MOUNTPOINT [-nlfvr] [-t TYPE] [-N NAMESPACE]\n')
    process.exitCode = EX_USAGE
    return
  }
  const target = parsed.operands[0]
  const { flags } = parsed
  if (flags.has('f') || flags.has('r') || parsed.namespace !== undefined || readMountRecord(path.resolve(target)) === undefined) {
    process.exitCode = plainUmount(args)
    return
  }
  try {
    const ok = await control(target, { op: 'unmount', lazy: flags.has('l') }, { quiet: !flags.has('v') })
    process.exitCode = ok ? 0 : EX_FAIL
  } catch (err) {
    process.stderr.write(`umount: ${target}: ${userMessage(err)}\n`)
    process.exitCode = EX_FAIL
  }
}

/** umount(8) without helpers (-i), with the arguments we were given. */
function plainUmount (args: string[]): number {
  const result = spawnSync('umount', ['-i', ...args], { stdio: 'inherit' })
  if (result.error !== undefined) {
    process.stderr.write(`umount.fuse.isomount: running umount: ${result.error.message}\n`)
    return EX_FAIL
  }
  return result.status ?? EX_FAIL
}

/**
 * mount.fuse.isomount IMAGE MOUNTPOINT [-sfnv] [-o OPTIONS] [-N NAMESPACE]: `isomount -o OPTIONS IMAGE
 * MOUNTPOINT`, which returns once the mount is live. mount(8) hands over the fstab options it does not
 * keep for itself (ro, nosuid, nodev, noexec, user, nofail, …); mount-options.ts accepts the generic ones.
 */
export async function mountHelper (argv: string[]): Promise<void> {
  const parsed = parseHelperArgs(argv.slice(2), 'otN')
  if (parsed === undefined || parsed.operands.length !== 2) {
    process.stderr.write('usage: mount.fuse.isomount IMAGE MOUNTPOINT [-sfnv] [-o OPTIONS]\n')
    process.exitCode = EX_USAGE
    return
  }
  if (parsed.namespace !== undefined) {
    process.stderr.write('mount.fuse.isomount: mounting into another namespace (-N) is not supported\n')
    process.exitCode = EX_FAIL
    return
  }
  // -f: mount(8)'s "fake" run, which only records the mount: there is nothing to record for a FUSE mount.
  if (parsed.flags.has('f')) return
  const [image, mountpoint] = parsed.operands
  const options = parsed.options.length > 0 ? ['-o', parsed.options.join(',')] : []
  await isomountMain([process.execPath, ISOMOUNT_BIN, ...options, image, mountpoint])
  if (process.exitCode !== undefined && process.exitCode !== 0) process.exitCode = process.exitCode === 2 ? EX_USAGE : EX_FAIL
}
