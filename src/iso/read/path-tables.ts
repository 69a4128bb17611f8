import { forgiving, forgivingAsync, type Diagnostics } from '../codec/diagnostics'
import { FileFlags, isSelfOrParent, type DirectoryRecord } from '../codec/directory-record'
import { decodeUcs2 } from '../codec/joliet'
import { parsePathTable, type PathTableByteOrder, type PathTableRecord } from '../codec/path-table'
import { SECTOR_SIZE, type VolumeDescriptor } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'
import { parseDirectoryRecords, readDirectoryExtent } from './directory-records'

/*
 * ECMA-119 6.9 and 9.4: each volume descriptor points at an L (little-endian) and an M (big-endian) path
 * table, optionally a copy of each, that list every directory of its tree with its extent and parent.
 * Linux and most readers never look at them (the directory records say the same), so images with wrong
 * path tables mount everywhere; DOS-era readers and some firmware use them, and a mismatch means one of
 * the two was not written by the tool that wrote the other. Reading them is therefore a check, made when
 * asked (isotool info) and at open in strict mode, never a source of the tree.
 */

export interface PathTableCopy {
  kind: 'L' | 'M' | 'optional L' | 'optional M'
  lba: number
  /** The records as read (9.4); undefined when the table could not be read or parsed. */
  records?: PathTableRecord[]
}

export interface PathTableReport {
  /** Which tree: the primary descriptor's or the Joliet one's. */
  tree: 'primary' | 'Joliet'
  size: number
  tables: PathTableCopy[]
  /** Directories found by walking the tree's directory records. */
  directories: number
  /** Every table readable and listing exactly the directories of the tree, with their extents. */
  consistent: boolean
}

/** A path table larger than this is not read: 16 MiB is ~1.5 million directories. */
const MAX_PATH_TABLE_SIZE = 16 * 1024 * 1024
/** Directories walked at most for the check; far above real images, and it bounds a hostile one. */
const MAX_DIRECTORIES = 1_000_000
/** Differences reported one by one; the rest are counted. */
const REPORTED_DIFFERENCES = 5

export async function checkPathTables (
  source: ByteSource, descriptor: VolumeDescriptor, tree: PathTableReport['tree'], diag: Diagnostics
): Promise<PathTableReport> {
  const size = descriptor.pathTableSize
  const copies: Array<{ kind: PathTableCopy['kind'], lba: number, order: PathTableByteOrder }> = [
    { kind: 'L', lba: descriptor.lPathTable, order: 'L' },
    { kind: 'M', lba: descriptor.mPathTable, order: 'M' },
    { kind: 'optional L', lba: descriptor.lPathTableOptional, order: 'L' },
    { kind: 'optional M', lba: descriptor.mPathTableOptional, order: 'M' }
  ]
  const directories = await directoryExtents(source, descriptor, diag)
  const report: PathTableReport = { tree, size, tables: [], directories: directories.size, consistent: true }
  for (const copy of copies) {
    // 8.4.15-8.4.18: only the two mandatory tables must exist; zero means an optional one is absent.
    if (copy.lba === 0 && copy.kind.startsWith('optional')) continue
    const where = { structure: `${tree} ${copy.kind} path table`, lba: copy.lba }
    const table: PathTableCopy = { kind: copy.kind, lba: copy.lba }
    report.tables.push(table)
    const records = await readTable(source, copy.lba, size, copy.order, where, diag)
    if (records === undefined) {
      report.consistent = false
      continue
    }
    table.records = records
    if (!compare(records, directories, where, diag, tree === 'Joliet' ? ucs2 : latin1)) report.consistent = false
  }
  return report
}

async function readTable (
  source: ByteSource, lba: number, size: number, order: PathTableByteOrder,
  where: { structure: string, lba: number }, diag: Diagnostics
): Promise<PathTableRecord[] | undefined> {
  if (size === 0 || size > MAX_PATH_TABLE_SIZE || lba * SECTOR_SIZE + size > source.size) {
    diag.warn({ ...where, field: 'location or size' }, `a ${size}-byte table at LBA ${lba} does not fit in the image; not checked`)
    return undefined
  }
  const bytes = await forgivingAsync(diag, 'not checked', async () => await readExactly(source, lba * SECTOR_SIZE, size, where))
  if (bytes === undefined) return undefined
  return forgiving(diag, 'not checked', () => parsePathTable(bytes, order, where))
}

/**
 * The tree's directories as its directory records say, path (raw identifiers joined by "/") to extent.
 * Walked breadth first, each extent once (a loop in a damaged image ends), bounded in count.
 */
async function directoryExtents (source: ByteSource, descriptor: VolumeDescriptor, diag: Diagnostics): Promise<Map<string, number>> {
  const found = new Map<string, number>([['', descriptor.root.extent]])
  // Records follow a directory's extended attribute record (ECMA-119 9.1.2); the path table, like the
  // directory record, gives the extent's start (9.4.3).
  const recordsAt = (record: DirectoryRecord): number => record.extent + record.extendedAttributeLength
  const queue: Array<{ path: string, extent: number, size: number }> = [{ path: '', extent: recordsAt(descriptor.root), size: descriptor.root.dataLength }]
  const seen = new Set<number>([descriptor.root.extent])
  // The tree loader reports damage in these directories; the check only needs what it can read.
  const quiet: Diagnostics = { strict: false, warn: () => {} }
  while (queue.length > 0 && found.size < MAX_DIRECTORIES) {
    const dir = queue.shift() as { path: string, extent: number, size: number }
    const where = { structure: 'directory', lba: dir.extent }
    const buf = await forgivingAsync(quiet, '', async () => await readDirectoryExtent(source, dir.extent, dir.size, quiet, where))
    if (buf === undefined) continue
    for (const { record } of parseDirectoryRecords(buf, dir.extent, quiet, where)) {
      if ((record.flags & FileFlags.DIRECTORY) === 0 || isSelfOrParent(record)) continue
      const path = `${dir.path}/${record.identifier.toString('latin1')}`
      found.set(path, record.extent)
      if (seen.has(record.extent)) continue
      seen.add(record.extent)
      queue.push({ path, extent: recordsAt(record), size: record.dataLength })
    }
  }
  if (found.size >= MAX_DIRECTORIES) diag.warn({ structure: 'directory tree' }, `more than ${MAX_DIRECTORIES} directories; path tables checked against the first`)
  return found
}

/** Compares a table with the tree; warns about each difference (the first few) and returns whether none. */
function compare (
  records: PathTableRecord[], directories: Map<string, number>, where: { structure: string, lba: number }, diag: Diagnostics,
  show: (raw: string) => string
): boolean {
  const printable = (path: string): string => path === '' ? '/' : show(path)
  const differences: string[] = []
  const paths: string[] = []
  records.forEach((record, i) => {
    // 9.4.6: directory numbers are 1-based positions; the root (number 1) is its own parent, and every
    // other directory's parent comes before it (6.9.1 orders the table by level).
    let path: string
    if (i === 0) {
      path = ''
      if (record.parent !== 1 || !(record.identifier.length === 1 && record.identifier[0] === 0)) differences.push('record 1 is not the root')
    } else {
      const parent = parentNumber(record, i, paths, directories)
      if (parent === undefined) {
        differences.push(`record ${i + 1} names parent ${record.parent}, which does not precede it`)
        path = `?${i + 1}`
      } else {
        path = `${paths[parent - 1]}/${record.identifier.toString('latin1')}`
      }
    }
    paths.push(path)
    const extent = directories.get(path)
    if (path.startsWith('?') || path.includes('/?')) return
    if (extent === undefined) differences.push(`lists ${printable(path)} (extent ${record.extent}), which is not a directory of the tree`)
    else if (extent !== record.extent) differences.push(`${printable(path)} at extent ${record.extent}, its directory record says ${extent}`)
  })
  const listed = new Set(paths)
  for (const path of directories.keys()) if (!listed.has(path)) differences.push(`does not list directory ${printable(path)}`)
  for (const difference of differences.slice(0, REPORTED_DIFFERENCES)) diag.warn(where, difference)
  if (differences.length > REPORTED_DIFFERENCES) diag.warn(where, `${differences.length - REPORTED_DIFFERENCES} more differences from the directory tree`)
  return differences.length === 0
}

/**
 * The parent a record at 0-based `index` names. Numbers are 16-bit (9.4.6); beyond 65,535 directories
 * xorriso records their low 16 bits (codec recordedParentNumber), so every number with those bits that
 * precedes the record is a candidate, and the tree says which one holds a directory of that name.
 */
function parentNumber (record: PathTableRecord, index: number, paths: readonly string[], directories: Map<string, number>): number | undefined {
  let first: number | undefined
  for (let n = record.parent === 0 ? 0x10000 : record.parent; n <= index; n += 0x10000) {
    first ??= n
    if (directories.has(`${paths[n - 1]}/${record.identifier.toString('latin1')}`)) return n
  }
  return first
}

/** Paths are kept as raw identifier bytes (latin1 strings); messages show them as their tree names them. */
function latin1 (raw: string): string {
  return JSON.stringify(raw).slice(1, -1)
}

function ucs2 (raw: string): string {
  return raw.split('/').map(part => decodeUcs2(Buffer.from(part, 'latin1'))).join('/')
}
