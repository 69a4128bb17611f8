import Fuse from 'fuse-native'
import type { FuseOperations, FuseStat, FuseStatfs } from 'fuse-native'
import { errnoName } from '../errors'
import type { Stat } from '../iso/model/stat'
import { logger } from '../log'
import type { Vfs } from '../vfs/vfs'
import { requestCaller as caller } from './binding'

const log = logger('fuse')

type Reply = (code: number, ...results: unknown[]) => void

/** The one place an error becomes an errno for the kernel. */
export function errnoOf (err: unknown): number {
  const name = errnoName(err)
  const alias: Record<string, string> = { ENOTSUP: 'EOPNOTSUPP' }
  const code = (Fuse as unknown as Record<string, unknown>)[alias[name] ?? name]
  return typeof code === 'number' ? code : Fuse.EIO as number
}

/**
 * Answers a FUSE callback exactly once from a promise: on success with status 0 and `results`, on failure
 * with an errno. Quiet errors (a lookup of a missing name is routine) are not logged.
 */
function answer<T> (op: string, path: string, reply: Reply, work: Promise<T>, results: (value: T) => unknown[]): void {
  work.then(value => reply(0, ...results(value)), (err: unknown) => fail(op, path, reply, err))
}

/** fuse-native's read and write take the byte count as the status itself. */
function answerCount (op: string, path: string, reply: Reply, work: Promise<number>): void {
  work.then(count => reply(count), (err: unknown) => fail(op, path, reply, err))
}

function fail (op: string, path: string, reply: Reply, err: unknown): void {
  const errno = errnoOf(err)
  if (errno !== Fuse.ENOENT) log('%s %s: %s', op, path, (err as Error)?.message ?? err)
  reply(errno)
}

/** Times before 1970 cannot cross fuse-native's unsigned millisecond fields. */
function toFuseStat (stat: Stat): FuseStat {
  return {
    mode: stat.mode,
    uid: stat.uid,
    gid: stat.gid,
    size: stat.size,
    nlink: stat.nlink,
    ino: stat.ino,
    rdev: stat.rdev,
    blksize: 2048,
    blocks: stat.blocks,
    atime: Math.max(0, stat.atimeMs),
    mtime: Math.max(0, stat.mtimeMs),
    ctime: Math.max(0, stat.ctimeMs)
  }
}

async function readdirWithSelf (vfs: Vfs, path: string): Promise<Array<{ name: string, stat: Stat }>> {
  const who = caller()
  const [self, entries] = await Promise.all([vfs.getattr(path, who), vfs.readdir(path, who)])
  return [{ name: '.', stat: self }, { name: '..', stat: self }, ...entries]
}

/**
 * fuse-native hands each request from a libfuse thread to the JavaScript thread through an event-loop
 * wakeup, which costs more than most operations themselves (a find over 20k names: 108 us per lookup,
 * against 30 us for fuseiso in C). While requests keep coming, the loop is kept polling for a
 * millisecond after each one instead of going to sleep, so the next is picked up at once (measured: 66
 * us). It stops by itself when the mount goes quiet.
 */
class BusyPoll {
  private until = 0
  private polling = false
  private readonly tick = (): void => {
    if (Date.now() < this.until) setImmediate(this.tick)
    else this.polling = false
  }

  kick (): void {
    this.until = Date.now() + 1
    if (!this.polling) {
      this.polling = true
      setImmediate(this.tick)
    }
  }
}

/**
 * fuse-native callbacks over a Vfs: each a few lines, no logic of its own. Operations on paths pass on the
 * request's caller (binding.ts), read while the callback runs: it owns what it creates.
 *
 * There is no flush: a write is in the overlay when it returns, so close(2) has nothing to wait for.
 * libfuse answers ENOSYS, after which the kernel treats flush as done and stops sending it (fuse_flush
 * sets no_flush), which saves a round trip on every close: 10% of `tar cf` over 5,000 small files.
 */
export function fuseOperations (vfs: Vfs): FuseOperations {
  const poll = new BusyPoll()
  const ops = operationsOver(vfs)
  for (const [name, op] of Object.entries(ops)) {
    ops[name] = (...args: unknown[]) => {
      poll.kick()
      op(...args)
    }
  }
  return ops
}

function operationsOver (vfs: Vfs): FuseOperations {
  return {
    getattr: (path: string, reply: Reply) => answer('getattr', path, reply, vfs.getattr(path, caller()), s => [toFuseStat(s)]),
    // The high-level libfuse API leaves "." and ".." to the file system. With each entry's attributes,
    // the kernel learns its type from readdir and `find` needs no lookup per file.
    readdir: (path: string, reply: Reply) => answer('readdir', path, reply, readdirWithSelf(vfs, path), entries => [
      entries.map(e => e.name), entries.map(e => toFuseStat(e.stat))
    ]),
    readlink: (path: string, reply: Reply) => answer('readlink', path, reply, vfs.readlink(path, caller()), target => [target]),
    open: (path: string, flags: number, reply: Reply) => answer('open', path, reply, vfs.open(path, flags, caller()), h => [h]),
    read: (path: string, handle: number, buf: Buffer, length: number, position: number, reply: Reply) =>
      answerCount('read', path, reply, vfs.read(handle, buf, length, position)),
    release: (path: string, handle: number, reply: Reply) => answer('release', path, reply, vfs.release(handle), () => []),
    create: (path: string, mode: number, reply: Reply) => answer('create', path, reply, vfs.create(path, mode, caller()), h => [h]),
    write: (path: string, handle: number, buf: Buffer, length: number, position: number, reply: Reply) =>
      answerCount('write', path, reply, vfs.write(handle, buf, length, position)),
    truncate: (path: string, size: number, reply: Reply) => answer('truncate', path, reply, vfs.truncate(path, size, caller()), () => []),
    ftruncate: (path: string, handle: number, size: number, reply: Reply) => answer('ftruncate', path, reply, vfs.ftruncate(handle, size), () => []),
    mkdir: (path: string, mode: number, reply: Reply) => answer('mkdir', path, reply, vfs.mkdir(path, mode, caller()), () => []),
    rmdir: (path: string, reply: Reply) => answer('rmdir', path, reply, vfs.rmdir(path, caller()), () => []),
    unlink: (path: string, reply: Reply) => answer('unlink', path, reply, vfs.unlink(path, caller()), () => []),
    rename: (from: string, to: string, reply: Reply) => answer('rename', from, reply, vfs.rename(from, to, caller()), () => []),
    // libfuse's symlink(from, to): `from` is the link's content, `to` the new path.
    symlink: (target: string, path: string, reply: Reply) => answer('symlink', path, reply, vfs.symlink(target, path, caller()), () => []),
    link: (existing: string, path: string, reply: Reply) => answer('link', path, reply, vfs.link(existing, path, caller()), () => []),
    mknod: (path: string, mode: number, rdev: number, reply: Reply) => answer('mknod', path, reply, vfs.mknod(path, mode, rdev, caller()), () => []),
    chmod: (path: string, mode: number, reply: Reply) => answer('chmod', path, reply, vfs.chmod(path, mode, caller()), () => []),
    chown: (path: string, uid: number, gid: number, reply: Reply) => answer('chown', path, reply, vfs.chown(path, uid, gid, caller()), () => []),
    utimens: (path: string, atime: number, mtime: number, reply: Reply) =>
      answer('utimens', path, reply, vfs.utimens(path, timeOrOmit(atime), timeOrOmit(mtime), caller()), () => []),
    fsync: (path: string, _datasync: number, handle: number, reply: Reply) => answer('fsync', path, reply, vfs.fsync(handle), () => []),
    statfs: (path: string, reply: Reply) => answer('statfs', path, reply, vfs.statfs(), s => [{
      bsize: s.blockSize,
      frsize: s.blockSize,
      blocks: s.blocks,
      bfree: s.blocksFree,
      bavail: s.blocksFree,
      files: s.files,
      ffree: s.filesFree,
      favail: s.filesFree,
      fsid: 0,
      flag: s.readOnly ? 1 : 0,
      namemax: s.nameMax
    } satisfies FuseStatfs])
  }
}

/**
 * The rebuilt addon (scripts/build-fuse-native.js) passes utimensat's UTIME_OMIT as the largest uint64,
 * which arrives as a double far beyond any real time in milliseconds.
 */
function timeOrOmit (ms: number): number | undefined {
  return ms >= Number.MAX_SAFE_INTEGER ? undefined : ms
}
