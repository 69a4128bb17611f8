import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { Diagnostics } from '../../codec/diagnostics'
import {
  AD_KIND_BY_FLAG, AD_SIZE, allocationDescriptorCount, ExtentType, extentLength, parseAllocationDescriptor, type AdKind, type AllocationDescriptor, type LbAddr
} from '../../codec/udf/addresses'
import { parseAllocationExtent } from '../../codec/udf/allocation-extent'
import { parseFileEntry, RecordedFileEntry, type FileEntry } from '../../codec/udf/file-entry'
import { IcbFlag, parseIndirectEntry } from '../../codec/udf/icb'
import { parseTag, TagId, tagIsSound, tagName, verifyTag } from '../../codec/udf/tag'
import { readExactly, readExactlyInto, type ByteSource } from '../../io/byte-source'
import type { ImageRange, LogicalVolumeMap } from './partitions'

/*
 * Reading file entries and where their data is: the ICB (ECMA-167 4/14.6) with its indirect entries
 * (strategy 4096, UDF 2.3.5), and the allocation descriptors with their continuation extents (4/14.5).
 * Both chains are followed a bounded number of steps and never through the same block twice, so a
 * damaged image that makes them loop ends with an error naming the entry.
 */

/** Indirect entries followed from one ICB (Linux udf allows 1024; writers use one). */
const MAX_INDIRECTIONS = 64
/** Allocation extent descriptors followed for one file: 65,536 blocks of descriptors is 16 M extents. */
const MAX_CONTINUATIONS = 65536

export interface UdfContext {
  source: ByteSource
  map: LogicalVolumeMap
  diag: Diagnostics
  /** Blocks read ahead, by image position (prefetchBlocks): a directory's file entries are read in runs. */
  prefetched?: Map<number, Buffer>
}

/** File entries read ahead at a time: 64 blocks (128 KiB of 2048-byte blocks). */
export const READ_AHEAD_BLOCKS = 64

/**
 * Where file entries are read ahead, reused from one batch to the next (a fresh 128 KiB buffer each time
 * cost more in page faults than the reads), with a view of each of its blocks made once.
 */
export class ReadAheadBuffer {
  readonly bytes: Buffer
  readonly blocks: Buffer[] = []

  constructor (readonly blockSize: number) {
    this.bytes = Buffer.allocUnsafe(READ_AHEAD_BLOCKS * blockSize)
    for (let at = 0; at < this.bytes.length; at += blockSize) this.blocks.push(this.bytes.subarray(at, at + blockSize))
  }
}

/**
 * Reads the blocks at `addrs` (some of a directory's file entries, at most READ_AHEAD_BLOCKS different
 * ones) into `into` in as few reads as their places allow: writers put a directory's entries next to
 * each other (genisoimage, pycdlib, mkudffs), so a directory of 100 files costs a couple of reads instead
 * of 100. Addresses that cannot be resolved are left for the entry's own read to report (as are those of
 * partitions other than plain physical ones, which writers that lay entries out in runs do not use). The
 * blocks returned are views of `into`: good until it is reused.
 */
export async function prefetchBlocks (ctx: UdfContext, addrs: readonly LbAddr[], into: ReadAheadBuffer): Promise<Map<number, Buffer>> {
  const size = ctx.map.blockSize
  const positions: number[] = []
  for (const addr of addrs) {
    const position = ctx.map.quickPosition(addr.partition, addr.block)
    if (position !== undefined) positions.push(position)
  }
  positions.sort((a, b) => a - b)
  const blocks = new Map<number, Buffer>()
  let used = 0
  let i = 0
  while (i < positions.length) {
    let j = i
    while (j + 1 < positions.length && positions[j + 1] - positions[i] < READ_AHEAD_BLOCKS * size &&
      (positions[j + 1] === positions[j] || positions[j + 1] === positions[j] + size)) j++
    const start = positions[i]
    const length = positions[j] - start + size
    if (size === into.blockSize && start + length <= ctx.source.size && used + length <= into.bytes.length) {
      await readExactlyInto(ctx.source, into.bytes, used, start, length, { structure: 'file entries', lba: Math.floor(start / 2048) })
      for (let at = 0; at < length; at += size) blocks.set(start + at, into.blocks[(used + at) / size])
      used += length
    }
    i = j + 1
  }
  return blocks
}

export interface LocatedEntry {
  entry: FileEntry
  /** The block the prevailing entry was read from (after any indirect entries), and its image position. */
  addr: LbAddr
  position: number
}

/** A file's data: embedded in its entry, or a list of pieces of the image and holes, in order. */
export type EntryData =
  | { kind: 'embedded', bytes: Buffer }
  | { kind: 'extents', pieces: DataPiece[], size: number }

/**
 * Bytes of the image, or a hole (an extent allocated or not but not recorded: zeros, 4/14.14.1.1), with
 * the logical block the piece starts at (descriptor tags in it name their block: 4/7.2.8).
 */
export type DataPiece = ImageRange & { hole?: boolean, logical: LbAddr }

/**
 * Where a descriptor of the file structure is, for messages: its absolute 2048-byte sector (and offset,
 * on volumes with smaller blocks), which a hex editor finds whatever partition it is in.
 */
export function whereAt (structure: string, position: number): ImageLocation {
  const where: ImageLocation = { structure, lba: Math.floor(position / 2048) }
  if (position % 2048 !== 0) where.offset = position % 2048
  return where
}

/** Where a block of a partition is, for messages, or only what it is when the block cannot be placed. */
export function blockWhere (structure: string, ctx: UdfContext, addr: LbAddr): ImageLocation {
  try {
    return whereAt(structure, ctx.map.position(addr, { structure }))
  } catch {
    return { structure: `${structure} (partition ${addr.partition} block ${addr.block})` }
  }
}

const FILE_ENTRY_TAGS = [TagId.FILE_ENTRY, TagId.EXTENDED_FILE_ENTRY, TagId.INDIRECT_ENTRY]

/** Reads one block of a partition and verifies its tag (`ids`: what may be there). */
export async function readDescriptorBlock (ctx: UdfContext, addr: LbAddr, ids: readonly number[], structure: string): Promise<{ buf: Buffer, tag: ReturnType<typeof verifyTag>, position: number, where: ImageLocation }> {
  const position = ctx.map.position(addr, { structure: `${structure} (partition ${addr.partition} block ${addr.block})` })
  const where = whereAt(structure, position)
  const buf = ctx.prefetched?.get(position) ?? await readExactly(ctx.source, position, ctx.map.blockSize, where)
  const tag = verifyTag(buf, 0, { location: addr.block, available: buf.length }, ctx.diag, where)
  if (!ids.includes(tag.id)) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `expected a ${ids.map(tagName).join(' or ')}, found a ${tagName(tag.id)}`, { ...where, field: 'tag identifier' })
  }
  return { buf, tag, position, where }
}

/** The file entry of an ICB, following indirect entries (strategy 4096) to the one that prevails. */
export async function readIcb (ctx: UdfContext, icb: LbAddr): Promise<LocatedEntry> {
  return readIcbNow(ctx, icb) ?? await followIcb(ctx, icb)
}

/**
 * readIcb without waiting, for the usual entry: its block read ahead, its tag sound, and nothing newer to
 * look for (no indirect entry, strategy 4, as every writer but packet writers records). Undefined for
 * anything else, which readIcb then reads, verifies and reports on the long way. A walk reads one entry
 * per file, and the promises of the long way cost more than the rest of reading one.
 */
export function readIcbNow (ctx: UdfContext, icb: LbAddr): LocatedEntry | undefined {
  const position = ctx.prefetched === undefined ? undefined : ctx.map.quickPosition(icb.partition, icb.block)
  if (position === undefined) return undefined
  const buf = ctx.prefetched?.get(position)
  if (buf === undefined || !tagIsSound(buf, 0, undefined, icb.block, buf.length)) return undefined
  const id = buf[0] | (buf[1] << 8)
  if (id !== TagId.FILE_ENTRY && id !== TagId.EXTENDED_FILE_ENTRY) return undefined
  const entry = parseFileEntry(buf, parseTag(buf, 0), whereAt('file entry', position))
  return entry.icbTag.strategyType === 4096 ? undefined : { entry, addr: icb, position }
}

async function followIcb (ctx: UdfContext, icb: LbAddr): Promise<LocatedEntry> {
  let visited: Set<string> | undefined
  let addr = icb
  for (let step = 0; step <= MAX_INDIRECTIONS; step++) {
    const { buf, tag, position, where } = await readDescriptorBlock(ctx, addr, FILE_ENTRY_TAGS, 'file entry')
    let next: LbAddr | undefined
    let entry: FileEntry | undefined
    if (tag.id === TagId.INDIRECT_ENTRY) {
      const indirect = parseIndirectEntry(buf, tag).indirect
      if (extentLength(indirect.length) === 0) throw new InvalidImageError('IMAGE_BAD_RECORD', 'indirect entry points nowhere', { ...where, field: 'indirect ICB' })
      next = indirect.location
    } else {
      entry = parseFileEntry(buf, tag, where)
      // UDF 2.3.5.1: under strategy 4096 the block after the entry may hold an indirect entry to a newer ICB.
      if (entry.icbTag.strategyType === 4096) next = await newerIcb(ctx, addr)
    }
    if (next === undefined && entry !== undefined) return { entry, addr, position }
    visited ??= new Set([icbKey(icb)])
    const key = icbKey(next as LbAddr)
    if (visited.has(key)) {
      // An entry whose newer ICB leads back to one already read is the newest there is.
      if (entry !== undefined) return { entry, addr, position }
      throw new InvalidImageError('IMAGE_LOOP', `indirect entries lead back to block ${(next as LbAddr).block}`, blockWhere('ICB', ctx, icb))
    }
    visited.add(key)
    addr = next as LbAddr
  }
  throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_INDIRECTIONS} indirect entries`, blockWhere('ICB', ctx, icb))
}

function icbKey (addr: LbAddr): string {
  return `${addr.partition}:${addr.block}`
}

async function newerIcb (ctx: UdfContext, addr: LbAddr): Promise<LbAddr | undefined> {
  const next = { partition: addr.partition, block: addr.block + 1 }
  try {
    const where = { structure: 'indirect entry' }
    const buf = await readExactly(ctx.source, ctx.map.position(next, where), ctx.map.blockSize, where)
    const tag = verifyTag(buf, 0, { id: TagId.INDIRECT_ENTRY, available: buf.length }, { strict: false, warn: () => {} }, where)
    const indirect = parseIndirectEntry(buf, tag).indirect
    return extentLength(indirect.length) > 0 ? indirect.location : undefined
  } catch {
    // Usually an unrecorded block: the entry read is the newest.
    return undefined
  }
}

/**
 * Where a file's data is: its allocation descriptors (short, long or extended) with their continuations
 * followed, turned into image ranges and holes covering the information length. Descriptors beyond the
 * length are ignored (4/12.1: an extent may be allocated beyond the end); descriptors that cover less
 * than it are damage, and the data is cut to what they cover, with a warning.
 */
export async function entryData (ctx: UdfContext, located: LocatedEntry, structure = 'file entry'): Promise<EntryData> {
  return entryDataNow(ctx, located, structure) ?? await followExtents(ctx, located, structure)
}

/**
 * entryData without waiting, for data described in the entry itself (embedded, or descriptors with no
 * continuation to read: every file but the most fragmented); undefined when an allocation extent must
 * be read, which entryData then does.
 */
export function entryDataNow (ctx: UdfContext, located: LocatedEntry, structure = 'file entry'): EntryData | undefined {
  const { entry } = located
  const where = whereAt(structure, located.position)
  const adType = entry.icbTag.flags & IcbFlag.AD_MASK
  if (adType === IcbFlag.EMBEDDED) {
    const area = entry.allocationDescriptors
    if (entry.informationLength > area.length) {
      ctx.diag.warn({ ...where, field: 'information length' }, `embedded data holds ${area.length} bytes, the entry says ${entry.informationLength}; cut to what is there`)
    }
    return { kind: 'embedded', bytes: area.subarray(0, Math.min(area.length, entry.informationLength)) }
  }
  const pieces = new DataPieces(ctx, located, where)
  return pieces.addEntry(where) === undefined || pieces.complete ? pieces.result() : undefined
}

async function followExtents (ctx: UdfContext, located: LocatedEntry, structure: string): Promise<EntryData> {
  const { addr } = located
  const where = whereAt(structure, located.position)
  const pieces = new DataPieces(ctx, located, where)
  let next = pieces.addEntry(where)
  let visited: Set<string> | undefined
  for (let continuation = 0; next !== undefined && !pieces.complete; continuation++) {
    if (continuation >= MAX_CONTINUATIONS) {
      throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_CONTINUATIONS} allocation extents`, { ...where, field: 'allocation descriptors' })
    }
    const nextAddr = { partition: next.partition ?? addr.partition, block: next.block }
    visited ??= new Set()
    const key = icbKey(nextAddr)
    if (visited.has(key)) {
      throw new InvalidImageError('IMAGE_LOOP', `allocation extents lead back to block ${nextAddr.block}`, { ...where, field: 'allocation descriptors' })
    }
    visited.add(key)
    const read = await readDescriptorBlock(ctx, nextAddr, [TagId.ALLOCATION_EXTENT], 'allocation extent descriptor')
    next = pieces.add(parseAllocationExtent(read.buf, read.tag, read.where).allocationDescriptors, read.where)
  }
  return pieces.result()
}

/** A file's data pieces as its allocation descriptors are read, area by area (the entry's, then each continuation's). */
class DataPieces {
  private readonly pieces: DataPiece[] = []
  private covered = 0
  private readonly wanted: number
  private readonly kind: AdKind

  constructor (private readonly ctx: UdfContext, private readonly located: LocatedEntry, private readonly where: ImageLocation) {
    const adType = located.entry.icbTag.flags & IcbFlag.AD_MASK
    const kind = AD_KIND_BY_FLAG[adType]
    if (kind === undefined) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `allocation descriptor type ${adType} is not one of 0-3`, { ...where, field: 'ICB flags' })
    }
    this.kind = kind
    this.wanted = located.entry.informationLength
  }

  /** All the information length is covered: further descriptors do not matter. */
  get complete (): boolean {
    return this.covered >= this.wanted
  }

  /** Adds the extents of the entry's own descriptors (see add). */
  addEntry (where: ImageLocation): AllocationDescriptor | undefined {
    const entry = this.located.entry
    // Where it was read from, in place: a walk does this for every file.
    if (entry instanceof RecordedFileEntry) return this.add(entry.buf, where, entry.allocationDescriptorsStart, entry.allocationDescriptorsEnd)
    const area = entry.allocationDescriptors
    return this.add(area, where, 0, area.length)
  }

  /**
   * Adds the extents of one area of descriptors (`start` to `end` of `buf`); returns its continuation
   * descriptor, if it has one.
   */
  add (buf: Buffer, areaWhere: ImageLocation, start = 0, end = buf.length): AllocationDescriptor | undefined {
    const blockSize = this.ctx.map.blockSize
    // One by one, without a list: a walk reads a file's descriptors (one, usually) for every file.
    const count = allocationDescriptorCount(this.kind, buf, areaWhere, start, end)
    for (let i = 0; i < count; i++) {
      const ad = parseAllocationDescriptor(this.kind, buf, start + i * AD_SIZE[this.kind])
      if (ad.type === ExtentType.CONTINUATION) return ad
      if (this.covered >= this.wanted) continue
      const length = Math.min(ad.length, this.wanted - this.covered)
      const partition = ad.partition ?? this.located.addr.partition
      const quick = ad.type === ExtentType.RECORDED ? this.ctx.map.quickPosition(partition, ad.block, length) : undefined
      if (quick !== undefined) {
        pushPiece(this.pieces, quick, length, false, partition, ad.block, blockSize)
      } else if (ad.type === ExtentType.RECORDED) {
        let within = 0
        for (const range of this.ctx.map.resolve({ partition, block: ad.block }, length, areaWhere)) {
          pushPiece(this.pieces, range.position, range.length, false, partition, ad.block + Math.floor(within / blockSize), blockSize)
          within += range.length
        }
      } else {
        pushPiece(this.pieces, 0, length, true, partition, ad.block, blockSize)
      }
      this.covered += length
    }
    return undefined
  }

  result (): EntryData {
    if (this.covered < this.wanted) {
      this.ctx.diag.warn({ ...this.where, field: 'information length' }, `allocation descriptors cover ${this.covered} of the ${this.wanted} bytes the entry says; cut to what they cover`)
    }
    return { kind: 'extents', pieces: this.pieces, size: this.covered }
  }
}

/** The bytes of data pieces, holes as zeros, in one buffer of `size` bytes (the caller bounds it). */
export async function readPieces (source: ByteSource, pieces: readonly DataPiece[], size: number, where: ImageLocation): Promise<Buffer> {
  const bytes = Buffer.alloc(size)
  let at = 0
  for (const piece of pieces) {
    if (piece.hole !== true) await readExactlyInto(source, bytes, at, piece.position, piece.length, where)
    at += piece.length
  }
  return bytes
}

/** Appends a piece, joining it to the last one when both the image bytes and the logical blocks continue it. */
function pushPiece (pieces: DataPiece[], position: number, length: number, hole: boolean, partition: number, block: number, blockSize: number): void {
  const last = pieces[pieces.length - 1]
  const continues = last !== undefined && (last.hole === true) === hole && last.length % blockSize === 0 &&
    last.logical.partition === partition && last.logical.block + last.length / blockSize === block &&
    (hole || last.position + last.length === position)
  if (continues) last.length += length
  else pieces.push(hole ? { position: 0, length, hole: true, logical: { partition, block } } : { position, length, logical: { partition, block } })
}
