import { createHash, type Hash } from 'node:crypto'
import { InternalError } from '../../errors'
import { checksumTagSelfText, serializeChecksumTag, type ChecksumTag, type ChecksumTagType } from '../codec/checksum-tag'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'
import { md5OfData } from '../checksum/session-md5'
import type { DataSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Layout, SessionMd5Layout } from './layout'

/*
 * Serialization of xorriso's session checksums (libisofs doc/checksums.txt), placed by the layout pass
 * (SessionMd5Layout): each tag sums the session from its start up to the tag, so they are computed last,
 * in one read of the written session in LBA order, each tag's block then counted in what follows it:
 * superblock tag (next = tree tag), tree tag (next = session tag), the checksum array (entry 0: the
 * session up to the array; 1..N: the files; N+1: the sum of entries 0..N), the session tag. A session
 * that does not start at 0 has its descriptors copied at its start + 16 and a "relocated superblock" tag
 * after the ones at 16 (range 0 up to it, session_start naming the session), as xorriso -outdev writes.
 */

/** Bytes to write at an offset of the image. */
export interface Written {
  offset: number
  bytes: Buffer
}

/**
 * A file's MD5 as the image recorded it, when its data is unchanged since (xorriso -md5 on copies these
 * for files it takes over from the loaded image); undefined: computed from the data written.
 */
export type RecordedMd5 = (inode: Inode) => Buffer | undefined

const CHUNK = 1024 * 1024

/**
 * The session's copy of the descriptors at 16 (at its start + 16), read from `final`: each records the
 * session's own size, as xorriso's do.
 */
export async function superblockCopy (layout: Layout, final: ByteSource): Promise<Written | undefined> {
  const md5 = layout.sessionMd5
  if (md5?.superblockCopyLba === undefined) return undefined
  const bytes = await readExactly(final, 16 * SECTOR_SIZE, (layout.terminatorLba - 15) * SECTOR_SIZE, { structure: 'volume descriptors', lba: 16 })
  const size = layout.volumeSectors - md5.start
  for (let at = 0; at < bytes.length; at += SECTOR_SIZE) {
    // Primary and supplementary descriptors: volume space size, both-endian (ECMA-119 8.4.8).
    if (bytes[at] === 1 || bytes[at] === 2) {
      bytes.writeUInt32LE(size, at + 80)
      bytes.writeUInt32BE(size, at + 84)
    }
  }
  return { offset: md5.superblockCopyLba * SECTOR_SIZE, bytes }
}

/** One file's sections, fed to its hash in order as the read passes them. */
interface FileRange {
  start: number
  end: number
  hash: Hash
}

/**
 * The tags and the checksum array, for the image `final` reads (every byte final but these: what it
 * reads at their places is ignored). Files whose MD5 `recorded` gives are not hashed.
 */
export async function sessionMd5Blocks (
  layout: Layout, final: ByteSource, recorded: RecordedMd5, onProgress?: (done: number, total: number) => void
): Promise<Written[]> {
  const md5 = layout.sessionMd5
  if (md5 === undefined) return []
  const sums = new Map<Inode, Buffer | Hash>()
  const ranges: FileRange[] = []
  const elsewhere: Array<[Inode, DataSource]> = []
  for (const inode of md5.indexes.keys()) {
    const known = recorded(inode)
    if (known !== undefined) {
      sums.set(inode, known)
      continue
    }
    const hash = createHash('md5')
    const sections = (layout.placed.get(inode) ?? []).filter(s => s.length > 0)
    const own = sections.map(s => ({ start: s.lba * SECTOR_SIZE, end: s.lba * SECTOR_SIZE + s.length, hash }))
    const inOrder = own.every((r, i) => r.start >= md5.start * SECTOR_SIZE && r.end <= md5.arrayLba * SECTOR_SIZE && (i === 0 || r.start >= own[i - 1].end))
    if (inOrder) {
      ranges.push(...own)
      sums.set(inode, hash)
    } else elsewhere.push([inode, layout.content.get(inode) as DataSource]) // before the session: read on its own
  }
  ranges.sort((a, b) => a.start - b.start)
  for (const [inode, data] of elsewhere) sums.set(inode, Buffer.from(await md5OfData(data), 'hex'))

  const out: Written[] = []
  const session = createHash('md5')
  const total = (md5.sessionTagLba - md5.start) * SECTOR_SIZE
  const buf = Buffer.alloc(CHUNK)
  let position = md5.start * SECTOR_SIZE
  let next = 0
  const active: FileRange[] = []
  const readUpTo = async (end: number): Promise<void> => {
    while (position < end) {
      const n = await final.read(buf, 0, Math.min(CHUNK, end - position), position)
      if (n <= 0) throw new InternalError(`the written session ends at byte ${position}, before its checksum tags`)
      const chunk = buf.subarray(0, n)
      session.update(chunk)
      while (next < ranges.length && ranges[next].start < position + n) active.push(ranges[next++])
      for (let i = active.length - 1; i >= 0; i--) {
        const r = active[i]
        const from = Math.max(r.start, position)
        const to = Math.min(r.end, position + n)
        if (from < to) r.hash.update(chunk.subarray(from - position, to - position))
        if (r.end <= position + n) active.splice(i, 1)
      }
      position += n
      onProgress?.(position - md5.start * SECTOR_SIZE, total)
    }
  }
  const put = (lba: number, bytes: Buffer): void => {
    session.update(bytes)
    out.push({ offset: lba * SECTOR_SIZE, bytes })
    position = lba * SECTOR_SIZE + bytes.length
  }
  const tag = async (type: ChecksumTagType, lba: number, nextTag?: number): Promise<void> => {
    await readUpTo(lba * SECTOR_SIZE)
    put(lba, tagBlock(type, lba, md5.start, lba - md5.start, session.copy().digest('hex'), { next: nextTag }))
  }
  await tag('superblock', md5.superblockTagLba, md5.treeTagLba)
  await tag('tree', md5.treeTagLba, md5.sessionTagLba)
  await readUpTo(md5.arrayLba * SECTOR_SIZE)
  put(md5.arrayLba, checksumArray(md5, session.copy().digest(), sums))
  await tag('session', md5.sessionTagLba)

  if (md5.relocatedTagLba !== undefined) {
    // Sums sectors 0 up to it: the system area and descriptors at 16, which name the session.
    const head = await readExactly(final, 0, md5.relocatedTagLba * SECTOR_SIZE, { structure: 'system area and volume descriptors', lba: 0 })
    const digest = createHash('md5').update(head).digest('hex')
    out.push({ offset: md5.relocatedTagLba * SECTOR_SIZE, bytes: tagBlock('relocated-superblock', md5.relocatedTagLba, 0, md5.relocatedTagLba, digest, { sessionStart: md5.start }) })
  }
  return out
}

/** The array's sectors: entry 0 the session, then each file by its index, then the sum of those. */
function checksumArray (md5: SessionMd5Layout, session: Buffer, sums: Map<Inode, Buffer | Hash>): Buffer {
  const bytes = Buffer.alloc(Math.ceil(md5.arrayCount * 16 / SECTOR_SIZE) * SECTOR_SIZE)
  session.copy(bytes, 0)
  for (const [inode, index] of md5.indexes) {
    const sum = sums.get(inode)
    const digest = sum instanceof Buffer ? sum : (sum as Hash).digest()
    digest.copy(bytes, index * 16)
  }
  const last = md5.arrayCount - 1
  createHash('md5').update(bytes.subarray(0, last * 16)).digest().copy(bytes, last * 16)
  return bytes
}

function tagBlock (
  type: ChecksumTagType, pos: number, rangeStart: number, rangeSize: number, md5: string, more: { next?: number, sessionStart?: number }
): Buffer {
  const tag: Omit<ChecksumTag, 'self'> = { type, pos, rangeStart, rangeSize, sessionStart: more.sessionStart, next: more.next, md5 }
  return serializeChecksumTag({ ...tag, self: createHash('md5').update(checksumTagSelfText(tag), 'latin1').digest('hex') })
}
