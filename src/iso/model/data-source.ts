import { Readable } from 'node:stream'
import * as zlib from 'node:zlib'
import { InvalidImageError } from '../../errors'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import {
  parseZisofsHeader, zisofsBlockCount, zisofsPointerSize, ZISOFS2_ALGORITHMS, ZISOFS_MAX_HEADER_SIZE, type ZisofsHeader
} from '../codec/zisofs'
import { FileByteSource, type ByteSource } from '../io/byte-source'

/**
 * Where a file's bytes come from. Content is never held in memory because a file exists: an image file is
 * a list of extents read on demand, a host file is read when written out, an edited file is an overlay.
 */
export interface DataSource {
  readonly size: number
  /** Reads up to `length` bytes at `position`; fewer only at the end of the data. */
  read (buf: Buffer, offset: number, length: number, position: number): Promise<number>
  /** Where the bytes lie in one open file, in order, if they all do: a writer may copy them in the kernel. */
  fileExtents?: () => FileExtents | undefined
}

/** A source's bytes as ranges of one open file (io/copy-range.ts copies them without reading them). */
export interface FileExtents {
  fd: number
  ranges: Array<{ position: number, length: number }>
  /** Done with `fd` (a host file opened for the copy is closed). */
  release: () => void
}

/** One file section (ECMA-119 6.5): where its data starts and how long it is, interleaving included. */
export interface FileSection {
  /** LBA where the data starts (the extended attribute record, if any, already skipped: ECMA-119 9.1.2). */
  lba: number
  length: number
  /** ECMA-119 6.4.3 interleaving: data in units of `unitSize` blocks separated by `gapSize` blocks. */
  unitSize: number
  gapSize: number
  /** Bytes into sector `lba` where the data starts: UDF volumes with blocks smaller than 2048 bytes. */
  offset?: number
  /** Not recorded (a UDF extent of type 1 or 2, ECMA-167 4/14.14.1.1): `length` zeros, nowhere in the image. */
  hole?: boolean
}

/** File data in the image: one section, or several for a multi-extent file (ECMA-119 6.5.1). */
export class ImageExtentsSource implements DataSource {
  readonly size: number

  constructor (readonly image: ByteSource, readonly sections: readonly FileSection[]) {
    this.size = sections.reduce((sum, s) => sum + s.length, 0)
  }

  /** The first LBA, which identifies the data (hard links share it). */
  get lba (): number {
    return this.sections[0]?.lba ?? 0
  }

  fileExtents (): FileExtents | undefined {
    if (!(this.image instanceof FileByteSource) || this.sections.some(s => (s.unitSize !== 0 && s.gapSize !== 0) || s.hole === true)) return undefined
    return { fd: this.image.fd, ranges: this.sections.map(s => ({ position: s.lba * SECTOR_SIZE + (s.offset ?? 0), length: s.length })), release: () => {} }
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    let done = 0
    let sectionStart = 0
    for (const section of this.sections) {
      const sectionEnd = sectionStart + section.length
      while (done < length && position + done >= sectionStart && position + done < sectionEnd) {
        const within = position + done - sectionStart
        if (section.hole === true) {
          const zeros = Math.min(length - done, sectionEnd - (position + done))
          buf.fill(0, offset + done, offset + done + zeros)
          done += zeros
          continue
        }
        const [physical, contiguous] = physicalOffset(section, within)
        const want = Math.min(length - done, sectionEnd - (position + done), contiguous)
        const n = await this.image.read(buf, offset + done, want, physical)
        if (n < want) {
          throw new InvalidImageError('IMAGE_TRUNCATED', `file data at byte ${physical + n} lies beyond the end of the image`,
            { structure: 'file data', lba: section.lba })
        }
        done += n
      }
      sectionStart = sectionEnd
      if (done >= length) break
    }
    return done
  }
}

/** Physical byte offset of `within` bytes into a section, and how many bytes follow contiguously. */
function physicalOffset (section: FileSection, within: number): [number, number] {
  const start = section.lba * SECTOR_SIZE + (section.offset ?? 0)
  if (section.unitSize === 0 || section.gapSize === 0) return [start + within, section.length - within]
  const unitBytes = section.unitSize * SECTOR_SIZE
  const unit = Math.floor(within / unitBytes)
  const inUnit = within % unitBytes
  return [start + unit * (section.unitSize + section.gapSize) * SECTOR_SIZE + inUnit, unitBytes - inUnit]
}

export class BufferSource implements DataSource {
  constructor (private readonly bytes: Buffer) {}

  get size (): number {
    return this.bytes.length
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.bytes.length) return 0
    return this.bytes.copy(buf, offset, position, Math.min(this.bytes.length, position + length))
  }
}

export const EMPTY_SOURCE: DataSource = new BufferSource(Buffer.alloc(0))

/**
 * A zisofs-compressed file read as its uncompressed bytes, as Linux isofs does; zisofs2 (xorriso -zisofs
 * version_2=on) too, which Linux does not read. Which of the two it is, the header's magic says. The
 * header and block pointers are read on first use; the last few inflated blocks are kept because FUSE
 * reads 128 KiB at a time and blocks are 32 KiB.
 */
export class ZisofsSource implements DataSource {
  private header?: ZisofsHeader
  private pointers?: number[]
  private readonly cache = new Map<number, Buffer>()
  private static readonly CACHED_BLOCKS = 8

  constructor (private readonly compressed: DataSource, readonly size: number, private readonly lba: number) {}

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.size) return 0
    const end = Math.min(this.size, position + length)
    const { log2BlockSize } = await this.load()
    const blockSize = 2 ** log2BlockSize
    let done = 0
    while (position + done < end) {
      const index = Math.floor((position + done) / blockSize)
      const block = await this.block(index, blockSize)
      const within = (position + done) % blockSize
      const n = Math.min(end - (position + done), block.length - within)
      if (n <= 0) break
      block.copy(buf, offset + done, within, within + n)
      done += n
    }
    return done
  }

  private async load (): Promise<ZisofsHeader> {
    if (this.header !== undefined) return this.header
    const where = { structure: 'zisofs file', lba: this.lba }
    const head = Buffer.alloc(Math.min(ZISOFS_MAX_HEADER_SIZE, this.compressed.size))
    await this.readCompressed(head, 0, where)
    const header = parseZisofsHeader(head, where)
    if (header.uncompressedSize !== this.size) {
      throw new InvalidImageError('IMAGE_BAD_ZISOFS',
        `header size ${header.uncompressedSize} differs from the ZF entry's ${this.size}`, where)
    }
    // zisofs2 names other compressors (xz, lz4, zstd, bzip2); libisofs writes only zlib, as Node reads.
    if (header.algorithmId !== 1) {
      throw new InvalidImageError('IMAGE_BAD_ZISOFS',
        `zisofs2 algorithm ${ZISOFS2_ALGORITHMS[header.algorithmId] ?? header.algorithmId} is not supported (only zlib)`, where)
    }
    const count = zisofsBlockCount(header) + 1
    const pointerSize = zisofsPointerSize(header)
    if (header.headerSizeDiv4 * 4 + count * pointerSize > this.compressed.size) {
      throw new InvalidImageError('IMAGE_BAD_ZISOFS', 'block pointer table exceeds the file', where)
    }
    const table = Buffer.alloc(count * pointerSize)
    await this.readCompressed(table, header.headerSizeDiv4 * 4, where)
    const pointers: number[] = []
    for (let i = 0; i < count; i++) {
      // Pointers past 2^53 cannot be file offsets here anyway; they fail the range check in block().
      pointers.push(pointerSize === 4 ? table.readUInt32LE(i * 4) : Number(table.readBigUInt64LE(i * 8)))
    }
    this.pointers = pointers
    this.header = header
    return header
  }

  private async block (index: number, blockSize: number): Promise<Buffer> {
    const cached = this.cache.get(index)
    if (cached !== undefined) return cached
    const pointers = this.pointers as number[]
    const where = { structure: 'zisofs block', lba: this.lba, offset: index }
    const start = pointers[index]
    const end = pointers[index + 1]
    const expected = Math.min(blockSize, this.size - index * blockSize)
    let block: Buffer
    if (end === start) {
      block = Buffer.alloc(expected)
    } else {
      if (end < start || end > this.compressed.size || end - start > 2 * blockSize + 1024) {
        throw new InvalidImageError('IMAGE_BAD_ZISOFS', `block pointers ${start}..${end} are out of order or range`, where)
      }
      const raw = Buffer.alloc(end - start)
      await this.readCompressed(raw, start, where)
      try {
        block = zlib.inflateSync(raw, { maxOutputLength: blockSize })
      } catch (err) {
        throw new InvalidImageError('IMAGE_BAD_ZISOFS', `block does not inflate: ${(err as Error).message}`, where)
      }
      if (block.length < expected) block = Buffer.concat([block, Buffer.alloc(expected - block.length)])
    }
    if (this.cache.size >= ZisofsSource.CACHED_BLOCKS) this.cache.delete(this.cache.keys().next().value as number)
    this.cache.set(index, block)
    return block
  }

  private async readCompressed (into: Buffer, position: number, where: { structure: string, lba: number }): Promise<void> {
    const n = await this.compressed.read(into, 0, into.length, position)
    if (n < into.length) throw new InvalidImageError('IMAGE_BAD_ZISOFS', 'compressed data ends early', where)
  }
}

/**
 * Content that cannot be shown: every read fails with `error` (an EIO for callers that map errors to
 * errno). For a compressed file whose format is not understood: its recorded bytes are not its content,
 * and showing them as if they were would be worse than an error.
 */
export class UnreadableSource implements DataSource {
  constructor (readonly size: number, private readonly error: () => Error) {}

  async read (_buf: Buffer, _offset: number, length: number, position: number): Promise<number> {
    if (length === 0 || position >= this.size) return 0
    throw this.error()
  }
}

/** Reads a whole source into memory: only for small things (symlink-sized data, boot file heads). */
export async function readAll (source: DataSource, limit: number): Promise<Buffer> {
  const size = Math.min(source.size, limit)
  const buf = Buffer.alloc(size)
  let done = 0
  while (done < size) {
    const n = await source.read(buf, done, size - done, done)
    if (n === 0) break
    done += n
  }
  return buf.subarray(0, done)
}

/** A source's content as a stream, read in 1 MiB positional reads. */
export function contentStream (data: DataSource, chunkSize = 1024 * 1024): Readable {
  let position = 0
  return new Readable({
    highWaterMark: chunkSize,
    read () {
      if (position >= data.size) {
        this.push(null)
        return
      }
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, data.size - position))
      data.read(buf, 0, buf.length, position).then(n => {
        position += n
        if (n === 0) this.destroy(new Error('file data ended early'))
        else this.push(n === buf.length ? buf : buf.subarray(0, n))
      }, err => this.destroy(err))
    }
  })
}
