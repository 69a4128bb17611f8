import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { ImageLock } from '../../src/fuse/runtime'
import { alive, daemonPid, detachMount, ISOMOUNT, isMounted, isomount, mountImage, ROOT, waitFor } from '../helpers/mount'
import { genisoimage, hasCommand, run, scratch, writeTree } from '../helpers/tools'
import { pattern, sha256 } from '../helpers/tree'

/*
 * Data safety in the user's hands (issue 13): umount(8) waits for the commit through its helper, from
 * fstab and mount -t lines too; `isomount -u` commits while the mount is live, so a commit that fails for
 * want of room leaves the mount there to remove the big file through; a daemon waiting to retry keeps its
 * control socket when the mount point is mounted again; stale locks are recognised; mount point mistakes
 * are named. What reaches the image is read back by bsdtar, isoinfo and xorriso.
 */

const dir = scratch(t, 'unmount-safety')
const isRoot = process.getuid?.() === 0
const src = path.join(dir, 'src')
writeTree(src, { 'keep.txt': 'keep\n', docs: { 'a.txt': 'a\n' } })
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J'], src)
// Big enough that its commit takes a while: a umount that returned before it would be caught out.
const big = path.join(dir, 'big.bin')
fs.writeFileSync(big, pattern(64 * 2 ** 20, 7))
const bigSum = sha256(fs.readFileSync(big))

function copyOfBase (name: string, where = dir): string {
  const image = path.join(where, name)
  fs.copyFileSync(base, image)
  return image
}

const bsdtarList = (image: string): string[] => run('bsdtar', ['-tf', image]).stdout.split('\n').filter(l => l !== '' && l !== '.')
const bsdtarSum = (image: string, file: string): string => {
  const out = path.join(dir, `extract-${process.hrtime.bigint()}`)
  fs.mkdirSync(out)
  run('bsdtar', ['-xf', image, '-C', out, file])
  return sha256(fs.readFileSync(path.join(out, file)))
}

/** Kills what a test's daemons left (processes whose command line names `where`), then lazily unmounts. */
function killDaemonsUnder (where: string): void {
  const pids = spawnSync('pgrep', ['-f', `${where}/.* --foreground`], { encoding: 'utf8' }).stdout.split('\n').filter(p => p !== '').map(Number)
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  }
}

const canNamespace = isRoot && hasCommand('unshare') && spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
  `mkdir -p '${dir}/ovtest' && mount -t overlay overlay -o lowerdir='${dir}/ovtest':/usr/sbin /usr/sbin`]).status === 0

t.test('umount(8) waits for the commit through /sbin/umount.fuse.isomount: fstab, mount -t, isomount mounts', {
  skip: canNamespace ? false : 'needs root, unshare and overlayfs: the helpers are put into /usr/sbin inside a private mount namespace'
}, async t => {
  // The helpers as scripts/install-mount-helpers.sh writes them, seen in /sbin only inside the namespace.
  const helpers = path.join(dir, 'helpers')
  fs.mkdirSync(helpers)
  run('sh', [path.join(ROOT, 'scripts/install-mount-helpers.sh'), helpers])
  const ns = path.join(dir, 'ns')
  fs.mkdirSync(ns)
  t.teardown(() => killDaemonsUnder(ns))
  const img = (name: string): string => copyOfBase(name, ns)
  const [fstabImage, typeImage, plainImage, busyImage, lazyImage, deadImage, controlImage] =
    ['fstab.iso', 'type.iso', 'plain.iso', 'busy.iso', 'lazy.iso', 'dead.iso', 'control.iso'].map(img)
  const mnt = (name: string): string => { const m = path.join(ns, name); fs.mkdirSync(m); return m }
  const [m1, m2, m3, m4, m5, m6, m7] = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'].map(mnt)
  const fstab = path.join(ns, 'fstab')
  fs.writeFileSync(fstab, `${fstabImage} ${m1} fuse.isomount rw,noauto,nofail 0 0\n`)
  const isomountCmd = `'${process.execPath}' '${ISOMOUNT}'`
  // Each step prints "RESULT name value"; everything left mounted is lazily unmounted when the shell ends.
  const script = `
set -u
say() { echo "RESULT $1 $2"; }
listed() { bsdtar -tf "$1" | grep -qx "$2" && echo yes || echo no; }
mounted() { grep -q " $1 fuse.isomount " /proc/self/mounts && echo yes || echo no; }
# The daemon of a mount point, from its record (pgrep -f would match this script's own text).
daemon() { grep -l "\\"mountpoint\\":\\"$1\\"" /run/isomount/*.json 2>/dev/null | xargs -r sed 's/.*"pid":\\([0-9]*\\).*/\\1/'; }
trap 'for m in ${[m1, m2, m3, m4, m5, m6, m7].join(' ')}; do umount -i -l $m 2>/dev/null; done' EXIT
mount -t overlay overlay -o lowerdir='${helpers}':/usr/sbin /usr/sbin || exit 90

mount -T '${fstab}' '${m1}'; say fstab-mount $?
cp '${big}' '${m1}/big.bin'
umount '${m1}'; say fstab-umount $?
say fstab-committed $(listed '${fstabImage}' big.bin)
say fstab-gone $(mounted '${m1}')

mount -t fuse.isomount -o commit=remaster '${typeImage}' '${m2}'; say type-mount $?
cp '${big}' '${m2}/big.bin'
umount '${m2}'; say type-umount $?
say type-committed $(isoinfo -R -f -i '${typeImage}' | grep -qx /big.bin && echo yes || echo no)

${isomountCmd} '${plainImage}' '${m3}'; say plain-mount $?
cp '${big}' '${m3}/big.bin'
umount '${m3}'; say plain-umount $?
say plain-committed $(xorriso -indev '${plainImage}' -find / -name big.bin 2>/dev/null | grep -q big.bin && echo yes || echo no)

${isomountCmd} '${busyImage}' '${m4}'; say busy-mount $?
echo new > '${m4}/new.txt'
(cd '${m4}' && exec sleep 60) & holder=$!
sleep 0.3
umount '${m4}' 2>'${ns}/busy.err'; say busy-umount $?
say busy-still-mounted $(mounted '${m4}')
say busy-committed $(listed '${busyImage}' new.txt)
kill $holder; wait $holder 2>/dev/null
umount '${m4}'; say busy-retry $?

${isomountCmd} '${lazyImage}' '${m5}'; say lazy-mount $?
cp '${big}' '${m5}/big.bin'
umount -l '${m5}'; say lazy-umount $?
say lazy-committed $(listed '${lazyImage}' big.bin)

${isomountCmd} '${deadImage}' '${m6}'; say dead-mount $?
kill -9 $(daemon '${m6}')
sleep 0.3
umount '${m6}'; say dead-umount $?
say dead-gone $(mounted '${m6}')

# Without the helper (umount -i, as fusermount -u): it returns before the commit has ended.
${isomountCmd} '${controlImage}' '${m7}'; say control-mount $?
cp '${big}' '${m7}/big.bin'
umount -i '${m7}'; say control-umount $?
say control-committed-at-return $(listed '${controlImage}' big.bin)
for i in $(seq 100); do [ -n "$(daemon '${m7}')" ] || break; sleep 0.1; done
say control-committed-later $(listed '${controlImage}' big.bin)
`
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8', timeout: 240_000 })
  const results = Object.fromEntries(r.stdout.split('\n').filter(l => l.startsWith('RESULT ')).map(l => l.split(' ').slice(1, 3)))
  t.equal(r.status, 0, `the script ran: ${r.stderr}`)

  t.equal(results['fstab-mount'], '0', 'mount -T FSTAB mounts through /sbin/mount.fuse.isomount')
  t.equal(results['fstab-umount'], '0', 'umount exits 0')
  t.equal(results['fstab-committed'], 'yes', 'and when it returns, the image holds the new file (bsdtar)')
  t.equal(results['fstab-gone'], 'no', 'and the mount is gone')
  t.equal(bsdtarSum(fstabImage, 'big.bin'), bigSum, 'with the right content')

  t.equal(results['type-mount'], '0', 'mount -t fuse.isomount -o commit=remaster mounts')
  t.equal(results['type-umount'], '0')
  t.equal(results['type-committed'], 'yes', 'umount returned with the remaster done (isoinfo)')

  t.equal(results['plain-mount'], '0', 'isomount IMAGE DIR')
  t.equal(results['plain-umount'], '0')
  t.equal(results['plain-committed'], 'yes', 'plain umount returned with the commit done (xorriso)')

  t.equal(results['busy-mount'], '0')
  t.not(results['busy-umount'], '0', 'umount of a busy mount fails')
  t.match(fs.readFileSync(path.join(ns, 'busy.err'), 'utf8'), /busy/, 'saying it is busy')
  t.equal(results['busy-still-mounted'], 'yes', 'and leaves it mounted')
  t.equal(results['busy-committed'], 'yes', 'with the changes made so far committed')
  t.equal(results['busy-retry'], '0', 'once nothing is inside, umount succeeds')

  t.equal(results['lazy-umount'], '0', 'umount -l')
  t.equal(results['lazy-committed'], 'yes', 'with nothing open, umount -l waits for the commit too')

  t.equal(results['dead-mount'], '0')
  t.equal(results['dead-umount'], '0', 'a mount whose daemon was killed is still unmounted by umount (the helper hands it to umount -i)')
  t.equal(results['dead-gone'], 'no')

  t.equal(results['control-umount'], '0')
  t.equal(results['control-committed-later'], 'yes', 'without the helper the commit still happens')
  t.comment(`without the helper (umount -i), the image held the new file when umount returned: ${results['control-committed-at-return']}`)
  t.same(fs.readdirSync(ns).filter(n => n.endsWith('-lock')), ['.dead.iso.isomount-lock'], 'no lock is left beside the images but the killed daemon\'s')
  t.notMatch(fs.readFileSync('/run/mount/utab', 'utf8'), ns, 'nor an entry in /run/mount/utab')
})

t.test('isomount -u commits while mounted: a commit without room leaves the mount usable', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async t => {
  const small = path.join(dir, 'small')
  fs.mkdirSync(small)
  run('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', small])
  t.teardown(() => { run('umount', ['-l', small], { allowFailure: true }) })
  const image = copyOfBase('full.iso', small)
  const original = sha256(fs.readFileSync(image))
  const m = mountImage(t, image)
  t.equal(m.result.status, 0)
  fs.copyFileSync(big, path.join(m.mountpoint, 'big.bin'))
  fs.writeFileSync(path.join(m.mountpoint, 'small.txt'), 'small\n')
  const failed = m.unmount()
  t.equal(failed.status, 1, 'isomount -u fails')
  t.match(failed.stderr, /free/, 'saying there is no room')
  t.match(failed.stderr, `${m.mountpoint} stays mounted`, 'and that the mount stays')
  t.match(failed.stderr, `isomount -u ${m.mountpoint}`, 'and how to retry')
  t.equal(sha256(fs.readFileSync(image)), original, 'the image is byte-identical')
  t.ok(isMounted(m.mountpoint), 'still mounted')
  t.equal(fs.statSync(path.join(m.mountpoint, 'big.bin')).size, 64 * 2 ** 20, 'with the changes in it')

  // The user removes what does not fit, through the mount, and unmounts again.
  fs.rmSync(path.join(m.mountpoint, 'big.bin'))
  const retried = m.unmount()
  t.equal(retried.status, 0, `the retry succeeds: ${retried.stderr}`)
  t.notOk(isMounted(m.mountpoint), 'and unmounts')
  t.same(bsdtarList(image).map(n => n.replace(/\/$/, '')).sort(), ['docs', 'docs/a.txt', 'keep.txt', 'small.txt'], 'the image holds the small file, not the big one (bsdtar)')
  t.same(fs.readdirSync(small), ['full.iso'], 'nothing is left beside it')
})

t.test('a daemon waiting to retry its commit keeps its control socket when the mount point is mounted again', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async t => {
  const small = path.join(dir, 'small2')
  fs.mkdirSync(small)
  run('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', small])
  t.teardown(() => { run('umount', ['-l', small], { allowFailure: true }) })
  const image = copyOfBase('wait.iso', small)
  const m = mountImage(t, image)
  const pid = daemonPid(m.mountpoint)
  fs.copyFileSync(big, path.join(m.mountpoint, 'big.bin'))
  // Unmounted behind isomount's back (umount -i: no helper): the commit runs after the unmount, fails,
  // and the daemon waits.
  run('umount', ['-i', m.mountpoint])
  await waitFor(() => !isMounted(m.mountpoint), 10_000, 'the unmount')
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.ok(alive(pid), 'the daemon waits with the changes')

  const other = copyOfBase('other.iso')
  const again = isomount([other, m.mountpoint])
  t.equal(again.status, 1, 'mounting another image there is refused')
  t.match(again.stderr, `isomount process ${pid} still holds changes to ${image}`, 'naming the waiting daemon')
  t.match(again.stderr, `isomount -u ${m.mountpoint}`, 'and how to retry')
  t.notOk(isMounted(m.mountpoint))

  run('mount', ['-o', 'remount,size=200m', small])
  const retried = isomount(['-u', m.mountpoint])
  t.equal(retried.status, 0, `isomount -u still reaches the daemon and retries: ${retried.stderr}`)
  t.equal(bsdtarSum(image, 'big.bin'), bigSum, 'the image holds the file (bsdtar)')
  await waitFor(() => !alive(pid), 10_000, 'the daemon to end')

  const now = mountImage(t, other, [], m.mountpoint)
  t.equal(now.result.status, 0, 'then the mount point takes another mount')
  t.equal(now.unmount().status, 0)
})

t.test('stale locks: a dead, a zombie or a reused pid does not hold an image; another machine does', async t => {
  const image = copyOfBase('locked.iso')
  const lock = path.join(dir, '.locked.iso.isomount-lock')
  /** What a read-write mount does first (daemon.ts): take the lock, here over `content`. */
  const takeOver = (content: object): void => {
    fs.writeFileSync(lock, JSON.stringify(content))
    ImageLock.acquire(image).release()
  }
  const dead = Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim())
  t.doesNotThrow(() => takeOver({ pid: dead, start: '1', host: os.hostname() }), 'a dead process\'s lock is taken over')
  t.doesNotThrow(() => takeOver({ pid: 2 ** 22 + 999 }), 'an old lock without start time or host, naming no process')

  // A zombie: ended, but never collected by its parent (kill(pid, 0) still finds it).
  const python = spawn('python3', ['-c', 'import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)'])
  t.teardown(() => python.kill())
  const zombie = await new Promise<number>(resolve => python.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))))
  await new Promise(resolve => setTimeout(resolve, 200))
  t.doesNotThrow(() => takeOver({ pid: zombie, host: os.hostname() }), 'a zombie\'s lock is taken over')

  // A process that runs, with another start time than the lock says: a later process given the holder's pid.
  const sleeper = spawn('sleep', ['60'])
  t.teardown(() => sleeper.kill())
  t.doesNotThrow(() => takeOver({ pid: sleeper.pid, start: '1', host: os.hostname() }), 'a reused pid does not hold it')
  fs.writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, host: os.hostname() }))
  t.throws(() => ImageLock.acquire(image), { code: 'BUSY', message: `mounted read-write (or its commit is still running) by process ${sleeper.pid}` }, 'a live holder does')

  fs.writeFileSync(lock, JSON.stringify({ pid: dead, start: '1', host: 'build-server-7' }))
  t.throws(() => ImageLock.acquire(image), { code: 'BUSY', message: `by process ${dead} on build-server-7; if that mount is gone (the machine was shut down), remove ${lock}` },
    'a lock from another machine is respected, naming the file to remove if that mount is gone')
  t.throws(() => ImageLock.requireFree(image), { code: 'BUSY' }, 'read-only mounts too')
  fs.rmSync(lock)

  // Through the command: a read-write mount over a zombie's lock.
  fs.writeFileSync(lock, JSON.stringify({ pid: zombie, host: os.hostname() }))
  const m = mountImage(t, image)
  t.equal(m.result.status, 0, `isomount takes a zombie's lock over: ${m.result.stderr}`)
  t.equal(m.unmount().status, 0)
  t.notOk(fs.existsSync(lock), 'and removes its own at the end')
})

t.test('mount point mistakes are named', async t => {
  const image = copyOfBase('mp.iso')
  const missing = path.join(dir, 'no-such-dir')
  let r = isomount([image, missing])
  t.equal(r.status, 1)
  t.match(r.stderr, `mount point ${missing} does not exist (create it first: mkdir -p ${missing})`)

  const full = path.join(dir, 'full')
  writeTree(full, { 'mine.txt': 'mine\n', 'b.txt': 'b', 'c.txt': 'c', 'd.txt': 'd' })
  r = isomount([image, full])
  t.equal(r.status, 1)
  t.match(r.stderr, `mount point ${full} is not empty (it holds b.txt, c.txt, d.txt and 1 more)`)
  t.match(r.stderr, '-o nonempty')
  t.notOk(isMounted(full))
  const over = mountImage(t, image, ['nonempty'], full)
  t.equal(over.result.status, 0, `-o nonempty mounts over it: ${over.result.stderr}`)
  t.ok(fs.existsSync(path.join(full, 'keep.txt')) && !fs.existsSync(path.join(full, 'mine.txt')), 'the image shows, what was there is hidden')
  t.equal(over.unmount().status, 0)
  t.equal(fs.readFileSync(path.join(full, 'mine.txt'), 'utf8'), 'mine\n', 'and is back, untouched, after')

  r = isomount([image, image])
  t.match(r.stderr, `mount point ${image} is not a directory`)

  const m = mountImage(t, image)
  r = isomount([copyOfBase('mp2.iso'), m.mountpoint])
  t.equal(r.status, 1)
  t.match(r.stderr, `${m.mountpoint} is already mounted (${image}, isomount process ${daemonPid(m.mountpoint)}); unmount it first: isomount -u ${m.mountpoint}`)

  // A mount whose daemon was killed: every access fails with ENOTCONN until it is unmounted.
  const pid = daemonPid(m.mountpoint) as number
  process.kill(pid, 'SIGKILL')
  await waitFor(() => !alive(pid), 10_000, 'the daemon to die')
  r = isomount([copyOfBase('mp3.iso'), m.mountpoint])
  t.equal(r.status, 1)
  t.match(r.stderr, `${m.mountpoint} is a mount whose file system process has ended; unmount it first (${isRoot ? 'umount' : 'fusermount -u'} ${m.mountpoint})`)
  detachMount(m.mountpoint)
})

t.test('no daemon or mount is left behind', async t => {
  await waitFor(() => !fs.readFileSync('/proc/self/mounts', 'utf8').includes(dir), 10_000, 'mounts under the scratch directory to go')
  t.pass('none')
})
