import * as fs from 'node:fs'
import type { Readable } from 'node:stream'
import * as tmp from 'tmp'
import { InvalidInputError } from '../../errors'
import type { DataSource, FileExtents } from './data-source'

/**
 * A file on the host, read when the image is written (or read through a mount). Opened for each read so
 * that thousands of added files hold no descriptors; a file that shrank since it was added is an error
 * rather than a silently short image.
 */
export class HostFileSource implements DataSource {
  constructor (readonly path: string, readonly size: number) {}

  static fromPath (path: string): HostFileSource {
    const st = fs.statSync(path)
    if (!st.isFile()) throw new InvalidInputError('BAD_ARGUMENT', `${path} is not a regular file`)
    return new HostFileSource(path, st.size)
  }

  /**
   * A small file whole, read synchronously: three quick system calls beat three trips through the thread
   * pool, which dominated mastering trees of many small files.
   */
  readSmall (): Buffer {
    const buf = Buffer.allocUnsafe(this.size)
    const fd = fs.openSync(this.path, 'r')
    try {
      let done = 0
      while (done < this.size) {
        const n = fs.readSync(fd, buf, done, this.size - done, done)
        if (n === 0) throw new InvalidInputError('BAD_ARGUMENT', `${this.path} is shorter than the ${this.size} bytes it had when added`)
        done += n
      }
      return buf
    } finally {
      fs.closeSync(fd)
    }
  }

  fileExtents (): FileExtents {
    const fd = fs.openSync(this.path, 'r')
    if (fs.fstatSync(fd).size < this.size) {
      fs.closeSync(fd)
      throw new InvalidInputError('BAD_ARGUMENT', `${this.path} is shorter than the ${this.size} bytes it had when added`)
    }
    return { fd, ranges: [{ position: 0, length: this.size }], release: () => fs.closeSync(fd) }
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.size) return 0
    const want = Math.min(length, this.size - position)
    const fd = await new Promise<number>((resolve, reject) => fs.open(this.path, 'r', (err, fd) => err !== null ? reject(err) : resolve(fd)))
    try {
      let done = 0
      while (done < want) {
        const n = await new Promise<number>((resolve, reject) =>
          fs.read(fd, buf, offset + done, want - done, position + done, (err, n) => err !== null ? reject(err) : resolve(n)))
        if (n === 0) throw new InvalidInputError('BAD_ARGUMENT', `${this.path} is shorter than the ${this.size} bytes it had when added`)
        done += n
      }
      return done
    } finally {
      fs.close(fd, () => {})
    }
  }
}

tmp.setGracefulCleanup()

/**
 * Copies a stream of known length into a temporary file, so the content can be read (and re-read) at
 * random positions later; the stream must deliver exactly `size` bytes.
 */
export async function spoolStream (stream: Readable, size: number): Promise<HostFileSource> {
  const file = tmp.fileSync({ prefix: 'isomount-add-' })
  let written = 0
  let complete = false
  try {
    for await (const chunk of stream) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
      if (written + bytes.length > size) throw new InvalidInputError('BAD_ARGUMENT', `stream is longer than the ${size} bytes given`)
      fs.writeSync(file.fd, bytes, 0, bytes.length, written)
      written += bytes.length
    }
    if (written !== size) throw new InvalidInputError('BAD_ARGUMENT', `stream ended after ${written} of the ${size} bytes given`)
    complete = true
  } finally {
    fs.closeSync(file.fd)
    if (!complete) fs.rmSync(file.name, { force: true })
  }
  return new HostFileSource(file.name, size)
}
