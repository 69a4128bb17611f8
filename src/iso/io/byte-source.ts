import * as fs from 'node:fs'
import { InvalidImageError, type ImageLocation } from '../../errors'

/**
 * Positional reads from an image. Every read names its offset, so concurrent readers (FUSE serves several
 * requests at once) never share a file position.
 */
export interface ByteSource {
  readonly size: number
  read (buf: Buffer, offset: number, length: number, position: number): Promise<number>
  /**
   * The same, synchronously, where the source can: metadata reads are small and many (a directory each),
   * and a trip through the thread pool costs more than the read.
   */
  readSync?: (buf: Buffer, offset: number, length: number, position: number) => number
}

/** Reads up to this much synchronously (metadata); more goes through the thread pool. */
const SYNC_READ_LIMIT = 1024 * 1024
/** File data reads up to this size (one FUSE read) are synchronous. */
const SYNC_DATA_READ_LIMIT = 128 * 1024

export class FileByteSource implements ByteSource {
  private constructor (readonly fd: number, public size: number, private readonly ownsFd: boolean) {}

  /** Learns the file's size again after it grew (an append commit). */
  async refresh (): Promise<void> {
    this.size = await fstatSize(this.fd)
  }

  static async open (path: string): Promise<FileByteSource> {
    const fd = await new Promise<number>((resolve, reject) => fs.open(path, 'r', (err, fd) => err ? reject(err) : resolve(fd)))
    try {
      return new FileByteSource(fd, await fstatSize(fd), true)
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
  }

  /** Wraps a descriptor the caller owns (and closes). */
  static async fromFd (fd: number): Promise<FileByteSource> {
    return new FileByteSource(fd, await fstatSize(fd), false)
  }

  /**
   * Reads of up to SYNC_DATA_READ_LIMIT are synchronous too: FUSE asks for at most 128 KiB at a time and
   * waits for each answer, and the kernel's read-ahead on the image keeps such reads in the page cache, so
   * the thread pool's round trip was most of their cost (cold 1 GiB read through a mount: 1.3 -> 0.85 s).
   * The price: concurrent readers of a cold image on a slow disk wait for each other.
   */
  read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (length <= SYNC_DATA_READ_LIMIT) {
      try {
        return Promise.resolve(this.readSync(buf, offset, length, position))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return new Promise((resolve, reject) => {
      fs.read(this.fd, buf, offset, length, position, (err, bytesRead) => err ? reject(err) : resolve(bytesRead))
    })
  }

  readSync (buf: Buffer, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, buf, offset, length, position)
  }

  async close (): Promise<void> {
    if (this.ownsFd) await new Promise<void>((resolve, reject) => fs.close(this.fd, err => err ? reject(err) : resolve()))
  }
}

async function fstatSize (fd: number): Promise<number> {
  const st = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => err ? reject(err) : resolve(st)))
  if (st.isBlockDevice()) {
    // A block device reports size 0 through stat; its end is found by seeking (not possible with fs.read),
    // so trust the descriptors and let reads past the end fail individually.
    return Number.MAX_SAFE_INTEGER
  }
  return st.size
}

/** Reads exactly `length` bytes or fails with IMAGE_TRUNCATED naming what was being read. */
export async function readExactly (source: ByteSource, position: number, length: number, where: ImageLocation): Promise<Buffer> {
  withinImage(source, position, length, where)
  const buf = Buffer.allocUnsafe(length)
  await readExactlyInto(source, buf, 0, position, length, where)
  return buf
}

/** Refuses a read beyond the end of the image before anything is allocated for it. */
function withinImage (source: ByteSource, position: number, length: number, where: ImageLocation): void {
  if (position + length > source.size) {
    throw new InvalidImageError('IMAGE_TRUNCATED',
      `${length} bytes at byte ${position} lie beyond the end of the image (${source.size} bytes)`, where)
  }
}

/**
 * The same into `buf` at `offset` (which the caller sized): for reads repeated often enough that a fresh
 * buffer each time costs more than the read (a large one is fresh memory, page faults and all).
 */
export async function readExactlyInto (source: ByteSource, buf: Buffer, offset: number, position: number, length: number, where: ImageLocation): Promise<void> {
  withinImage(source, position, length, where)
  let done = 0
  const sync = length <= SYNC_READ_LIMIT ? source.readSync?.bind(source) : undefined
  while (done < length) {
    const n = sync !== undefined ? sync(buf, offset + done, length - done, position + done) : await source.read(buf, offset + done, length - done, position + done)
    if (n === 0) {
      throw new InvalidImageError('IMAGE_TRUNCATED', `image ends inside ${length} bytes at byte ${position}`, where)
    }
    done += n
  }
}

/** A source over bytes in memory: tests, and images built in memory. */
export class BufferByteSource implements ByteSource {
  constructor (private readonly bytes: Buffer) {}

  get size (): number {
    return this.bytes.length
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.readSync(buf, offset, length, position)
  }

  readSync (buf: Buffer, offset: number, length: number, position: number): number {
    if (position >= this.bytes.length) return 0
    return this.bytes.copy(buf, offset, position, Math.min(this.bytes.length, position + length))
  }
}
