import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { currentPlatform, pidExists } from '../../src/platform'
import { darwin, parsePsStatus, setFuseDevicesForTest } from '../../src/platform/darwin'
import { linux } from '../../src/platform/linux'
import { bsdMountHasTarget, parseBsdMount, parseMountinfo } from '../../src/platform/mount-table'
import type { FuseOptionRequest } from '../../src/platform/platform'
import { scratch } from '../helpers/tools'

/*
 * The platform module's parts that need no FUSE: mount tables parsed from captured output, the libfuse
 * options each system gets, the unmount commands run (stand-ins on PATH log what they were called with),
 * FUSE descriptors and process liveness.
 */

/** /proc/self/mountinfo lines as this machine printed them (one path with a space, one with optional fields). */
const MOUNTINFO = [
  '26 1 0:23 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
  '44 26 0:39 / /tmp/scratch-safety/mnt rw,nosuid,nodev,relatime - fuse.isomount /tmp/scratch-safety/t.iso rw,user_id=0,group_id=0,default_permissions',
  '45 26 0:40 / /tmp/my\\040mounts/x rw,nosuid,nodev,relatime - fuse.isomount /tmp/a\\040b.iso rw,user_id=0,group_id=0,default_permissions',
  ''
].join('\n')

/**
 * macOS mount(8) output. The system lines and the macFUSE line format ("SOURCE on TARGET (macfuse, nodev,
 * nosuid, synchronous, mounted by USER)") are as published from real Macs (macFUSE's wiki on fsname,
 * JuiceFS's and Alluxio's docs); the isomount lines are what ours would print with `local` (not captured:
 * no Mac here), one with spaces in both paths and one whose source holds " on ".
 */
const MAC_MOUNT = [
  '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)',
  'devfs on /dev (devfs, local, nobrowse)',
  '/dev/disk3s6 on /System/Volumes/VM (apfs, local, noexec, journaled, noatime, nobrowse)',
  'map auto_home on /System/Volumes/Data/home (autofs, automounted, nobrowse)',
  'sshfs#singh@127.0.0.1:/tmp/dir on /private/tmp/ssh (macfuse, nodev, nosuid, synchronous, mounted by singh)',
  '/Users/alice/iso/debian 12.iso on /Users/alice/mnt/deb 12 (macfuse, local, nodev, nosuid, synchronous, mounted by alice)',
  '/Users/alice/iso/copy on disk.iso on /Volumes/COPY (macfuse, local, nodev, nosuid, synchronous, mounted by alice)',
  ''
].join('\n')

t.test('mountinfo: targets, types and sources, octal escapes undone', async t => {
  const entries = parseMountinfo(MOUNTINFO)
  t.same(entries.map(e => e.target), ['/', '/tmp/scratch-safety/mnt', '/tmp/my mounts/x'])
  t.same(entries[1], { source: '/tmp/scratch-safety/t.iso', target: '/tmp/scratch-safety/mnt', type: 'fuse.isomount' })
  t.equal(entries[2].source, '/tmp/a b.iso')
  t.equal(entries[0].type, 'overlay', 'optional fields before the separator are skipped')
  // The live table parses too, and holds the root.
  t.ok(parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).some(e => e.target === '/'), 'this machine\'s table has /')
})

t.test('macOS mount output: entries, and exact targets whatever the sources hold', async t => {
  const entries = parseBsdMount(MAC_MOUNT)
  t.equal(entries.length, 7)
  t.same(entries[4], { source: 'sshfs#singh@127.0.0.1:/tmp/dir', target: '/private/tmp/ssh', type: 'macfuse' })
  t.same(entries[5], { source: '/Users/alice/iso/debian 12.iso', target: '/Users/alice/mnt/deb 12', type: 'macfuse' })
  t.equal(entries[3].source, 'map auto_home')
  t.ok(bsdMountHasTarget(MAC_MOUNT, '/Users/alice/mnt/deb 12'), 'a target with a space')
  t.ok(bsdMountHasTarget(MAC_MOUNT, '/Volumes/COPY'), 'a target whose source holds " on "')
  t.notOk(bsdMountHasTarget(MAC_MOUNT, '/Users/alice/mnt/deb'), 'a prefix of a target is not one')
  t.notOk(bsdMountHasTarget(MAC_MOUNT, '/Users/alice/iso'), 'nor is a source\'s directory')
  t.notOk(bsdMountHasTarget(MAC_MOUNT, '/tmp/ssh'), 'macOS shows /private/tmp, which realpath gives')
})

const REQUEST: FuseOptionRequest = {
  readOnly: false,
  allowOther: false,
  fsname: '/images/a,b.iso',
  volumeName: 'DEBIAN 12',
  nonempty: false,
  appleDouble: false,
  appleXattr: false
}

t.test('libfuse options per system', async t => {
  const lin = linux.fuseOptions(REQUEST)
  t.ok(lin.includes('subtype=isomount'), 'Linux: the mount table says fuse.isomount (umount(8) finds its helper by it)')
  t.ok(lin.includes('big_writes') && lin.includes('use_ino'))
  t.ok(lin.includes('fsname=/images/a\\,b.iso'), 'a comma in a value is escaped')
  t.notOk(lin.some(o => /^(volname|local|noapple)/.test(o)), 'no macFUSE options on Linux')
  t.notOk(lin.includes('nonempty') || lin.includes('ro'))
  t.ok(linux.fuseOptions({ ...REQUEST, nonempty: true, readOnly: true }).includes('nonempty'), 'nonempty when asked')
  t.ok(linux.fuseOptions({ ...REQUEST, readOnly: true }).includes('ro'))

  const mac = darwin.fuseOptions(REQUEST)
  t.same(mac.filter(o => /^(volname|local|noappledouble|noapplexattr)/.test(o)), ['volname=DEBIAN 12', 'local', 'noappledouble', 'noapplexattr'],
    'macOS: the volume name, a local volume, and no ._* / .DS_Store / com.apple.* attributes by default')
  t.notOk(mac.some(o => /^(subtype|big_writes|nonempty)/.test(o)), 'no Linux-only options (macFUSE refuses unknown ones)')
  t.notOk(darwin.fuseOptions({ ...REQUEST, appleDouble: true }).includes('noappledouble'), 'appledouble turns Finder\'s files back on')
  t.notOk(darwin.fuseOptions({ ...REQUEST, appleXattr: true }).includes('noapplexattr'), 'applexattr the attributes')
  t.ok(darwin.fuseOptions({ ...REQUEST, readOnly: true }).includes('rdonly'))
})

/** Stand-in commands on PATH that log their arguments and answer as told. */
function fakeCommands (t: Test, commands: Record<string, string>): { log: () => string[] } {
  const dir = scratch(t, 'fake-bin')
  const logFile = path.join(dir, 'calls.log')
  for (const [name, body] of Object.entries(commands)) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho "${name} $*" >> '${logFile}'\n${body}\n`, { mode: 0o755 })
  }
  const saved = process.env.PATH
  process.env.PATH = `${dir}:${saved ?? ''}`
  t.teardown(() => { process.env.PATH = saved })
  return { log: () => fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').map(l => l.trimEnd()) : [] }
}

t.test('macOS unmount: umount first, diskutil when umount may not, never past a busy mount', async t => {
  t.test('busy', async t => {
    const fake = fakeCommands(t, {
      umount: 'echo "umount: unmount(/Volumes/X): Resource busy -- try \'diskutil unmount\'" >&2; exit 1',
      diskutil: 'exit 0',
      mount: `echo '/x.iso on /Volumes/X (macfuse, local, nodev, nosuid, synchronous, mounted by alice)'`
    })
    await t.rejects(darwin.unmount('/Volumes/X', 'normal'), { code: 'BUSY' })
    t.same(fake.log(), ['umount /Volumes/X'], 'a busy mount is not forced away')
  })
  t.test('umount not allowed', async t => {
    const fake = fakeCommands(t, {
      umount: 'echo "umount: unmount(/Volumes/X): Operation not permitted" >&2; exit 1',
      diskutil: 'echo "Volume X on disk5 unmounted"; exit 0',
      mount: `echo '/x.iso on /Volumes/X (macfuse, local, nodev, nosuid, synchronous, mounted by alice)'`
    })
    await darwin.unmount('/Volumes/X', 'normal')
    t.same(fake.log(), ['umount /Volumes/X', 'mount', 'diskutil unmount /Volumes/X'])
  })
  t.test('already gone', async t => {
    const fake = fakeCommands(t, {
      umount: 'echo "umount: /Volumes/X: not currently mounted" >&2; exit 1',
      diskutil: 'exit 1',
      mount: 'echo "/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)"'
    })
    await darwin.unmount('/Volumes/X', 'normal')
    t.same(fake.log(), ['umount /Volumes/X', 'mount'], 'not mounted any more: done')
  })
  t.test('detach', async t => {
    const fake = fakeCommands(t, { diskutil: 'exit 0', umount: 'exit 0' })
    await darwin.unmount('/Volumes/X', 'detach')
    t.same(fake.log(), ['diskutil unmount force /Volumes/X'], 'macOS has no lazy unmount: a forced one')
  })
  t.equal(darwin.manualUnmount('/Volumes/X'), 'umount /Volumes/X')
})

t.test('Linux unmount: umount -i as root (it tidies utab), fusermount -u otherwise; detaching, busy reported', async t => {
  const root = process.getuid?.() === 0
  const [busyCommand, detachCall] = root ? ['umount', 'umount -i -l /mnt/x'] : ['fusermount', 'fusermount -u -z /mnt/x']
  t.test('busy', async t => {
    const fake = fakeCommands(t, { [busyCommand]: 'echo "failed to unmount /mnt/x: Device or resource busy" >&2; exit 1' })
    await t.rejects(linux.unmount('/mnt/x', 'normal'), { code: 'BUSY' })
    t.same(fake.log(), [root ? 'umount -i /mnt/x' : 'fusermount -u /mnt/x'])
  })
  t.test('detach', async t => {
    const fake = fakeCommands(t, { umount: 'exit 0', fusermount: 'exit 0' })
    await linux.unmount('/mnt/x', 'detach')
    t.same(fake.log(), [detachCall])
  })
  t.test('not mounted', async t => {
    fakeCommands(t, { umount: 'echo "umount: /nonexistent/x: not mounted." >&2; exit 32', fusermount: 'echo "fusermount: entry for /nonexistent/x not found in /etc/mtab" >&2; exit 1' })
    await linux.unmount('/nonexistent/x', 'normal')
    t.pass('a mount point that is no longer mounted is not an error')
  })
  t.test('announced to libmount (as root): a fake mount with uhelper=, so umount(8) reads the type from the mount table', async t => {
    const fake = fakeCommands(t, { mount: 'exit 0' })
    await linux.announceMount('/i/a.iso', '/mnt/x')
    t.same(fake.log(), root ? ['mount --fake --internal-only -t fuse.isomount -o uhelper=isomount /i/a.iso /mnt/x'] : [])
  })
})

t.test('FUSE descriptors: /proc/self/fd on Linux, device numbers on macOS', { skip: fs.existsSync('/dev/fuse') && process.getuid?.() === 0 ? false : 'needs /dev/fuse, opened as root' }, async t => {
  const before = linux.fuseDescriptors()
  const fd = fs.openSync('/dev/fuse', 'r+')
  try {
    t.same(linux.fuseDescriptors().filter(d => !before.includes(d)), [fd], 'Linux finds the new descriptor')
    // The macOS way (fstat, compare with the devices' numbers) pointed at /dev/fuse instead of /dev/macfuse*.
    setFuseDevicesForTest('/dev', /^fuse$/)
    t.ok(darwin.fuseDescriptors().includes(fd), 'the macOS way finds it too')
    t.ok(darwin.isFuseDescriptor(fd))
  } finally {
    fs.closeSync(fd)
  }
  t.notOk(linux.isFuseDescriptor(fd), 'closed: no longer (libfuse closes it when the session ends)')
  t.notOk(darwin.isFuseDescriptor(fd))
  setFuseDevicesForTest('/dev', /^(macfuse|osxfuse)\d+$/)
  t.same(darwin.fuseDescriptors(), [], 'no macFUSE devices on this machine')
})

t.test('processes: running, dead, zombie, reused pid', async t => {
  const self = linux.processStatus(process.pid)
  t.ok(self?.start !== undefined && /^\d+$/.test(self.start), 'this process runs, with a start time')
  t.equal(linux.processStatus(2 ** 22 + 12345), undefined, 'no such pid')
  // A zombie: python forks a child that exits at once and is never collected.
  const python = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)'])
  t.teardown(() => python.kill())
  const zombie = await new Promise<number>(resolve => python.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))))
  await new Promise(resolve => setTimeout(resolve, 200))
  t.ok(pidExists(zombie), 'kill(pid, 0) says the zombie exists')
  t.equal(linux.processStatus(zombie), undefined, 'but it does not run')

  t.same(parsePsStatus('Ss   Tue Dec  2 09:00:01 2025\n'), { start: 'Tue Dec 2 09:00:01 2025' }, 'ps on macOS')
  t.equal(parsePsStatus('Z+   Tue Dec  2 09:00:01 2025\n'), undefined, 'a zombie by ps')
  t.equal(parsePsStatus(''), undefined, 'ps printed nothing: no such process')
})

t.test('ISOMOUNT_PLATFORM picks the platform (for tests); kernel copies only where copy_file_range exists', async t => {
  const saved = process.env.ISOMOUNT_PLATFORM
  t.teardown(() => { if (saved === undefined) delete process.env.ISOMOUNT_PLATFORM; else process.env.ISOMOUNT_PLATFORM = saved })
  process.env.ISOMOUNT_PLATFORM = 'darwin'
  t.equal(currentPlatform().name, 'darwin')
  t.equal(currentPlatform().kernelCopy, false)
  process.env.ISOMOUNT_PLATFORM = 'linux'
  t.equal(currentPlatform().kernelCopy, true)
  process.env.ISOMOUNT_PLATFORM = 'freebsd'
  t.equal(currentPlatform().name, 'other')
  t.throws(() => currentPlatform().fuseOptions(REQUEST), { code: 'UNSUPPORTED' })
})
