import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { extractWithBsdtar, isoinfoNames } from '../helpers/readers'
import { alive, daemonPid, isMounted, isomount, mountImage, waitFor } from '../helpers/mount'
import { DEBIAN_IMAGES, genisoimage, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { snapshot } from '../helpers/tree'

/*
 * The read-only mount driven by ordinary tools: each namespace against isoinfo and the source tree,
 * the isofs-style options, and the life cycle (busy unmount, signals, external umount, refusals).
 */

const MTIME = new Date('2019-05-05T05:05:05Z')
const dir = scratch(t, 'ro-mount')
const src = path.join(dir, 'src')
writeTree(src, {
  'readme.txt': { file: 'read me\n', mtime: MTIME, mode: 0o644 },
  'tool.sh': { file: '#!/bin/sh\n', mode: 0o755 },
  'a-rather-long-file-name-for-iso9660.text': 'long\n',
  docs: { 'manual.txt': 'manual\n', deeper: { 'x.bin': Buffer.alloc(5000, 1) } },
  link: { symlink: 'readme.txt' },
  'hard-a': 'shared\n',
  'hard-b': { hardlink: 'hard-a' }
})
const rrJoliet = genisoimage(path.join(dir, 'rr-joliet.iso'), ['-R', '-J'], src)
const jolietOnly = genisoimage(path.join(dir, 'joliet-only.iso'), ['-J'], src)

/** The names under a mount point, relative, sorted (what `find` prints). */
function find (mountpoint: string): string[] {
  return run('find', ['.', '-mindepth', '1'], { cwd: mountpoint }).stdout.split('\n').filter(l => l !== '').map(l => l.slice(2)).sort()
}

t.test('Rock Ridge namespace equals the source tree (cp -a, tar, find)', async t => {
  const { mountpoint, result } = mountImage(t, rrJoliet, ['ro'])
  t.equal(result.status, 0, result.stderr)
  t.ok(isMounted(mountpoint), 'the command returned with the mount live')
  t.same(find(mountpoint), isoinfoNames(rrJoliet, '-R'), 'find lists what isoinfo -R lists')
  const copy = path.join(dir, 'cp-a')
  run('cp', ['-a', `${mountpoint}/.`, copy])
  t.same(snapshot(copy, { modes: true, mtimes: true }), snapshot(src, { modes: true, mtimes: true }), 'cp -a copies the source tree: contents, modes, mtimes, symlinks')
  const tarred = path.join(dir, 'tarred')
  fs.mkdirSync(tarred)
  run('sh', ['-c', `tar cf - -C '${mountpoint}' . | tar xf - -C '${tarred}'`])
  t.same(snapshot(tarred), snapshot(src), 'tar through the mount reproduces the tree')
  const a = fs.statSync(path.join(mountpoint, 'hard-a'))
  t.equal(a.ino, fs.statSync(path.join(mountpoint, 'hard-b')).ino, 'hard links share st_ino')
  t.equal(a.nlink, 2)
})

t.test('inode numbers are the same at every mount', async t => {
  const first = mountImage(t, rrJoliet, ['ro'])
  const ino1 = fs.statSync(path.join(first.mountpoint, 'docs/manual.txt')).ino
  t.equal(first.unmount().status, 0)
  const second = mountImage(t, rrJoliet, ['ro'])
  t.equal(fs.statSync(path.join(second.mountpoint, 'docs/manual.txt')).ino, ino1)
})

t.test('Joliet and ISO9660 namespaces', async t => {
  for (const [namespace, flag] of [['joliet', '-J'], ['iso9660', '']] as const) {
    const { mountpoint, result, unmount } = mountImage(t, rrJoliet, ['ro', `namespace=${namespace}`])
    t.equal(result.status, 0, result.stderr)
    t.same(find(mountpoint), isoinfoNames(rrJoliet, flag), `${namespace}: names as isoinfo ${flag} -l lists them`)
    const readme = namespace === 'joliet' ? 'readme.txt' : 'README.TXT'
    t.equal(fs.readFileSync(path.join(mountpoint, readme), 'utf8'), 'read me\n', `${namespace}: content`)
    t.equal(unmount().status, 0)
  }
})

t.test('norock and nojoliet', async t => {
  const norock = mountImage(t, rrJoliet, ['ro', 'norock'])
  t.same(find(norock.mountpoint), isoinfoNames(rrJoliet, '-J'), 'norock on a Joliet image shows Joliet names')
  t.notOk(fs.lstatSync(path.join(norock.mountpoint, 'link')).isSymbolicLink(), 'and no Rock Ridge symlinks')
  t.equal(norock.unmount().status, 0)
  const neither = mountImage(t, rrJoliet, ['ro', 'norock', 'nojoliet'])
  t.same(find(neither.mountpoint), isoinfoNames(rrJoliet, ''), 'norock,nojoliet shows plain ISO9660 names')
})

t.test('uid=, gid=, mode=, dmode= where the image records none', async t => {
  const { mountpoint } = mountImage(t, jolietOnly, ['ro', 'uid=1234', 'gid=4321', 'mode=0640', 'dmode=0750'])
  const file = fs.statSync(path.join(mountpoint, 'readme.txt'))
  t.equal(file.uid, 1234)
  t.equal(file.gid, 4321)
  t.equal(file.mode & 0o7777, 0o640)
  t.equal(fs.statSync(path.join(mountpoint, 'docs')).mode & 0o7777, 0o750)
  // rrJoliet is a different image: both can be mounted at once.
  // With Rock Ridge the recorded values win (isofs does the same).
  const rr = mountImage(t, rrJoliet, ['ro', 'uid=1234', 'mode=0600'])
  t.equal(fs.statSync(path.join(rr.mountpoint, 'tool.sh')).mode & 0o7777, 0o755, 'Rock Ridge mode kept')
})

t.test('read-only: writes fail with EROFS', async t => {
  const { mountpoint } = mountImage(t, rrJoliet, ['ro'])
  t.throws(() => fs.writeFileSync(path.join(mountpoint, 'new.txt'), 'x'), { code: 'EROFS' })
  t.throws(() => fs.appendFileSync(path.join(mountpoint, 'readme.txt'), 'x'), { code: 'EROFS' })
  t.throws(() => fs.mkdirSync(path.join(mountpoint, 'newdir')), { code: 'EROFS' })
})

t.test('session= reads an older session', async t => {
  const multi = path.join(dir, 'multi.iso')
  const s1 = path.join(dir, 's1')
  const s2 = path.join(dir, 's2')
  writeTree(s1, { 'first.txt': 'one\n' })
  writeTree(s2, { 'second.txt': 'two\n' })
  run('xorriso', ['-outdev', multi, '-map', s1, '/', '-commit'])
  run('xorriso', ['-dev', multi, '-map', s2, '/', '-commit'])
  const newest = mountImage(t, multi, ['ro'])
  t.same(find(newest.mountpoint), ['first.txt', 'second.txt'], 'default: the newest session')
  t.equal(newest.unmount().status, 0)
  const older = mountImage(t, multi, ['ro', 'session=1'])
  t.same(find(older.mountpoint), ['first.txt'], 'session=1: the first')
  t.equal(older.unmount().status, 0)
  const rw = isomount(['-o', 'session=1', multi, path.join(dir, 's1')])
  t.equal(rw.status, 2, 'an older session cannot be mounted read-write: a usage error, as an unknown option is')
  t.match(rw.stderr, /session= needs ro/)
})

t.test('refusals: one line on stderr, exit 1, nothing left mounted', async t => {
  const target = path.join(dir, 'target')
  fs.mkdirSync(target)
  const cases: Array<[string, string[], RegExp]> = [
    ['a missing image', [path.join(dir, 'missing.iso'), target], /no such file/],
    ['a missing mount point', [rrJoliet, path.join(dir, 'nowhere')], /no such file|does not exist|ENOENT/],
    ['a file that is not ISO9660', [path.join(src, 'readme.txt'), target], /invalid image/],
    ['an unknown option', ['-o', 'frobnicate', rrJoliet, target], /unknown mount option "frobnicate"/]
  ]
  for (const [what, args, message] of cases) {
    const r = isomount(args)
    t.not(r.status, 0, `${what}: non-zero exit`)
    t.match(r.stderr, message, `${what}: says why`)
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: in one line`)
    t.notOk(isMounted(target), `${what}: nothing mounted`)
  }
  const damaged = path.join(dir, 'damaged.iso')
  const bytes = fs.readFileSync(rrJoliet)
  bytes.writeUInt32BE(12345, 16 * 2048 + 84) // volume space size, big-endian half
  fs.writeFileSync(damaged, bytes)
  const strict = isomount(['-o', 'ro,check=strict', damaged, target])
  t.equal(strict.status, 1, 'check=strict refuses an irregular image')
  t.match(strict.stderr, /both-endian mismatch/)
  t.notOk(isMounted(target))
  const relaxed = mountImage(t, damaged, ['ro'])
  t.equal(relaxed.result.status, 0, 'the default (relaxed) mounts it')
})

t.test('an image is mounted read-write once at a time; read-only mounts share it, but not with a writer', async t => {
  const image = path.join(dir, 'locked.iso')
  fs.copyFileSync(rrJoliet, image)
  const reader = mountImage(t, image, ['ro'])
  const otherReader = mountImage(t, image, ['ro'])
  t.equal(reader.result.status + otherReader.result.status, 0, 'two read-only mounts')
  t.same(fs.readdirSync(dir).filter(n => n.startsWith('.locked.iso')), [], 'a read-only mount writes nothing beside the image')
  t.equal(reader.unmount().status + otherReader.unmount().status, 0)

  const writer = mountImage(t, image, [])
  t.equal(writer.result.status, 0, 'a read-write mount')
  const second = mountImage(t, image, [])
  t.equal(second.result.status, 1, 'a second read-write mount is refused')
  t.match(second.result.stderr, /mounted read-write .* by process \d+/)
  const third = mountImage(t, image, ['ro'])
  t.equal(third.result.status, 1, 'so is a read-only one while it is live')
  // The lock goes by the image's name: a file renamed over it (what a remaster does) is still locked.
  fs.copyFileSync(image, `${image}.new`)
  fs.renameSync(`${image}.new`, image)
  t.equal(mountImage(t, image, []).result.status, 1, 'still locked after a new file was renamed over the image')
  t.equal(writer.unmount().status, 0)
  const again = mountImage(t, image, [])
  t.equal(again.result.status, 0, 'free again at once after isomount -u')
})

t.test('isomount -u on a busy mount says so and leaves it mounted', async t => {
  const { mountpoint } = mountImage(t, rrJoliet, ['ro'])
  const holder = spawn('sleep', ['30'], { cwd: mountpoint, stdio: 'ignore' })
  t.teardown(() => { holder.kill() })
  await waitFor(() => fs.readlinkSync(`/proc/${holder.pid}/cwd`) === fs.realpathSync(mountpoint), 5000, 'the holder to sit in the mount')
  const busy = isomount(['-u', mountpoint])
  t.equal(busy.status, 1, 'exit 1')
  t.match(busy.stderr, /busy/)
  t.ok(isMounted(mountpoint), 'still mounted')
  t.equal(fs.readFileSync(path.join(mountpoint, 'readme.txt'), 'utf8'), 'read me\n', 'and still working')
  holder.kill()
  await waitFor(() => !alive(holder.pid), 5000, 'the holder to exit')
  const done = isomount(['-u', mountpoint])
  t.equal(done.status, 0, 'unmounts once free')
  t.notOk(isMounted(mountpoint))
})

t.test('SIGTERM to the daemon and an external umount both end it', async t => {
  const a = mountImage(t, rrJoliet, ['ro'])
  const pid = daemonPid(a.mountpoint)
  t.ok(alive(pid), 'a daemon serves the mount')
  process.kill(pid as number, 'SIGTERM')
  await waitFor(() => !alive(pid), 10_000, 'the daemon to exit on SIGTERM')
  t.notOk(isMounted(a.mountpoint), 'SIGTERM unmounted')
  // The image is free again at once.
  const b = mountImage(t, rrJoliet, ['ro'])
  const pid2 = daemonPid(b.mountpoint)
  run('umount', [b.mountpoint])
  await waitFor(() => !alive(pid2), 10_000, 'the daemon to exit after umount')
  t.notOk(isMounted(b.mountpoint), 'umount(8) unmounted')
})

t.test('a foreground mount (-f) runs until unmounted', async t => {
  const target = path.join(dir, 'fg')
  fs.mkdirSync(target)
  const child = spawn(process.execPath, [path.join(__dirname, '../../../bin/isomount'), '-f', '-o', 'ro', rrJoliet, target], { stdio: 'ignore' })
  t.teardown(() => { if (isMounted(target)) run('fusermount', ['-u', '-z', target], { allowFailure: true }); child.kill('SIGKILL') })
  await waitFor(() => isMounted(target), 10_000, 'the foreground mount')
  t.equal(fs.readFileSync(path.join(target, 'readme.txt'), 'utf8'), 'read me\n')
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  t.equal(isomount(['-u', target]).status, 0)
  t.equal(await exited, 0, 'the foreground process exits 0')
})

t.test('Debian\'s ipxe.iso through the mount equals bsdtar\'s extraction', { skip: fs.existsSync(DEBIAN_IMAGES.ipxe) ? false : 'ipxe is not installed' }, async t => {
  const { mountpoint } = mountImage(t, DEBIAN_IMAGES.ipxe, ['ro'])
  const extracted = extractWithBsdtar(DEBIAN_IMAGES.ipxe, path.join(dir, 'ipxe-bsdtar'))
  t.same(snapshot(mountpoint), snapshot(extracted))
})

t.test('xorriso images mount in every namespace', async t => {
  const iso = xorrisoMkisofs(path.join(dir, 'xorriso.iso'), ['-R', '-J'], src)
  for (const [namespace, flag] of [['rockridge', '-R'], ['joliet', '-J'], ['iso9660', '']] as const) {
    const { mountpoint, unmount } = mountImage(t, iso, ['ro', `namespace=${namespace}`])
    t.same(find(mountpoint), isoinfoNames(iso, flag).filter(n => !/^\.?rr_moved/.test(n)), namespace)
    t.equal(unmount().status, 0)
  }
})
