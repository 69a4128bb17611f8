import { InternalError } from '../../errors'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { FileExtents } from '../model/data-source'
import type { ImageSink } from './sink'

/** Kernel copies go in pieces of this size, each reported as progress. */
const KERNEL_COPY_PIECE = 64 * 1024 * 1024

export interface WriteProgress {
  bytesWritten: number
  totalBytes: number
}

/** Writes sectors in increasing order from byte `start`, filling gaps with zeros. */
export class SectorWriter {
  private position: number
  private static readonly ZEROS = Buffer.alloc(1024 * 1024)

  constructor (private readonly sink: ImageSink, private readonly total: number, private readonly onProgress?: (p: WriteProgress) => void, start = 0) {
    this.position = start
  }

  async put (lba: number, bytes: Buffer): Promise<void> {
    await this.seek(lba * SECTOR_SIZE)
    await this.write(bytes)
    const tail = bytes.length % SECTOR_SIZE
    if (tail !== 0) await this.write(SectorWriter.ZEROS.subarray(0, SECTOR_SIZE - tail))
  }

  async write (bytes: Buffer, reusable = false): Promise<void> {
    await this.sink.write(bytes, reusable)
    this.position += bytes.length
    this.onProgress?.({ bytesWritten: this.position, totalBytes: this.total })
  }

  /**
   * Appends a source's bytes copied in the kernel, in pieces (so that progress is reported); false, with
   * nothing written, where the sink cannot. Only the first piece can find that out.
   */
  async copyExtents (extents: FileExtents): Promise<boolean> {
    if (this.sink.copyFrom === undefined) return false
    let first = true
    for (const range of extents.ranges) {
      for (let done = 0; done < range.length;) {
        const piece = Math.min(KERNEL_COPY_PIECE, range.length - done)
        if (!await this.sink.copyFrom(extents.fd, range.position + done, piece)) {
          if (first) return false
          throw new InternalError('copying file data in the kernel stopped working half way')
        }
        first = false
        done += piece
        this.position += piece
        this.onProgress?.({ bytesWritten: this.position, totalBytes: this.total })
      }
    }
    return true
  }

  async seek (offset: number): Promise<void> {
    if (offset < this.position) throw new InternalError(`layout overlap: writing at ${offset} after ${this.position}`)
    while (this.position < offset) await this.write(SectorWriter.ZEROS.subarray(0, Math.min(SectorWriter.ZEROS.length, offset - this.position)))
  }

  async finish (): Promise<void> {
    await this.seek(this.total)
    await this.sink.finish()
  }
}

