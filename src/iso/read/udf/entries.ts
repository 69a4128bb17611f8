import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { Diagnostics } from '../../codec/diagnostics'
import {
  AD_KIND_BY_FLAG, ExtentType, extentLength, parseAllocationDescriptors, type AllocationDescriptor, type LbAddr
} from '../../codec/udf/addresses'
import { parseAllocationExtent } from '../../codec/udf/allocation-extent'
import { parseFileEntry, type FileEntry } from '../../codec/udf/file-entry'
import { IcbFlag, parseIndirectEntry } from '../../codec/udf/icb'
import { TagId, tagName, verifyTag } from '../../codec/udf/tag'
import { readExactly, type ByteSource } from '../../io/byte-source'
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

export function blockWhere (structure: string, ctx: UdfContext, addr: LbAddr): ImageLocation {
  const where: ImageLocation = { structure: `${structure} (partition ${addr.partition} block ${addr.block})` }
  const partition = ctx.map.partitions[addr.partition]
  if (partition?.kind === 'physical') where.lba = partition.start + addr.block
  return where
}

/** Reads one block of a partition and verifies its tag (`ids`: what may be there). */
export async function readDescriptorBlock (ctx: UdfContext, addr: LbAddr, ids: readonly number[], structure: string): Promise<{ buf: Buffer, tag: ReturnType<typeof verifyTag>, position: number, where: ImageLocation }> {
  const where = blockWhere(structure, ctx, addr)
  const position = ctx.map.position(addr, where)
  const buf = await readExactly(ctx.source, position, ctx.map.blockSize, where)
  const tag = verifyTag(buf, 0, { location: addr.block, available: buf.length }, ctx.diag, where)
  if (!ids.includes(tag.id)) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `expected a ${ids.map(tagName).join(' or ')}, found a ${tagName(tag.id)}`, { ...where, field: 'tag identifier' })
  }
  return { buf, tag, position, where }
}

/** The file entry of an ICB, following indirect entries (strategy 4096) to the one that prevails. */
export async function readIcb (ctx: UdfContext, icb: LbAddr): Promise<LocatedEntry> {
  const visited = new Set<string>()
  let addr = icb
  for (let step = 0; step <= MAX_INDIRECTIONS; step++) {
    const key = `${addr.partition}:${addr.block}`
    if (visited.has(key)) {
      throw new InvalidImageError('IMAGE_LOOP', `indirect entries lead back to block ${addr.block}`, blockWhere('ICB', ctx, icb))
    }
    visited.add(key)
    const { buf, tag, position, where } = await readDescriptorBlock(ctx, addr, [TagId.FILE_ENTRY, TagId.EXTENDED_FILE_ENTRY, TagId.INDIRECT_ENTRY], 'file entry')
    if (tag.id === TagId.INDIRECT_ENTRY) {
      const next = parseIndirectEntry(buf, tag).indirect
      if (extentLength(next.length) === 0) throw new InvalidImageError('IMAGE_BAD_RECORD', 'indirect entry points nowhere', { ...where, field: 'indirect ICB' })
      addr = next.location
      continue
    }
    const entry = parseFileEntry(buf, tag, where)
    // UDF 2.3.5.1: under strategy 4096 the block after the entry may hold an indirect entry to a newer ICB.
    if (entry.icbTag.strategyType === 4096) {
      const newer = await newerIcb(ctx, addr)
      if (newer !== undefined && !visited.has(`${newer.partition}:${newer.block}`)) {
        addr = newer
        continue
      }
    }
    return { entry, addr, position }
  }
  throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_INDIRECTIONS} indirect entries`, blockWhere('ICB', ctx, icb))
}

async function newerIcb (ctx: UdfContext, addr: LbAddr): Promise<LbAddr | undefined> {
  const next = { partition: addr.partition, block: addr.block + 1 }
  try {
    const where = blockWhere('indirect entry', ctx, next)
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
  const { entry, addr } = located
  const where = blockWhere(structure, ctx, addr)
  const adType = entry.icbTag.flags & IcbFlag.AD_MASK
  if (adType === IcbFlag.EMBEDDED) {
    const area = entry.allocationDescriptors
    if (entry.informationLength > area.length) {
      ctx.diag.warn({ ...where, field: 'information length' }, `embedded data holds ${area.length} bytes, the entry says ${entry.informationLength}; cut to what is there`)
    }
    return { kind: 'embedded', bytes: area.subarray(0, Math.min(area.length, entry.informationLength)) }
  }
  const kind = AD_KIND_BY_FLAG[adType]
  if (kind === undefined) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `allocation descriptor type ${adType} is not one of 0-3`, { ...where, field: 'ICB flags' })
  }
  const pieces: DataPiece[] = []
  let covered = 0
  const wanted = entry.informationLength
  let area = entry.allocationDescriptors
  let areaWhere = where
  const visited = new Set<string>()
  for (let continuation = 0; ; continuation++) {
    let next: AllocationDescriptor | undefined
    for (const ad of parseAllocationDescriptors(kind, area, areaWhere)) {
      if (ad.type === ExtentType.CONTINUATION) {
        next = ad
        break
      }
      if (covered >= wanted) continue
      const length = Math.min(ad.length, wanted - covered)
      const logical = { partition: ad.partition ?? addr.partition, block: ad.block }
      if (ad.type === ExtentType.RECORDED) {
        let within = 0
        for (const range of ctx.map.resolve(logical, length, { ...areaWhere, field: 'allocation descriptor' })) {
          pushPiece(pieces, { ...range, logical: { partition: logical.partition, block: logical.block + Math.floor(within / ctx.map.blockSize) } }, ctx.map.blockSize)
          within += range.length
        }
      } else {
        pushPiece(pieces, { position: 0, length, hole: true, logical }, ctx.map.blockSize)
      }
      covered += length
    }
    if (next === undefined || covered >= wanted) break
    if (continuation >= MAX_CONTINUATIONS) {
      throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_CONTINUATIONS} allocation extents`, { ...where, field: 'allocation descriptors' })
    }
    const nextAddr = { partition: next.partition ?? addr.partition, block: next.block }
    const key = `${nextAddr.partition}:${nextAddr.block}`
    if (visited.has(key)) {
      throw new InvalidImageError('IMAGE_LOOP', `allocation extents lead back to block ${nextAddr.block}`, { ...where, field: 'allocation descriptors' })
    }
    visited.add(key)
    const read = await readDescriptorBlock(ctx, nextAddr, [TagId.ALLOCATION_EXTENT], 'allocation extent descriptor')
    area = parseAllocationExtent(read.buf, read.tag, read.where).allocationDescriptors
    areaWhere = read.where
  }
  if (covered < wanted) {
    ctx.diag.warn({ ...where, field: 'information length' }, `allocation descriptors cover ${covered} of the ${wanted} bytes the entry says; cut to what they cover`)
  }
  return { kind: 'extents', pieces, size: covered }
}

/** The bytes of data pieces, holes as zeros, in one buffer of `size` bytes (the caller bounds it). */
export async function readPieces (source: ByteSource, pieces: readonly DataPiece[], size: number, where: ImageLocation): Promise<Buffer> {
  const bytes = Buffer.alloc(size)
  let at = 0
  for (const piece of pieces) {
    if (piece.hole !== true) (await readExactly(source, piece.position, piece.length, where)).copy(bytes, at)
    at += piece.length
  }
  return bytes
}

/** Appends a piece, joining it to the last one when both the image bytes and the logical blocks continue it. */
function pushPiece (pieces: DataPiece[], piece: DataPiece, blockSize: number): void {
  const last = pieces[pieces.length - 1]
  const continues = last !== undefined && last.hole === piece.hole && last.length % blockSize === 0 &&
    last.logical.partition === piece.logical.partition && last.logical.block + last.length / blockSize === piece.logical.block &&
    (piece.hole === true || last.position + last.length === piece.position)
  if (continues) last.length += piece.length
  else pieces.push({ ...piece })
}
