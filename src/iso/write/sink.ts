import * as fs from 'node:fs'
import type { Writable } from 'node:stream'
import { canCopyRanges, copyRange } from '../io/copy-range'

/**
 * Where a written image goes, strictly in order. Small writes (records, tables) are gathered into large
 * ones; file data arrives in large chunks already. A sink may keep a chunk until it is written: callers
 * hand over buffers they do not change afterwards, unless they say the chunk is `reusable` (file data
 * copied through a few buffers used again and again: a fresh 4 MiB buffer per chunk costs its page
 * faults, and copying 1 GiB with them took twice as long here), which the sink is done with on return.
 */
export interface ImageSink {
  write (chunk: Buffer, reusable?: boolean): Promise<void>
  /**
   * Appends `length` bytes at `position` of the open file `fd`, copied in the kernel; false (nothing
   * appended) where that is not possible, and the caller writes them itself.
   */
  copyFrom?: (fd: number, position: number, length: number) => Promise<boolean>
  /** Writes out what is gathered and, for files, makes it durable (fsync). */
  finish (): Promise<void>
}

const GATHER = 4 * 1024 * 1024

/** Zero runs at least this long are skipped (left as holes) when the target reads zeros there anyway. */
const HOLE = 64 * 1024

/**
 * Writes to a file descriptor from a starting offset with positional writes. Where the file is known to
 * read zeros beyond what was written (a new file, or the region past an image's end), runs of zeros are
 * not written: the result is sparse, and a 4 GiB file of zeros costs no disk.
 */
export class FdSink implements ImageSink {
  private readonly pending: Buffer[] = []
  private pendingBytes = 0

  constructor (private readonly fd: number, private position = 0, private readonly sync = true, private readonly sparse = true) {}

  async write (chunk: Buffer, reusable = false): Promise<void> {
    if (this.sparse && chunk.length >= HOLE && isZero(chunk)) {
      await this.flush()
      this.position += chunk.length
      return
    }
    if (chunk.length >= GATHER) {
      await this.flush()
      await this.writeAt(chunk)
      return
    }
    this.pending.push(reusable ? Buffer.from(chunk) : chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes >= GATHER) await this.flush()
  }

  async copyFrom (fd: number, position: number, length: number): Promise<boolean> {
    if (!canCopyRanges) return false
    await this.flush()
    if (!await copyRange(fd, position, this.fd, this.position, length, this.sparse)) return false
    this.position += length
    return true
  }

  async finish (): Promise<void> {
    await this.flush()
    // A trailing hole still counts towards the size.
    if (this.sparse && fs.fstatSync(this.fd).size < this.position) fs.ftruncateSync(this.fd, this.position)
    if (this.sync) await new Promise<void>((resolve, reject) => fs.fsync(this.fd, err => err !== null ? reject(err) : resolve()))
  }

  private async flush (): Promise<void> {
    if (this.pendingBytes === 0) return
    const buffers = this.pending.splice(0)
    const length = this.pendingBytes
    this.pendingBytes = 0
    // One vectored write, no copy into one buffer; a short write (rare) finishes with plain writes.
    const written = await new Promise<number>((resolve, reject) =>
      fs.writev(this.fd, buffers, this.position, (err, n) => err !== null ? reject(err) : resolve(n)))
    if (written < length) {
      const rest = Buffer.concat(buffers).subarray(written)
      this.position += written
      await this.writeAt(rest)
      return
    }
    this.position += length
  }

  private async writeAt (buf: Buffer): Promise<void> {
    let done = 0
    while (done < buf.length) {
      done += await new Promise<number>((resolve, reject) =>
        fs.write(this.fd, buf, done, buf.length - done, this.position + done, (err, n) => err !== null ? reject(err) : resolve(n)))
    }
    this.position += buf.length
  }
}

/** Writes to a stream, honouring back-pressure. */
export class StreamSink implements ImageSink {
  constructor (private readonly stream: Writable) {}

  async write (chunk: Buffer, reusable = false): Promise<void> {
    if (reusable) {
      // The stream holds on to what it has not written yet: wait until this chunk is out.
      await new Promise<void>((resolve, reject) => this.stream.write(chunk, err => err != null ? reject(err) : resolve()))
      return
    }
    if (!this.stream.write(chunk)) await new Promise<void>(resolve => this.stream.once('drain', () => resolve()))
  }

  async finish (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject)
      this.stream.end(() => resolve())
    })
  }
}

const ZEROS = Buffer.alloc(1024 * 1024)

function isZero (chunk: Buffer): boolean {
  for (let at = 0; at < chunk.length; at += ZEROS.length) {
    const end = Math.min(chunk.length, at + ZEROS.length)
    if (chunk.compare(ZEROS, 0, end - at, at, end) !== 0) return false
  }
  return true
}
