import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Option } from 'commander'
import { InvalidInputError } from '../errors'
import type { ControlRequest } from '../fuse/control'
import { checkMountRequest } from '../fuse/mount-point'
import { readMountRecord } from '../fuse/runtime'
import { currentPlatform } from '../platform'
import { parseMountOptions } from '../vfs/mount-options'
import { collect, EXIT_FAILURE, newProgram, runProgram } from './common'

const READY_FD = 3
const READY_TIMEOUT_MS = 120_000

const HELP_OPTIONS = `
Mount options (-o, comma-separated; Linux isofs names where they mean the same):
  namespace=rockridge|udf|joliet|iso9660
                                       names to show (default: Rock Ridge, else UDF, else Joliet,
                                       else ISO9660)
  norock, noudf, nojoliet              ignore Rock Ridge / UDF / Joliet
  nohfsplus                            drop an HFS+ tree sharing the files' data (grub-mkrescue's, for
                                       Macs) so that the image can be written; BIOS/UEFI boot is kept
  uid=N, gid=N                         owner and group every entry shows (not recorded)
  mode=OCTAL, dmode=OCTAL              permissions where the image records none
  overriderockperms                    mode= and dmode= over Rock Ridge's too
  userwrite                            every entry shows as yours, writable (for users who aren't root)
  check=relaxed|strict                 strict: refuse images with any irregularity
  session=N                            read session N (1-based; default the newest)
  hide, showassoc                      hide entries marked hidden / show associated files
  ro                                   read-only: writes fail with EROFS
  commit=auto|inplace|append|remaster|never
                                       how changes reach the image on unmount (default auto: in place
                                       when they fit, else appended, else remastered when appending
                                       would leave over half the image dead; never: discard them)
  allow_other                          let other users see the mount
  nonempty                             mount over a directory that is not empty
  appledouble, applexattr              macOS: let Finder write ._* and .DS_Store files / its
                                       com.apple.* attributes (off by default)

Examples:
  isomount debian.iso /mnt/iso
  isomount -o namespace=udf,ro win.iso /mnt/win
  isomount -u /mnt/iso        commit, unmount, and wait until the image is on disk
                              (on Linux, with the helpers installed, a plain umount waits too)
  isomount sync /mnt/iso      commit now and stay mounted`

export async function main (argv: string[]): Promise<void> {
  const program = newProgram('isomount')
    .usage('[options] IMAGE MOUNTPOINT\n       isomount -u MOUNTPOINT\n       isomount sync MOUNTPOINT')
    .description('Mount an ISO9660 image (Rock Ridge, Joliet, UDF, El Torito) through FUSE.')
    .argument('[image]', 'the image file')
    .argument('[mountpoint]', 'an existing directory')
    .option('-o, --options <list>', 'mount options (see below); may be repeated', collect, [])
    .option('-f, --foreground', 'stay in the foreground until unmounted')
    .option('-u, --unmount <mountpoint>', 'unmount and wait until the daemon has finished')
    // Internal (the daemon's parent waits on it): not in --help, the man page or the completion.
    .addOption(new Option('--ready-fd <fd>', 'internal: report readiness on this descriptor').hideHelp())
    .addHelpText('after', HELP_OPTIONS)
    .action(async (image: string | undefined, mountpoint: string | undefined, opts: {
      options: string[], foreground?: boolean, unmount?: string, readyFd?: string
    }) => {
      if (opts.unmount !== undefined) {
        if (image !== undefined) throw new InvalidInputError('BAD_ARGUMENT', '-u takes only the mount point')
        await control(opts.unmount, { op: 'unmount' })
        return
      }
      if (image === 'sync' && mountpoint !== undefined && readMountRecord(resolveDir(mountpoint)) !== undefined) {
        await control(mountpoint, { op: 'sync' })
        return
      }
      if (image === undefined || mountpoint === undefined) {
        throw new InvalidInputError('BAD_ARGUMENT', 'an image and a mount point are required (see isomount --help)')
      }
      const options = parseMountOptions(opts.options)
      if (!fs.existsSync(image)) throw new InvalidInputError('NOT_FOUND', `${image}: no such file`)
      checkMountRequest(mountpoint, options)
      if (opts.foreground === true) {
        const readyFd = opts.readyFd !== undefined ? Number(opts.readyFd) : undefined
        // Loaded only here: the command that merely starts the daemon should start fast.
        const { runMount } = await import('../fuse/daemon')
        process.exitCode = await runMount({ image, mountpoint, options, verbose: readyFd === undefined }, (err, notices) => report(readyFd, err, notices))
        process.exit()
      }
      await daemonize(argv)
    })
  await runProgram(program, argv)
}

/**
 * In the foreground: errors and notices to stderr. As a daemon: one JSON line to the parent waiting on
 * READY_FD, which prints them.
 */
function report (readyFd: number | undefined, err?: Error, notices: string[] = []): void {
  if (readyFd === undefined) {
    if (err !== undefined) process.stderr.write(`isomount: ${err.message}\n`)
    for (const notice of notices) process.stderr.write(`isomount: warning: ${notice}\n`)
    return
  }
  try {
    fs.writeSync(readyFd, JSON.stringify(err === undefined ? { ok: true, notices } : { ok: false, error: err.message }) + '\n')
    fs.closeSync(readyFd)
  } catch {
    // The parent gave up waiting; nothing to tell.
  }
}

/**
 * V8's young generation grows to 3 x 16 MiB semi-spaces by default, which a long-lived daemon holds as
 * resident memory; 4 MiB semi-spaces cut the daemon's peak RSS on a 50,000-file image from 154 to
 * 130 MiB with no measurable cost to `tar` over the mount. Flags the user gave node win.
 */
function daemonNodeFlags (): string[] {
  const flags = [...process.execArgv]
  if (!flags.some(f => f.startsWith('--max-semi-space-size'))) flags.unshift('--max-semi-space-size=4')
  return flags
}

/**
 * Starts the mount as a detached child and returns once it is live (exit 0) or has failed (exit 1, with
 * the child's reason). The child's output goes to a log file only when DEBUG is set.
 */
async function daemonize (argv: string[]): Promise<void> {
  const log = process.env.DEBUG !== undefined ? fs.openSync(path.join(require('node:os').tmpdir(), `isomount-${process.pid}.log`), 'a') : 'ignore'
  const child = spawn(process.execPath, [...daemonNodeFlags(), argv[1], ...argv.slice(2), '--foreground', '--ready-fd', String(READY_FD)], {
    detached: true,
    // Warnings found later (a write refused for a reason found after the mount came up) reach the user's
    // terminal, when there is one; never a pipe, which would keep a caller's read of it waiting.
    stdio: ['ignore', log, log !== 'ignore' ? log : process.stderr.isTTY ? 'inherit' : 'ignore', 'pipe']
  })
  const channel = child.stdio[READY_FD] as NodeJS.ReadableStream
  const outcome = await new Promise<{ ok: boolean, error?: string, notices?: string[] }>(resolve => {
    let text = ''
    const timer = setTimeout(() => resolve({ ok: false, error: 'the mount did not come up in time' }), READY_TIMEOUT_MS)
    channel.setEncoding('utf8')
    channel.on('data', (chunk: string) => { text += chunk })
    channel.on('end', () => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(text))
      } catch {
        resolve({ ok: false, error: 'the mount process ended without a word (run with -f to see why)' })
      }
    })
  })
  if (!outcome.ok) {
    process.stderr.write(`isomount: ${outcome.error ?? 'mount failed'}\n`)
    process.exitCode = EXIT_FAILURE
    return
  }
  for (const notice of outcome.notices ?? []) process.stderr.write(`isomount: warning: ${notice}\n`)
  child.unref()
  ;(channel as unknown as { destroy: () => void }).destroy()
}

/**
 * Sends `request` to the daemon of the mount at `mountpoint` and reports its answer; returns whether it
 * succeeded (the exit status is set too). `quiet` (umount(8)'s helper) leaves out the success message, and
 * progress unless the work takes over a second: a quick umount says nothing, a long one why it waits.
 */
export async function control (mountpoint: string, request: ControlRequest, options: { quiet?: boolean } = {}): Promise<boolean> {
  const dir = resolveDir(mountpoint)
  const record = readMountRecord(dir)
  if (record === undefined) {
    if (currentPlatform().isMountPoint(dir)) {
      throw new InvalidInputError('NOT_FOUND', `${dir} is not served by a running isomount (unmount it with ${currentPlatform().manualUnmount(dir)})`)
    }
    throw new InvalidInputError('NOT_FOUND', `nothing is mounted at ${dir}`)
  }
  const started = Date.now()
  // Loaded here: the mount command (most runs) never talks to a daemon, and starts faster without it.
  const { sendControlRequest } = await import('../fuse/control')
  const reply = await sendControlRequest(record.socket, request, text => {
    if (options.quiet !== true || Date.now() - started > 1000) process.stderr.write(`isomount: ${text}\n`)
  })
  if (!reply.ok) {
    process.stderr.write(`isomount: ${reply.error}\n`)
    process.exitCode = EXIT_FAILURE
    return false
  }
  if (reply.message !== undefined) {
    // Status goes to stdout (scripts read it); what unmount and sync did is a report, on stderr.
    if (request.op === 'status') process.stdout.write(`${reply.message}\n`)
    else if (options.quiet !== true) process.stderr.write(`isomount: ${reply.message}\n`)
  }
  return true
}

function resolveDir (dir: string): string {
  try {
    return fs.realpathSync(dir)
  } catch {
    return path.resolve(dir)
  }
}
