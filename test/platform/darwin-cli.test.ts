import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { controlSocketPath, runtimeDir } from '../../src/fuse/runtime'
import { isomount } from '../helpers/mount'
import { genisoimage, scratch, writeTree } from '../helpers/tools'

/*
 * The CLI's mount-state logic with the platform forced to macOS (ISOMOUNT_PLATFORM=darwin) and stand-ins
 * for macOS's mount, umount, diskutil and ps on PATH: no Mac runs our tests, so this is how the darwin
 * paths are exercised end to end. The stand-ins log their calls; none of Linux's commands may be used.
 */

const dir = scratch(t, 'darwin-cli')
const fake = path.join(dir, 'bin')
const calls = path.join(dir, 'calls.log')
const listing = path.join(dir, 'mount-listing')
fs.mkdirSync(fake)
const stub = (name: string, body: string): void => fs.writeFileSync(path.join(fake, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`, { mode: 0o755 })
stub('mount', `cat '${listing}' 2>/dev/null`)
stub('umount', 'exit 0')
stub('diskutil', 'exit 0')
// macOS ps: a process that runs prints its state and start; the stand-in says zombie for PIDs listed in a file.
stub('ps', `pid=$(echo "$*" | sed 's/.*-p //'); if grep -qx "$pid" '${dir}/zombies' 2>/dev/null; then echo "Z    Tue Dec  2 09:00:01 2025"; else echo "Ss   Tue Dec  2 09:00:01 2025"; fi`)
// Linux's tools must not be reached from the macOS paths.
stub('fusermount', 'echo "fusermount must not run on macOS" >&2; exit 99')

const env = { ...process.env, ISOMOUNT_PLATFORM: 'darwin', PATH: `${fake}:${process.env.PATH ?? ''}` }
const callLog = (): string[] => fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n').map(l => l.trimEnd()) : []
const macMount = (source: string, target: string): string => `${source} on ${target} (macfuse, local, nodev, nosuid, synchronous, mounted by alice)\n`

const mnt = path.join(dir, 'mnt')
fs.mkdirSync(mnt)
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': 'a\n' })
const image = genisoimage(path.join(dir, 'a.iso'), ['-R'], src)

t.test('isomount -u: nothing mounted, or mounted without a daemon (umount named, not fusermount)', async t => {
  fs.writeFileSync(listing, '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)\n')
  let r = isomount(['-u', mnt], { env })
  t.equal(r.status, 1)
  t.match(r.stderr, `nothing is mounted at ${mnt}`)
  t.ok(callLog().includes('mount'), 'the mount table came from mount(8)')

  fs.appendFileSync(listing, macMount('/elsewhere/b.iso', mnt))
  r = isomount(['-u', mnt], { env })
  t.equal(r.status, 1)
  t.match(r.stderr, `${mnt} is not served by a running isomount (unmount it with umount ${mnt})`)
  t.notOk(callLog().some(c => c.startsWith('fusermount')), 'fusermount was never run')
})

t.test('mounting where macOS\'s mount table already has a mount is refused before anything is touched', async t => {
  fs.writeFileSync(listing, macMount('/elsewhere/b.iso', mnt))
  const r = isomount([image, mnt], { env })
  t.equal(r.status, 1)
  t.match(r.stderr, `${mnt} is already a mount point`)
  t.notOk(fs.existsSync(path.join(dir, '.a.iso.isomount-lock')), 'no lock was taken')
})

t.test('a daemon record naming a zombie (by ps) or a dead process is not a live mount', async t => {
  fs.writeFileSync(listing, '')
  const record = path.join(runtimeDir(), path.basename(controlSocketPath(mnt)).replace(/\.sock$/, '.json'))
  t.teardown(() => fs.rmSync(record, { force: true }))
  // A live pid (this test's own) that macOS's ps reports as a zombie.
  fs.writeFileSync(path.join(dir, 'zombies'), `${process.pid}\n`)
  fs.writeFileSync(record, JSON.stringify({ pid: process.pid, start: 'Tue Dec 2 09:00:01 2025', image, mountpoint: mnt, socket: controlSocketPath(mnt) }))
  let r = isomount(['-u', mnt], { env })
  t.match(r.stderr, `nothing is mounted at ${mnt}`, 'the zombie\'s record is ignored')
  t.ok(callLog().includes(`ps -o stat=,lstart= -p ${process.pid}`), 'asked ps, as on macOS')

  // The same pid running, but started at another time than the record says: a later process, not the daemon.
  fs.writeFileSync(path.join(dir, 'zombies'), '')
  fs.writeFileSync(record, JSON.stringify({ pid: process.pid, start: 'Mon Dec  1 08:00:00 2025', image, mountpoint: mnt, socket: controlSocketPath(mnt) }))
  r = isomount(['-u', mnt], { env })
  t.match(r.stderr, `nothing is mounted at ${mnt}`, 'a reused pid is not the daemon')

  // Started when the record says: taken for the daemon (its socket does not answer: the request fails).
  fs.writeFileSync(record, JSON.stringify({ pid: process.pid, start: 'Tue Dec 2 09:00:01 2025', image, mountpoint: mnt, socket: path.join(dir, 'no.sock') }))
  r = isomount(['-u', mnt], { env })
  t.equal(r.status, 1)
  t.notMatch(r.stderr, 'nothing is mounted', 'a running daemon\'s record is used')
})
