import * as fs from 'node:fs'
import * as tmp from 'tmp'
import type { DataSource, FileExtents } from './data-source'

tmp.setGracefulCleanup()

/** Copy-on-write granule: writing one byte copies at most this much of the original. */
export const CHUNK = 64 * 1024

/**
 * File content being edited: the original (`base`, usually extents of the image) with the chunks written
 * since held in a sparse temporary file at their own offsets. Writing one byte into a 1 GiB file copies
 * one 64 KiB chunk, not the file; reading merges the two. Truncation remembers how much of the base is
 * still visible, so a file cut and regrown reads zeros where it was cut.
 */
export class OverlayData implements DataSource {
  size: number
  private baseLimit: number
  private readonly dirty = new Set<number>()
  private temp?: { fd: number, path: string, remove: () => void }
  /** Writes and truncations run one at a time: a copy-up racing a write would undo it. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (readonly base: DataSource | undefined, private readonly tempDir?: string) {
    this.size = base?.size ?? 0
    this.baseLimit = this.size
  }

  /** Whether every byte now differs from nothing of the base (a new or fully rewritten file). */
  get replacesBase (): boolean {
    return this.base === undefined || this.baseLimit === 0
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.size) return 0
    const end = Math.min(this.size, position + length)
    let at = position
    while (at < end) {
      const chunk = Math.floor(at / CHUNK)
      const runEnd = Math.min(end, (chunk + 1) * CHUNK)
      const target = offset + (at - position)
      if (this.dirty.has(chunk)) await this.readTemp(buf, target, runEnd - at, at)
      else await this.readBase(buf, target, runEnd - at, at)
      at = runEnd
    }
    return end - position
  }

  async write (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return await this.serialized(async () => await this.writeNow(buf, offset, length, position))
  }

  async truncate (size: number): Promise<void> {
    await this.serialized(async () => this.truncateNow(size))
  }

  private async serialized<T> (work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => {})
    return await run
  }

  private async writeNow (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const end = position + length
    for (let chunk = Math.floor(position / CHUNK); chunk * CHUNK < end; chunk++) {
      if (this.dirty.has(chunk)) continue
      const chunkStart = chunk * CHUNK
      const covered = position <= chunkStart && end >= chunkStart + CHUNK
      // A chunk written only in part keeps the rest of its old bytes: copy them first.
      if (!covered) await this.copyUp(chunk)
      this.dirty.add(chunk)
    }
    await this.writeTemp(buf, offset, length, position)
    this.size = Math.max(this.size, end)
    return length
  }

  private truncateNow (size: number): void {
    if (size < this.size) {
      this.baseLimit = Math.min(this.baseLimit, size)
      for (const chunk of [...this.dirty]) if (chunk * CHUNK >= size) this.dirty.delete(chunk)
      // The temp file must read zeros past the cut if the file grows again.
      if (this.temp !== undefined) fs.ftruncateSync(this.temp.fd, size)
    }
    this.size = size
  }

  /**
   * Byte ranges whose content may differ from what the base's place holds: chunks written, and every
   * byte from the truncation limit to the end that was not written (zeros now). That includes bytes past
   * the base's own end: an in-place commit writes within the extent's last sector, whose tail still
   * holds what an earlier shrink cut off, so a file grown by truncate(2) must get its zeros written.
   * Sorted; overlapping ranges are merged.
   */
  changedRanges (): Array<[number, number]> {
    const ranges: Array<[number, number]> = []
    const add = (start: number, end: number): void => {
      const last = ranges[ranges.length - 1]
      if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end)
      else if (start < end) ranges.push([start, end])
    }
    for (const chunk of [...this.dirty].sort((a, b) => a - b)) {
      const start = chunk * CHUNK
      if (start >= this.baseLimit) break
      add(start, Math.min(this.size, start + CHUNK))
    }
    add(this.baseLimit, this.size)
    return ranges
  }

  /**
   * A new or wholly rewritten file lies whole in the temporary file, at its own offsets (holes read as the
   * zeros it has there), so a commit can copy it in the kernel.
   */
  fileExtents (): FileExtents | undefined {
    if (!this.replacesBase || this.temp === undefined || fs.fstatSync(this.temp.fd).size < this.size) return undefined
    return { fd: this.temp.fd, ranges: [{ position: 0, length: this.size }], release: () => {} }
  }

  /** Frees the temporary file (after a commit has written the content elsewhere). */
  dispose (): void {
    if (this.temp === undefined) return
    fs.closeSync(this.temp.fd)
    this.temp.remove()
    this.temp = undefined
  }

  private async copyUp (chunk: number): Promise<void> {
    const start = chunk * CHUNK
    const length = Math.min(CHUNK, this.size - start)
    if (length <= 0) return
    const bytes = Buffer.alloc(length)
    await this.readBase(bytes, 0, length, start)
    await this.writeTemp(bytes, 0, length, start)
  }

  /** Base bytes below the truncation limit, zeros beyond it. */
  private async readBase (buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    const fromBase = Math.max(0, Math.min(length, this.baseLimit - position))
    if (fromBase > 0 && this.base !== undefined) {
      let done = 0
      while (done < fromBase) {
        const n = await this.base.read(buf, offset + done, fromBase - done, position + done)
        if (n === 0) break
        done += n
      }
      buf.fill(0, offset + done, offset + fromBase)
    }
    buf.fill(0, offset + Math.max(0, fromBase), offset + length)
  }

  /** Synchronous for the reason writeTemp is. */
  private async readTemp (buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    const fd = this.tempFd()
    let done = 0
    while (done < length) {
      const n = fs.readSync(fd, buf, offset + done, length - done, position + done)
      if (n === 0) break
      done += n
    }
    // Sparse holes past the temp file's end are zeros.
    buf.fill(0, offset + done, offset + length)
  }

  /**
   * Synchronous on purpose: a mount's writes arrive one at a time (each waits for its reply), so their
   * latency is the throughput, and a 128 KiB write into the page cache takes less time than the round
   * trip through the thread pool that an asynchronous write would add.
   */
  private async writeTemp (buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    const fd = this.tempFd()
    let done = 0
    while (done < length) done += fs.writeSync(fd, buf, offset + done, length - done, position + done)
  }

  private tempFd (): number {
    if (this.temp === undefined) {
      const file = tmp.fileSync({ prefix: 'isomount-overlay-', tmpdir: this.tempDir })
      this.temp = { fd: file.fd, path: file.name, remove: file.removeCallback }
    }
    return this.temp.fd
  }
}
