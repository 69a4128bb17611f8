import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { errnoName, IsoImage } from '../../src'
import { ImageVfs } from '../../src/vfs/image-vfs'
import { parseMountOptions } from '../../src/vfs/mount-options'
import { mountImage } from '../helpers/mount'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'

/*
 * One set of checks, run twice: against the VFS in process, and through a real FUSE mount with ordinary
 * file system calls. What differs between the two is only the adapter.
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
  empty: {}
})
const iso = genisoimage(path.join(dir, 'conf.iso'), ['-R', '-J'], src)

async function checks (t: Test, fs: FsLike): Promise<void> {
  const st = await fs.stat('/file.txt')
  t.equal(st.size, 17, 'size')
  t.equal(st.mode & 0o7777, 0o640, 'Rock Ridge mode')
  t.equal(st.mode & 0o170000, 0o100000, 'regular file')
  t.equal(Math.floor(st.mtimeMs / 1000), MTIME.getTime() / 1000, 'Rock Ridge mtime')
  t.equal((await fs.stat('/sub')).mode & 0o170000, 0o040000, 'directory')
  t.same((await fs.readdir('/')).sort(), ['big.bin', 'empty', 'file.txt', 'hard1', 'hard2', 'link', 'sub'], 'readdir')
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
