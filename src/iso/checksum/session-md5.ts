import { createHash, type Hash } from 'node:crypto'
import { WarningLog } from '../codec/diagnostics'
import { attributeName, attributeNumber, parseAttributeList, parseChecksumArrayAttribute } from '../codec/aaip'
import { checksumTagSelfText, parseChecksumTag, type ChecksumTag } from '../codec/checksum-tag'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'
import type { DataSource } from '../model/data-source'
import type { Node } from '../model/node'
import type { DescriptorSet } from '../read/descriptors'
import { readRootSelf } from '../read/open-image'
import { SectorCache } from '../read/sector-cache'
import { collectSystemUse } from '../read/system-use'

/*
 * xorriso's session checksums (-md5 on; libisofs doc/checksums.txt): the checksum tags (codec/checksum-tag.ts),
 * and the checksum array the root's "isofs.ca" attribute places at the session's end: entry 0 sums the
 * session from its start up to the array, entries 1..N the files whose "isofs.cx" names them (their data
 * as recorded: a zisofs file's compressed bytes), entry N+1 sums entries 0..N.
 */

/** A block range whose MD5 is recorded: what a check compares. */
interface SummedRange {
  start: number
  blocks: number
  expected: string
  actual?: string
}

export interface LocatedTag {
  lba: number
  tag: ChecksumTag
}

/** The checksum array as "isofs.ca" describes it. */
export interface ChecksumArray {
  start: number
  end: number
  count: number
  entries: Buffer[]
}

/** How far to look past a session's start for its superblock tag (after a descriptor set of any size). */
const SUPERBLOCK_SEARCH = 80

/** The tags of the image's current session, following the chain from the superblock tag; empty if none. */
export async function findChecksumTags (source: ByteSource, descriptors: DescriptorSet): Promise<LocatedTag[]> {
  const found: LocatedTag[] = []
  const at = async (lba: number): Promise<ChecksumTag | undefined> => {
    if ((lba + 1) * SECTOR_SIZE > source.size) return undefined
    const tag = parseChecksumTag(await readExactly(source, lba * SECTOR_SIZE, SECTOR_SIZE, { structure: 'checksum tag', lba }))
    // A tag is where it says it is; elsewhere it is file data that happens to look like one.
    return tag !== undefined && tag.pos === lba ? tag : undefined
  }
  let sessionStart = descriptors.sessionStart
  const first = await at(descriptors.terminatorLba + 1)
  if (first?.type === 'relocated-superblock') {
    found.push({ lba: first.pos, tag: first })
    sessionStart = first.sessionStart ?? sessionStart
  }
  let superblock = first?.type === 'superblock' ? first : undefined
  if (superblock === undefined) {
    // One read of the window, not a read per sector: every commit looks (a 1-byte edit's commit spent
    // more time here than in the rest of its planning).
    const from = sessionStart + 17
    const sectors = Math.max(0, Math.min(SUPERBLOCK_SEARCH, Math.floor(source.size / SECTOR_SIZE) - from))
    const window = sectors > 0 ? await readExactly(source, from * SECTOR_SIZE, sectors * SECTOR_SIZE, { structure: 'checksum tag', lba: from }) : Buffer.alloc(0)
    for (let i = 0; superblock === undefined && i < sectors; i++) {
      const tag = parseChecksumTag(window.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE))
      if (tag?.type === 'superblock' && tag.pos === from + i) superblock = tag
    }
  }
  let tag = superblock
  for (let hop = 0; tag !== undefined && hop < 3; hop++) {
    found.push({ lba: tag.pos, tag })
    tag = tag.next !== undefined && tag.type !== 'session' ? await at(tag.next) : undefined
  }
  return found
}

/** The checksum array the root's "isofs.ca" places, if the image has one. */
export async function readChecksumArray (source: ByteSource, descriptors: DescriptorSet): Promise<ChecksumArray | undefined> {
  const diag = new WarningLog(false)
  const self = await readRootSelf(source, descriptors.primary.root, diag).catch(() => undefined)
  if (self === undefined) return undefined
  const entries = await collectSystemUse(self.systemUse, 0, new SectorCache(source), diag, { structure: 'root "." record', lba: descriptors.primary.root.extent })
  const ca = parseAttributeList(entries).find(a => attributeName(a.name) === 'isofs.ca')
  const place = ca !== undefined ? parseChecksumArrayAttribute(ca.value) : undefined
  if (place === undefined || place.size !== 16 || place.algorithm !== 'MD5' || place.count < 2) return undefined
  if (place.end * SECTOR_SIZE + place.count * 16 > source.size) return undefined
  const bytes = await readExactly(source, place.end * SECTOR_SIZE, place.count * 16, { structure: 'checksum array', lba: place.end })
  const list: Buffer[] = []
  for (let i = 0; i < place.count; i++) list.push(bytes.subarray(i * 16, i * 16 + 16))
  return { start: place.start, end: place.end, count: place.count, entries: list }
}

/** A file's index into the checksum array ("isofs.cx"), if it has one. */
export function checksumIndexOf (node: Node): number | undefined {
  const cx = parseAttributeList(node.foreignSystemUse ?? []).find(a => attributeName(a.name) === 'isofs.cx')
  return cx !== undefined ? attributeNumber(cx.value) : undefined
}

export interface SessionMd5Report {
  tags: Array<LocatedTag & { status: 'PASS' | 'FAIL', reason?: string }>
  /** Entry 0 (the session) and the array's own sum, when there is an array. */
  array?: { status: 'PASS' | 'FAIL', reason?: string, start: number, end: number }
}

/** Checks every tag and the checksum array's session sum; one pass per distinct range start. */
export async function checkSessionMd5 (
  source: ByteSource, tags: LocatedTag[], array: ChecksumArray | undefined, onProgress?: (done: number, total: number) => void
): Promise<SessionMd5Report> {
  const ranges: SummedRange[] = tags.map(({ tag }) => ({ start: tag.rangeStart, blocks: tag.rangeSize, expected: tag.md5 }))
  if (array !== undefined) ranges.push({ start: array.start, blocks: array.end - array.start, expected: array.entries[0].toString('hex') })
  await sumRanges(source, ranges, onProgress)
  const report: SessionMd5Report = {
    tags: tags.map((t, i) => {
      const self = createHash('md5').update(checksumTagSelfText(t.tag), 'latin1').digest('hex')
      if (self !== t.tag.self) return { ...t, status: 'FAIL', reason: 'the tag\'s own checksum (self=) does not match its text' }
      const r = ranges[i]
      return r.actual === r.expected ? { ...t, status: 'PASS' } : { ...t, status: 'FAIL', reason: `blocks ${r.start}-${r.start + r.blocks - 1} sum to ${r.actual ?? 'nothing (beyond the image)'}, the tag records ${r.expected}` }
    })
  }
  if (array !== undefined) {
    const r = ranges[ranges.length - 1]
    const own = createHash('md5').update(Buffer.concat(array.entries.slice(0, -1))).digest('hex')
    const reason = r.actual !== r.expected
      ? `blocks ${r.start}-${array.end - 1} sum to ${r.actual ?? 'nothing'}, the array records ${r.expected}`
      : own !== array.entries[array.count - 1].toString('hex') ? 'the array\'s last entry does not sum its other entries' : undefined
    report.array = { status: reason === undefined ? 'PASS' : 'FAIL', reason, start: array.start, end: array.end }
  }
  return report
}

/** MD5 of a file's data as recorded. */
export async function md5OfData (data: DataSource): Promise<string> {
  const hash = createHash('md5')
  const buf = Buffer.alloc(1024 * 1024)
  for (let at = 0; at < data.size;) {
    const n = await data.read(buf, 0, Math.min(buf.length, data.size - at), at)
    if (n <= 0) break
    hash.update(buf.subarray(0, n))
    at += n
  }
  return hash.digest('hex')
}

async function sumRanges (source: ByteSource, ranges: SummedRange[], onProgress?: (done: number, total: number) => void): Promise<void> {
  const starts = [...new Set(ranges.map(r => r.start))]
  const total = starts.reduce((sum, s) => sum + Math.max(...ranges.filter(r => r.start === s).map(r => r.blocks)), 0) * SECTOR_SIZE
  let done = 0
  const buf = Buffer.alloc(1024 * 1024)
  for (const start of starts) {
    const here = ranges.filter(r => r.start === start).sort((a, b) => a.blocks - b.blocks)
    const hash: Hash = createHash('md5')
    let position = start * SECTOR_SIZE
    for (const range of here) {
      const end = (range.start + range.blocks) * SECTOR_SIZE
      if (end > source.size) continue // left without `actual`: reported as a mismatch
      while (position < end) {
        const n = await source.read(buf, 0, Math.min(buf.length, end - position), position)
        if (n <= 0) break
        hash.update(buf.subarray(0, n))
        position += n
        done += n
        onProgress?.(done, total)
      }
      if (position === end) range.actual = hash.copy().digest('hex')
    }
  }
}
