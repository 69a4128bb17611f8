import { InvalidImageError, IsoError, type ImageLocation } from '../../errors'
import type { Diagnostics } from '../codec/diagnostics'
import { FileFlags, parseDirectoryRecord, type DirectoryRecord } from '../codec/directory-record'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/** A directory record and where it was read. */
export interface LocatedRecord {
  record: DirectoryRecord
  lba: number
  offset: number
  length: number
}

/**
 * A directory larger than this is refused: 256 MiB holds over a million records, far beyond any real
 * directory, and keeps a damaged size field from allocating gigabytes.
 */
export const MAX_DIRECTORY_SIZE = 256 * 1024 * 1024

/** Reads a directory's extent, bounded by the image and MAX_DIRECTORY_SIZE. */
export async function readDirectoryExtent (
  source: ByteSource, extent: number, size: number, diag: Diagnostics, where: ImageLocation
): Promise<Buffer> {
  if (size % SECTOR_SIZE !== 0) {
    // ECMA-119 6.8.1: a directory occupies whole logical blocks. Seen rounded down in hand-made images.
    diag.warn({ ...where, field: 'data length' }, `directory size ${size} is not a multiple of ${SECTOR_SIZE}`)
  }
  const bytes = Math.ceil(size / SECTOR_SIZE) * SECTOR_SIZE
  if (bytes > MAX_DIRECTORY_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_DIRECTORY', `directory of ${size} bytes exceeds the ${MAX_DIRECTORY_SIZE}-byte limit`, where)
  }
  return await readExactly(source, extent * SECTOR_SIZE, bytes, where)
}

/**
 * The records of a directory extent, sector by sector (ECMA-119 6.8.1.1: records never span sectors; a zero
 * length byte means the rest of the sector is unused). A malformed record costs the rest of its sector.
 */
export function parseDirectoryRecords (
  buf: Buffer, extent: number, diag: Diagnostics, where: ImageLocation
): LocatedRecord[] {
  const records: LocatedRecord[] = []
  // One location, updated per record: warnings and errors copy what they name, and an object per record
  // showed in the walk of a 50,000-file image.
  const at: ImageLocation = { ...where, structure: 'directory record' }
  for (let sectorStart = 0; sectorStart < buf.length; sectorStart += SECTOR_SIZE) {
    const sectorEnd = Math.min(buf.length, sectorStart + SECTOR_SIZE)
    const lba = extent + sectorStart / SECTOR_SIZE
    let offset = sectorStart
    while (offset < sectorEnd) {
      at.lba = lba
      at.offset = offset - sectorStart
      let record: DirectoryRecord | undefined
      try {
        record = parseDirectoryRecord(buf, offset, sectorEnd, diag, at)
      } catch (err) {
        if (!(err instanceof IsoError)) throw err
        diag.warn(at, `${err.message.replace(/^invalid image: /, '')}; rest of the sector skipped`)
        break
      }
      if (record === undefined) break
      const length = buf[offset]
      records.push({ record, lba, offset: offset - sectorStart, length })
      offset += length
    }
  }
  return records
}

/**
 * Groups the records of multi-extent files (ECMA-119 6.5.1: every record but the last has the
 * multi-extent flag, all carry the same identifier) into one list per file.
 */
export function groupFileSections (records: LocatedRecord[], diag: Diagnostics): LocatedRecord[][] {
  const files: LocatedRecord[][] = []
  let open: LocatedRecord[] | undefined
  for (const located of records) {
    if (open !== undefined) {
      if (located.record.identifier.equals(open[0].record.identifier)) {
        open.push(located)
        if ((located.record.flags & FileFlags.MULTI_EXTENT) === 0) open = undefined
        continue
      }
      diag.warn({ structure: 'directory record', lba: open[0].lba, offset: open[0].offset, field: 'file flags' },
        'multi-extent file ends without a final record')
      open = undefined
    }
    const group = [located]
    files.push(group)
    if ((located.record.flags & FileFlags.MULTI_EXTENT) !== 0) open = group
  }
  return files
}
