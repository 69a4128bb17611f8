import { InvalidInputError } from '../../errors'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'
import { ImageExtentsSource, type DataSource } from '../model/data-source'
import { HostFileSource } from '../model/host-sources'
import type { BootPatch } from './el-torito-writer'
import type { Layout, Placed } from './layout'
import type { SectorWriter } from './sector-writer'

/*
 * The data-copy engine: file and region bytes into the image being written, with read-ahead, runs of
 * small files read and written at once, and kernel copies (copy_file_range) for large ones.
 */

const COPY_CHUNK = 4 * 1024 * 1024

/** Files up to this size are read whole, ahead of their turn, to hide the latency of opening them. */
const SMALL_FILE = 1024 * 1024
/** How many small files are read ahead at most. */
const READ_AHEAD = 32
/** ... and at most this many bytes read ahead. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024

/** One file's (or region's) bytes and where they go. */
interface FileToCopy {
  holder: Placed
  lba: number
  source: DataSource
}

/**
 * What copyFiles copies in one go: one file, or a run of small files of the image being rewritten that lie
 * back to back both where they are and where they go (a remaster keeps most files in their order). A run
 * is read with one read and written with one write, their sector tails zeroed in between (ECMA-119 leaves
 * them unspecified, and the old image's tails can hold what an in-place shrink cut off): 50,000 small
 * files were 50,000 reads and a gathered write of 100,000 pieces.
 */
type Piece = { file: FileToCopy } | { run: FileToCopy[], image: ByteSource, sourceLba: number, sectors: number }

function piecesOf (files: readonly FileToCopy[], patches: ReadonlyMap<Placed, BootPatch>): Piece[] {
  const pieces: Piece[] = []
  const sectorsOf = (f: FileToCopy): number => Math.ceil(f.source.size / SECTOR_SIZE)
  const runnable = (f: FileToCopy): ImageExtentsSource | undefined => {
    const s = f.source
    if (!(s instanceof ImageExtentsSource) || s.size > SMALL_FILE || patches.has(f.holder) || s.sections.length !== 1) return undefined
    const section = s.sections[0]
    return section.unitSize === 0 || section.gapSize === 0 ? s : undefined
  }
  let current: Extract<Piece, { run: FileToCopy[] }> | undefined
  for (const file of files) {
    const source = runnable(file)
    const last = current?.run[current.run.length - 1]
    if (current !== undefined && last !== undefined && source !== undefined && source.image === current.image &&
        source.lba === current.sourceLba + current.sectors && file.lba === last.lba + sectorsOf(last) &&
        (current.sectors + sectorsOf(file)) * SECTOR_SIZE <= COPY_CHUNK &&
        (source.lba + sectorsOf(file)) * SECTOR_SIZE <= source.image.size) {
      current.run.push(file)
      current.sectors += sectorsOf(file)
      continue
    }
    current = source !== undefined && (source.lba + sectorsOf(file)) * SECTOR_SIZE <= source.image.size
      ? { run: [file], image: source.image, sourceLba: source.lba, sectors: sectorsOf(file) }
      : undefined
    pieces.push(current ?? { file })
  }
  return pieces
}

/** A run's sectors as they go into the new image: read whole, each file's sector tail zeroed. */
async function readRun (piece: Extract<Piece, { run: FileToCopy[] }>): Promise<Buffer> {
  const span = await readExactly(piece.image, piece.sourceLba * SECTOR_SIZE, piece.sectors * SECTOR_SIZE, { structure: 'file data', lba: piece.sourceLba })
  let at = 0
  for (const file of piece.run) {
    const end = at + Math.ceil(file.source.size / SECTOR_SIZE) * SECTOR_SIZE
    span.fill(0, at + file.source.size, end)
    at = end
  }
  return span
}

/**
 * Copies the data of every file and region the layout places anew, in LBA order. Small files are read
 * ahead (many at once: each read waits on the thread pool and the disk, and thousands of files one after
 * the other would spend most of the time waiting); large ones stream in chunks with the next chunk read
 * while the current one is written, or are copied in the kernel. Boot images get their patches on the way.
 */
export async function copyPlaced (layout: Layout, patches: ReadonlyMap<Placed, BootPatch>, out: SectorWriter): Promise<void> {
  const files = [...layout.placed]
    .filter(([holder, sections]) => sections[0].length > 0 && !layout.fixed.has(holder) && layout.content.has(holder))
    .sort((a, b) => a[1][0].lba - b[1][0].lba)
    .map(([holder, sections]) => ({ holder, lba: sections[0].lba, source: layout.content.get(holder) as DataSource }))
  const pieces = piecesOf(files, patches)
  const ahead = new Map<number, { bytes: number, read: Promise<Buffer> }>()
  let aheadBytes = 0
  let copyBuffers: Buffer[] | undefined
  let next = 0
  for (let i = 0; i < pieces.length; i++) {
    // Read ahead a few pieces, and a bounded amount: memory stays flat whatever the files.
    for (; next < pieces.length && next < i + READ_AHEAD && aheadBytes < READ_AHEAD_BYTES; next++) {
      const piece = pieces[next]
      let read: Promise<Buffer> | undefined
      let bytes = 0
      if ('run' in piece) {
        read = readRun(piece)
        bytes = piece.sectors * SECTOR_SIZE
      } else if (piece.file.source.size <= SMALL_FILE) {
        const source = piece.file.source
        read = source instanceof HostFileSource ? Promise.resolve().then(() => source.readSmall()) : readChunk(source, 0, source.size)
        bytes = source.size
      }
      read?.catch(() => {})
      if (read !== undefined) {
        ahead.set(next, { bytes, read })
        aheadBytes += bytes
      }
    }
    const piece = pieces[i]
    const pending = ahead.get(i)
    ahead.delete(i)
    aheadBytes -= pending?.bytes ?? 0
    const read = pending?.read
    if ('run' in piece) {
      await out.seek(piece.run[0].lba * SECTOR_SIZE)
      await out.write(await (read as Promise<Buffer>))
      continue
    }
    const { holder, lba, source } = piece.file
    await out.seek(lba * SECTOR_SIZE)
    const patch = patches.get(holder)
    if (read !== undefined) {
      const chunk = await read
      patch?.(chunk, 0)
      await out.write(chunk)
    } else if (!await copyInKernel(source, patch === undefined, out)) {
      // Two buffers taking turns: one is written while the next chunk is read into the other.
      const buffers = copyBuffers ??= [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)]
      let turn = 0
      const readAt = (position: number): Promise<Buffer> => {
        const promise = readChunk(source, position, Math.min(COPY_CHUNK, source.size - position), buffers[turn])
        promise.catch(() => {}) // awaited below; a write failing first must not leave it unhandled
        return promise
      }
      let pending = readAt(0)
      for (let position = 0; position < source.size;) {
        const chunk = await pending
        patch?.(chunk, position)
        position += chunk.length
        turn ^= 1
        if (position < source.size) pending = readAt(position)
        await out.write(chunk, true)
      }
    }
    const tail = source.size % SECTOR_SIZE
    if (tail !== 0) await out.write(Buffer.alloc(SECTOR_SIZE - tail))
  }
}

/** A large file copied file to file by the kernel (cp's way), where both ends are files and nothing is patched in. */
async function copyInKernel (source: DataSource, allowed: boolean, out: SectorWriter): Promise<boolean> {
  const extents = allowed ? source.fileExtents?.() : undefined
  if (extents === undefined) return false
  try {
    return await out.copyExtents(extents)
  } finally {
    extents.release()
  }
}

/** Exactly `length` bytes at `position`: in `into` if given, else in a buffer of their own (the sink keeps it). */
async function readChunk (source: DataSource, position: number, length: number, into?: Buffer): Promise<Buffer> {
  const buf = into !== undefined ? into.subarray(0, length) : Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = await source.read(buf, done, length - done, position + done)
    if (n === 0) throw new InvalidInputError('BAD_ARGUMENT', `file data ended after ${position + done} of ${source.size} bytes (did the source file change while writing?)`)
    done += n
  }
  return buf
}
