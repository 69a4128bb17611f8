import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { errnoName, IsoImage } from '../../src'
import { ImageVfs } from '../../src/vfs/image-vfs'
import { parseMountOptions } from '../../src/vfs/mount-options'
import type { Caller } from '../../src/vfs/vfs'
import { FsAgent, type AgentStat } from '../helpers/fs-agent'
import { mountImage } from '../helpers/mount'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'

/*
 * One set of checks, run against the VFS in process and through a real FUSE mount with ordinary file
 * system calls: what differs is only the adapter. The read-only set first; then POSIX semantics of a
 * read-write mount (who owns what is made, which times change, hard links, long names), by root and by
 * another user (through the mount: an agent process under setpriv, the mount allow_other), and what of
 * it survives a commit and a fresh open of the image.
 */

interface FsLike {
  stat: (p: string) => Promise<{ mode: number, size: number, nlink: number, ino: number, mtimeMs: number }>
  readdir: (p: string) => Promise<string[]>
  readlink: (p: string) => Promise<string>
  read: (p: string, position: number, length: number) => Promise<Buffer>
  /** The errno name an operation fails with (or "none"). */
  errorOf: (op: () => Promise<unknown>) => Promise<string>
  openForWrite: (p: string) => Promise<unknown>
  mkdir: (p: string) => Promise<unknown>
  unlink: (p: string) => Promise<unknown>
  statfs: () => Promise<{ blockSize: number, nameMax: number }>
}

const MTIME = new Date('2020-02-29T08:00:00Z')
const dir = scratch(t, 'conformance')
const src = path.join(dir, 'src')
writeTree(src, {
  'file.txt': { file: 'the file content\n', mtime: MTIME, mode: 0o640 },
  'big.bin': Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 7) % 256)),
  'link': { symlink: 'file.txt' },
  'hard1': 'hard\n',
  'hard2': { hardlink: 'hard1' },
  sub: { 'inner.txt': 'inner\n' },
  empty: {},
  'rootfile.txt': 'root\'s\n',
  shared: { 'rootowned.txt': 'root\'s, writable by all\n' },
  group: {}
})
// Recorded as they are here (genisoimage -R): a sticky directory anyone may add to, and a set-group-ID one.
const GROUP = 4242
fs.chmodSync(path.join(src, 'shared'), 0o1777)
fs.chmodSync(path.join(src, 'shared/rootowned.txt'), 0o666)
fs.chownSync(path.join(src, 'group'), 0, GROUP)
fs.chmodSync(path.join(src, 'group'), 0o2777)
fs.chmodSync(path.join(src, 'rootfile.txt'), 0o644)
const iso = genisoimage(path.join(dir, 'conf.iso'), ['-R', '-J'], src)

async function checks (t: Test, fs: FsLike): Promise<void> {
  const st = await fs.stat('/file.txt')
  t.equal(st.size, 17, 'size')
  t.equal(st.mode & 0o7777, 0o640, 'Rock Ridge mode')
  t.equal(st.mode & 0o170000, 0o100000, 'regular file')
  t.equal(Math.floor(st.mtimeMs / 1000), MTIME.getTime() / 1000, 'Rock Ridge mtime')
  t.equal((await fs.stat('/sub')).mode & 0o170000, 0o040000, 'directory')
  t.same((await fs.readdir('/')).sort(), ['big.bin', 'empty', 'file.txt', 'group', 'hard1', 'hard2', 'link', 'rootfile.txt', 'shared', 'sub'], 'readdir')
  t.same(await fs.readdir('/empty'), [], 'empty directory')
  t.equal(await fs.readlink('/link'), 'file.txt', 'readlink')
  const h1 = await fs.stat('/hard1')
  const h2 = await fs.stat('/hard2')
  t.equal(h1.ino, h2.ino, 'hard links share an inode number')
  t.equal(h1.nlink, 2, 'and count two links')
  t.not(h1.ino, st.ino, 'other files have other numbers')
  const expected = Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 7) % 256))
  for (const [position, length] of [[0, 10], [4095, 2], [131071, 70000], [299990, 100], [300000, 10], [400000, 10]]) {
    t.same(await fs.read('/big.bin', position, length), expected.subarray(position, position + length), `read ${length} at ${position}`)
  }
  t.equal(await fs.errorOf(async () => await fs.stat('/missing')), 'ENOENT', 'missing: ENOENT')
  t.equal(await fs.errorOf(async () => await fs.stat('/file.txt/below')), 'ENOTDIR', 'below a file: ENOTDIR')
  t.equal(await fs.errorOf(async () => await fs.readdir('/file.txt')), 'ENOTDIR', 'readdir of a file: ENOTDIR')
  t.equal(await fs.errorOf(async () => await fs.readlink('/file.txt')), 'EINVAL', 'readlink of a file: EINVAL')
  t.equal(await fs.errorOf(async () => await fs.openForWrite('/file.txt')), 'EROFS', 'open for writing: EROFS')
  t.equal(await fs.errorOf(async () => await fs.mkdir('/newdir')), 'EROFS', 'mkdir: EROFS')
  t.equal(await fs.errorOf(async () => await fs.unlink('/file.txt')), 'EROFS', 'unlink: EROFS')
  const sfs = await fs.statfs()
  t.equal(sfs.blockSize, 2048, 'statfs block size')
  t.equal(sfs.nameMax, 255, 'statfs name length (Rock Ridge)')
}

t.test('the VFS in process', async t => {
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  const vfs = new ImageVfs(image, parseMountOptions(['ro']))
  const errorOf = async (op: () => Promise<unknown>): Promise<string> => {
    try {
      await op()
      return 'none'
    } catch (err) {
      return errnoName(err)
    }
  }
  await checks(t, {
    stat: async p => await vfs.getattr(p),
    readdir: async p => (await vfs.readdir(p)).map(e => e.name),
    readlink: async p => await vfs.readlink(p),
    read: async (p, position, length) => {
      const handle = await vfs.open(p, 0)
      const buf = Buffer.alloc(length)
      const n = await vfs.read(handle, buf, length, position)
      await vfs.release(handle)
      return buf.subarray(0, n)
    },
    errorOf,
    openForWrite: async p => await vfs.open(p, fs.constants.O_RDWR),
    mkdir: async p => await vfs.mkdir(p, 0o755),
    unlink: async p => await vfs.unlink(p),
    statfs: async () => await vfs.statfs()
  })
})

t.test('through a FUSE mount', async t => {
  const { mountpoint, result } = mountImage(t, iso, ['ro'])
  t.equal(result.status, 0, `mounted (${result.stderr.trim()})`)
  const at = (p: string): string => path.join(mountpoint, p)
  await checks(t, {
    stat: async p => await fs.promises.lstat(at(p)),
    readdir: async p => await fs.promises.readdir(at(p)),
    readlink: async p => await fs.promises.readlink(at(p)),
    read: async (p, position, length) => {
      const handle = await fs.promises.open(at(p), 'r')
      try {
        const buf = Buffer.alloc(length)
        const { bytesRead } = await handle.read(buf, 0, length, position)
        return buf.subarray(0, bytesRead)
      } finally {
        await handle.close()
      }
    },
    errorOf: async op => {
      try {
        await op()
        return 'none'
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'unknown'
      }
    },
    openForWrite: async p => await (await fs.promises.open(at(p), 'r+')).close(),
    mkdir: async p => await fs.promises.mkdir(at(p)),
    unlink: async p => await fs.promises.unlink(at(p)),
    statfs: async () => {
      // Node's statfs lacks the name length; stat(1) -f prints f_namelen.
      const [blockSize, nameMax] = run('stat', ['-f', '-c', '%S %l', mountpoint]).stdout.trim().split(' ').map(Number)
      return { blockSize, nameMax }
    }
  })
})

// --- Read-write: POSIX semantics, by root and by another user ----------------------------------------

/** The attributes compared: the same through every adapter. */
type Attrs = AgentStat

interface RwFs {
  stat: (p: string) => Promise<Attrs>
  readFile: (p: string) => Promise<string>
  /** Creates a new file (exclusively) with `mode`. */
  create: (p: string, data: string, mode: number) => Promise<unknown>
  append: (p: string, data: string) => Promise<unknown>
  truncate: (p: string, size: number) => Promise<unknown>
  mkdir: (p: string, mode: number) => Promise<unknown>
  unlink: (p: string) => Promise<unknown>
  rename: (from: string, to: string) => Promise<unknown>
  link: (existing: string, p: string) => Promise<unknown>
  symlink: (target: string, p: string) => Promise<unknown>
  chmod: (p: string, mode: number) => Promise<unknown>
  utimes: (p: string, atimeMs: number, mtimeMs: number) => Promise<unknown>
  errorOf: (op: () => Promise<unknown>) => Promise<string>
}

interface Who { uid: number, gid: number, label: string }
const ROOT: Who = { uid: 0, gid: 0, label: 'root' }
/** Another user: nobody, as setpriv runs the agent (no supplementary groups, not in GROUP). */
const OTHER: Who = { uid: 65534, gid: 65534, label: 'another user' }

const OLD = Date.UTC(2001, 0, 1)
/**
 * A time with hundredths, and a thousandth no Rock Ridge form keeps; 0.375 s is exact in binary, so that
 * utimes(2)'s seconds (Node passes a double) carry it unrounded.
 */
const FRACTION_MS = Date.UTC(2020, 5, 15, 12, 30, 45, 375)
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** What the checks saw before the commit, to compare after it. */
interface Seen { dirMtimeMs: number, dirCtimeMs: number, fileCtimeMs: number }

/**
 * The checks, in the directory `base` (made here) by `who`. Issue 14's items: owners of what is made,
 * directory times, hard links agreeing at once, a survivor's ctime, long names; and what a commit keeps.
 */
async function posixChecks (t: Test, fs: RwFs, who: Who, base: string): Promise<Seen> {
  const at = (name: string): string => `${base}/${name}`
  await fs.mkdir(base, 0o755)
  const made = await fs.stat(base)
  t.same([made.uid, made.gid], [who.uid, who.gid], 'mkdir: the directory is the caller\'s')

  await fs.utimes(base, OLD, OLD)
  let before = await fs.stat(base)
  await sleep(20)
  await fs.create(at('f'), 'x\n', 0o644)
  let after = await fs.stat(base)
  t.ok(after.mtimeMs > OLD && after.ctimeMs > before.ctimeMs, 'creating an entry changes the directory\'s mtime and ctime')
  const f = await fs.stat(at('f'))
  t.same([f.uid, f.gid, f.mode & 0o7777], [who.uid, who.gid, 0o644], 'create: the file is the caller\'s, with the mode asked')
  await fs.symlink('f', at('s'))
  t.same([(await fs.stat(at('s'))).uid, (await fs.stat(at('s'))).gid], [who.uid, who.gid], 'symlink: the caller\'s')
  await fs.mkdir(at('d'), 0o750)
  t.equal((await fs.stat(at('d'))).mode & 0o7777, 0o750, 'mkdir: the mode asked')

  // Hard links: one file behind both names, at once.
  await fs.link(at('f'), at('g'))
  t.same([(await fs.stat(at('f'))).nlink, (await fs.stat(at('f'))).ino], [2, (await fs.stat(at('g'))).ino], 'link: two names, one inode, nlink 2 through the old name')
  await fs.append(at('g'), 'y\n')
  t.equal(await fs.readFile(at('f')), 'x\ny\n', 'an append through one name reads through the other at once')
  t.equal((await fs.stat(at('f'))).size, 4, 'and its size shows there at once')
  await fs.truncate(at('g'), 1)
  t.same([(await fs.stat(at('f'))).size, await fs.readFile(at('f'))], [1, 'x'], 'a truncate through one name shows through the other at once')

  // Removing one name: the survivor's ctime and link count change; so does the directory.
  before = await fs.stat(at('f'))
  await fs.utimes(base, OLD, OLD)
  const dirBefore = await fs.stat(base)
  await sleep(20)
  await fs.unlink(at('g'))
  after = await fs.stat(at('f'))
  t.ok(after.nlink === 1 && after.ctimeMs > before.ctimeMs, 'unlinking a hard link changes the survivor\'s ctime and nlink')
  const dirAfter = await fs.stat(base)
  t.ok(dirAfter.mtimeMs > OLD && dirAfter.ctimeMs > dirBefore.ctimeMs, 'and the directory\'s mtime and ctime')

  // Renaming over a hard link: the file it was a name of keeps its other name, with a new ctime.
  await fs.link(at('f'), at('h'))
  await fs.create(at('o'), 'other\n', 0o644)
  before = await fs.stat(at('f'))
  await sleep(20)
  await fs.rename(at('o'), at('h'))
  after = await fs.stat(at('f'))
  t.ok(after.nlink === 1 && after.ctimeMs > before.ctimeMs, 'renaming over a hard link changes the other name\'s ctime and nlink')
  t.equal(await fs.readFile(at('h')), 'other\n', 'and the new file is there')

  // Renaming one name of a file over another of its names does nothing (POSIX rename).
  await fs.link(at('f'), at('f-too'))
  t.equal(await fs.errorOf(async () => await fs.rename(at('f'), at('f-too'))), 'none', 'rename onto another name of the same file succeeds')
  t.same([(await fs.stat(at('f'))).nlink, (await fs.stat(at('f-too'))).nlink], [2, 2], 'and leaves both names')
  await fs.unlink(at('f-too'))

  // Renaming between directories changes both.
  await fs.utimes(base, OLD, OLD)
  await fs.utimes(at('d'), OLD, OLD)
  await fs.rename(at('h'), at('d/h'))
  t.ok((await fs.stat(base)).mtimeMs > OLD && (await fs.stat(at('d'))).mtimeMs > OLD, 'a rename changes the mtime of the directory left and the one entered')

  // The caller's own file: all theirs to change.
  t.equal(await fs.errorOf(async () => await fs.chmod(at('f'), 0o600)), 'none', 'chmod of one\'s own file')
  t.equal(await fs.errorOf(async () => await fs.truncate(at('f'), 0)), 'none', 'truncate of one\'s own file')
  t.equal(await fs.errorOf(async () => await fs.rename(at('f'), at('f2'))), 'none', 'rename of one\'s own file')
  t.equal((await fs.stat(at('f2'))).mode & 0o7777, 0o600, 'the mode set')

  // A set-group-ID directory: new entries take its group, new directories its bit too.
  await fs.create(`/group/${who.uid}-file`, '', 0o644)
  await fs.mkdir(`/group/${who.uid}-dir`, 0o755)
  const groupFile = await fs.stat(`/group/${who.uid}-file`)
  const groupDir = await fs.stat(`/group/${who.uid}-dir`)
  t.same([groupFile.uid, groupFile.gid], [who.uid, GROUP], 'in a set-group-ID directory a new file takes its group')
  t.same([groupDir.gid, groupDir.mode & 0o2000], [GROUP, 0o2000], 'and a new directory its group and set-group-ID bit')

  // Names longer than a Rock Ridge name can be.
  t.equal(await fs.errorOf(async () => await fs.stat(at('n'.repeat(256)))), 'ENAMETOOLONG', 'looking up a 256-byte name: ENAMETOOLONG')
  t.equal(await fs.errorOf(async () => await fs.create(at('n'.repeat(256)), '', 0o644)), 'ENAMETOOLONG', 'creating one: ENAMETOOLONG')
  t.equal(await fs.errorOf(async () => await fs.stat(at('n'.repeat(255)))), 'ENOENT', 'a 255-byte name that is not there: ENOENT')

  // An empty file with two names, and a time with hundredths: what a commit must keep.
  await fs.create(at('e0'), '', 0o644)
  await fs.link(at('e0'), at('e1'))
  await fs.utimes(at('f2'), FRACTION_MS, FRACTION_MS)
  t.equal((await fs.stat(at('f2'))).mtimeMs, FRACTION_MS, 'a time set is kept to the millisecond while mounted')

  if (who.uid !== 0) {
    t.equal(await fs.errorOf(async () => await fs.chmod('/rootfile.txt', 0o666)), 'EPERM', 'chmod of root\'s file: EPERM')
    t.equal(await fs.errorOf(async () => await fs.append('/rootfile.txt', 'no')), 'EACCES', 'writing root\'s 0644 file: EACCES')
    t.equal(await fs.errorOf(async () => await fs.unlink('/shared/rootowned.txt')), 'EPERM', 'removing root\'s file from a sticky directory: EPERM')
    t.equal(await fs.errorOf(async () => await fs.create('/new-at-root', '', 0o644)), 'EACCES', 'creating in root\'s 0755 directory: EACCES')
  }
  // The directory's own times, set with hundredths (the long TF form is written where the mtime has them).
  await fs.utimes(base, FRACTION_MS, FRACTION_MS)
  const dirSeen = await fs.stat(base)
  return { dirMtimeMs: dirSeen.mtimeMs, dirCtimeMs: dirSeen.ctimeMs, fileCtimeMs: (await fs.stat(at('f2'))).ctimeMs }
}

/** After a commit and a fresh open: owners, modes, hard links and times as recorded. */
async function afterCommitChecks (t: Test, stat: (p: string) => Promise<Attrs>, who: Who, base: string, seen: Seen): Promise<void> {
  const at = (name: string): string => `${base}/${name}`
  const owned = async (p: string): Promise<number[]> => { const s = await stat(p); return [s.uid, s.gid] }
  t.same(await owned(base), [who.uid, who.gid], 'the directory made is still the caller\'s')
  t.same(await owned(at('f2')), [who.uid, who.gid], 'and the file')
  t.same(await owned(at('s')), [who.uid, who.gid], 'and the symlink')
  t.equal((await stat(at('f2'))).mode & 0o7777, 0o600, 'the mode set')
  t.equal((await stat(at('d'))).mode & 0o7777, 0o750, 'a directory\'s mode')
  const [e0, e1] = [await stat(at('e0')), await stat(at('e1'))]
  t.same([e0.ino, e0.nlink, e1.nlink], [e1.ino, 2, 2], 'an empty file with two names is still one file')
  const hundredths = (ms: number): number => Math.floor(ms / 10)
  t.equal(hundredths((await stat(at('f2'))).mtimeMs), hundredths(FRACTION_MS), 'a time set keeps its hundredths')
  t.equal(hundredths((await stat(at('f2'))).ctimeMs), hundredths(seen.fileCtimeMs), 'a ctime keeps its hundredths')
  const dir = await stat(base)
  t.same([hundredths(dir.mtimeMs), hundredths(dir.ctimeMs)], [hundredths(seen.dirMtimeMs), hundredths(seen.dirCtimeMs)], 'a directory\'s times as they were, to the hundredth')
  const [groupFile, groupDir] = [await stat(`/group/${who.uid}-file`), await stat(`/group/${who.uid}-dir`)]
  t.same([groupFile.gid, groupDir.gid, groupDir.mode & 0o2000], [GROUP, GROUP, 0o2000], 'groups from the set-group-ID directory')
}

function vfsAdapter (vfs: ImageVfs, caller: Caller): RwFs {
  const withHandle = async <T>(handle: Promise<number>, work: (h: number) => Promise<T>): Promise<T> => {
    const h = await handle
    try {
      return await work(h)
    } finally {
      await vfs.release(h)
    }
  }
  return {
    stat: async p => await vfs.getattr(p, caller),
    readFile: async p => {
      const size = (await vfs.getattr(p, caller)).size
      return await withHandle(vfs.open(p, fs.constants.O_RDONLY, caller), async h => {
        const buf = Buffer.alloc(size)
        return buf.subarray(0, await vfs.read(h, buf, size, 0)).toString()
      })
    },
    create: async (p, data, mode) => await withHandle(vfs.create(p, mode, caller), async h => await vfs.write(h, Buffer.from(data), data.length, 0)),
    append: async (p, data) => {
      const size = (await vfs.getattr(p, caller)).size
      await withHandle(vfs.open(p, fs.constants.O_WRONLY, caller), async h => await vfs.write(h, Buffer.from(data), data.length, size))
    },
    truncate: async (p, size) => await vfs.truncate(p, size, caller),
    mkdir: async (p, mode) => await vfs.mkdir(p, mode, caller),
    unlink: async p => await vfs.unlink(p, caller),
    rename: async (from, to) => await vfs.rename(from, to, caller),
    link: async (existing, p) => await vfs.link(existing, p, caller),
    symlink: async (target, p) => await vfs.symlink(target, p, caller),
    chmod: async (p, mode) => await vfs.chmod(p, mode, caller),
    utimes: async (p, atimeMs, mtimeMs) => await vfs.utimens(p, atimeMs, mtimeMs, caller),
    errorOf: async op => {
      try {
        await op()
        return 'none'
      } catch (err) {
        return errnoName(err)
      }
    }
  }
}

async function errnoOf (op: () => Promise<unknown>): Promise<string> {
  try {
    await op()
    return 'none'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'unknown'
  }
}

/** Calls through the mount by this process (root). */
function mountAdapter (mountpoint: string): RwFs {
  const at = (p: string): string => path.join(mountpoint, p)
  const p = fs.promises
  return {
    stat: async f => await p.lstat(at(f)),
    readFile: async f => await p.readFile(at(f), 'utf8'),
    create: async (f, data, mode) => await p.writeFile(at(f), data, { mode, flag: 'wx' }),
    append: async (f, data) => await p.appendFile(at(f), data),
    truncate: async (f, size) => await p.truncate(at(f), size),
    mkdir: async (f, mode) => await p.mkdir(at(f), { mode }),
    unlink: async f => await p.unlink(at(f)),
    rename: async (from, to) => await p.rename(at(from), at(to)),
    link: async (existing, f) => await p.link(at(existing), at(f)),
    symlink: async (target, f) => await p.symlink(target, at(f)),
    chmod: async (f, mode) => await p.chmod(at(f), mode),
    utimes: async (f, atimeMs, mtimeMs) => await p.utimes(at(f), atimeMs / 1000, mtimeMs / 1000),
    errorOf: errnoOf
  }
}

/** Calls through the mount by another user, made by an agent process running as that user. */
function agentAdapter (agent: FsAgent, mountpoint: string): RwFs {
  const at = (p: string): string => path.join(mountpoint, p)
  return {
    stat: async f => await agent.call<AgentStat>('lstat', at(f)),
    readFile: async f => await agent.call<string>('readFile', at(f)),
    create: async (f, data, mode) => await agent.call('create', at(f), data, mode),
    append: async (f, data) => await agent.call('appendFile', at(f), data),
    truncate: async (f, size) => await agent.call('truncate', at(f), size),
    mkdir: async (f, mode) => await agent.call('mkdir', at(f), mode),
    unlink: async f => await agent.call('unlink', at(f)),
    rename: async (from, to) => await agent.call('rename', at(from), at(to)),
    link: async (existing, f) => await agent.call('link', at(existing), at(f)),
    symlink: async (target, f) => await agent.call('symlink', target, at(f)),
    chmod: async (f, mode) => await agent.call('chmod', at(f), mode),
    utimes: async (f, atimeMs, mtimeMs) => await agent.call('utimes', at(f), atimeMs, mtimeMs),
    errorOf: errnoOf
  }
}

const BASES: Array<[Who, string]> = [[ROOT, '/shared/by-root'], [OTHER, '/shared/by-other']]

t.test('read-write, the VFS in process: POSIX semantics, kept by an append and a fresh open', async t => {
  const image = path.join(dir, 'rw-vfs.iso')
  fs.copyFileSync(iso, image)
  const seen = new Map<Who, Seen>()
  const edit = await IsoImage.open(image)
  try {
    const vfs = new ImageVfs(edit, parseMountOptions([]), { checkPermissions: true })
    for (const [who, base] of BASES) {
      await t.test(`by ${who.label}`, async t => { seen.set(who, await posixChecks(t, vfsAdapter(vfs, { ...who, groups: [] }), who, base)) })
    }
    t.equal((await edit.commit({ mode: 'append' })).mode, 'append', 'committed by appending')
  } finally {
    await edit.close()
  }
  const reopened = await IsoImage.open(image)
  t.teardown(() => reopened.close())
  const vfs = new ImageVfs(reopened, parseMountOptions(['ro']))
  for (const [who, base] of BASES) {
    await t.test(`after the commit, what ${who.label} made`, async t => {
      await afterCommitChecks(t, async p => await vfs.getattr(p), who, base, seen.get(who) as Seen)
    })
  }
})

t.test('read-write, through a FUSE mount (allow_other): POSIX semantics, kept by a remaster and a remount', async t => {
  process.umask(0o022)
  const image = path.join(dir, 'rw-fuse.iso')
  fs.copyFileSync(iso, image)
  const m = mountImage(t, image, ['allow_other', 'commit=remaster'])
  t.equal(m.result.status, 0, `mounted (${m.result.stderr.trim()})`)
  // The scratch mount point's parent is private (mkdtemp); the other user must reach the mount.
  fs.chmodSync(path.dirname(m.mountpoint), 0o755)
  const agent = FsAgent.start(OTHER.uid, OTHER.gid)
  t.teardown(async () => await agent.close())
  const seen = new Map<Who, Seen>()
  await t.test('by root', async t => { seen.set(ROOT, await posixChecks(t, mountAdapter(m.mountpoint), ROOT, BASES[0][1])) })
  await t.test('by another user', async t => { seen.set(OTHER, await posixChecks(t, agentAdapter(agent, m.mountpoint), OTHER, BASES[1][1])) })
  await agent.close()
  const done = m.unmount()
  t.equal(done.status, 0, `committed: ${done.stderr.trim()}`)
  t.match(done.stderr, /remaster/, 'by remastering')
  const again = mountImage(t, image, ['ro'])
  t.equal(again.result.status, 0, 'mounted again')
  for (const [who, base] of BASES) {
    await t.test(`after the remount, what ${who.label} made`, async t => {
      await afterCommitChecks(t, async p => await fs.promises.lstat(path.join(again.mountpoint, p)), who, base, seen.get(who) as Seen)
    })
  }
})
