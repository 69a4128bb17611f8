import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { LbAddr } from '../../codec/udf/addresses'
import { SPARING_UNUSED, type SparingEntry } from '../../codec/udf/sparing-table'
import { VAT_UNUSED } from '../../codec/udf/virtual-allocation-table'

/*
 * The address translation of a logical volume (ECMA-167 3/8.8, UDF 2.2.8-2.2.10): a logical block of a
 * partition (an lb_addr) to bytes of the image. A type 1 partition is a run of sectors; a sparable one is
 * such a run with some packets moved elsewhere (its sparing table); a metadata partition is the content of
 * the metadata file, which lies in a physical partition in extents of its own.
 */

/** Bytes of the image: where a piece of an extent is. */
export interface ImageRange {
  position: number
  length: number
}

export interface PhysicalPartition {
  kind: 'physical'
  /** The partition descriptor's number. */
  number: number
  /** Absolute block of its first block, and its length in blocks. */
  start: number
  length: number
  /** Sparable partitions: the packet size and the remapped packets, sorted by original location. */
  packetLength?: number
  sparing?: SparingEntry[]
}

export interface MetadataPartition {
  kind: 'metadata'
  /** The physical partition the metadata file lies in (its reference number). */
  physical: number
  /** The metadata file's extents: byte offset in the file, blocks in the physical partition. */
  extents: Array<{ offset: number, length: number, block: number }>
  size: number
}

export interface VirtualPartition {
  kind: 'virtual'
  /** The physical partition the table maps into (its reference number). */
  physical: number
  /** Virtual block → block of the physical partition (VAT_UNUSED: none). */
  entries: Uint32Array
}

export type ResolvedPartition = PhysicalPartition | MetadataPartition | VirtualPartition

export class LogicalVolumeMap {
  constructor (readonly blockSize: number, readonly partitions: readonly ResolvedPartition[], private readonly imageSize: number) {}

  /** The partition of a reference number, or an error naming the address. */
  partition (reference: number, where: ImageLocation): ResolvedPartition {
    const partition = this.partitions[reference]
    if (partition === undefined) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `partition reference ${reference} names no partition map (the volume has ${this.partitions.length})`,
        { ...where, field: 'partition reference number' })
    }
    return partition
  }

  /** The absolute byte position of a logical block (the start of a descriptor). */
  position (addr: LbAddr, where: ImageLocation): number {
    return this.quickPosition(addr.partition, addr.block) ?? this.resolve(addr, this.blockSize, where)[0].position
  }

  /**
   * Where `length` bytes from a block of a plain physical partition (no spared packets) are, when they lie
   * inside it and the image, without allocating; undefined for anything else, which resolve() places or
   * says why it cannot. A walk places a file entry and an extent per file.
   */
  quickPosition (reference: number, block: number, length = this.blockSize): number | undefined {
    const partition = this.partitions[reference]
    if (partition === undefined || partition.kind !== 'physical') return undefined
    if (partition.sparing !== undefined && partition.sparing.length > 0 && partition.packetLength !== undefined) return undefined
    if (block + Math.ceil(length / this.blockSize) > partition.length) return undefined
    const position = (partition.start + block) * this.blockSize
    return position + length <= this.imageSize ? position : undefined
  }

  /**
   * Where `length` bytes from logical block `addr` are in the image, as ranges in order. The extent must
   * lie within its partition (and the image): anything else is an error naming it, never a read of
   * somewhere else.
   */
  resolve (addr: LbAddr, length: number, where: ImageLocation): ImageRange[] {
    const partition = this.partition(addr.partition, where)
    if (partition.kind === 'physical') return this.resolvePhysical(partition, addr.block, length, where)
    if (partition.kind === 'virtual') return this.resolveVirtual(partition, addr.block, length, where)
    const ranges: ImageRange[] = []
    let offset = addr.block * this.blockSize
    let left = length
    if (offset + left > partition.size) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `extent at metadata block ${addr.block} (${length} bytes) lies beyond the ${partition.size}-byte metadata file`,
        { ...where, field: 'extent location' })
    }
    const physical = this.partitions[partition.physical] as PhysicalPartition
    // The metadata file's extents are few (one, usually), so a linear search is enough.
    for (const extent of partition.extents) {
      if (left === 0) break
      if (offset >= extent.offset + extent.length) continue
      const within = offset - extent.offset
      const take = Math.min(left, extent.length - within)
      // Metadata extents are block-aligned (UDF 2.2.13.1), so `within` is a whole number of blocks.
      ranges.push(...this.resolvePhysical(physical, extent.block + Math.floor(within / this.blockSize), take, where, within % this.blockSize))
      offset += take
      left -= take
    }
    return ranges
  }

  /** UDF 2.2.11: each virtual block is wherever the allocation table puts it. */
  private resolveVirtual (partition: VirtualPartition, block: number, length: number, where: ImageLocation): ImageRange[] {
    const physical = this.partitions[partition.physical] as PhysicalPartition
    const ranges: ImageRange[] = []
    const blocks = Math.ceil(length / this.blockSize)
    for (let i = 0; i < blocks; i++) {
      const mapped = partition.entries[block + i]
      if (mapped === undefined || mapped === VAT_UNUSED) {
        throw new InvalidImageError('IMAGE_BAD_RECORD', `virtual block ${block + i} is not in the virtual allocation table (${partition.entries.length} entries)`,
          { ...where, field: 'extent location' })
      }
      const take = Math.min(this.blockSize, length - i * this.blockSize)
      for (const range of this.resolvePhysical(physical, mapped, take, where)) {
        const last = ranges[ranges.length - 1]
        if (last !== undefined && last.position + last.length === range.position) last.length += range.length
        else ranges.push(range)
      }
    }
    return ranges
  }

  private resolvePhysical (partition: PhysicalPartition, block: number, length: number, where: ImageLocation, skew = 0): ImageRange[] {
    const blocks = Math.ceil((skew + length) / this.blockSize)
    if (block + blocks > partition.length) {
      throw new InvalidImageError('IMAGE_BAD_RECORD',
        `extent at block ${block} (${length} bytes) lies beyond partition ${partition.number} (${partition.length} blocks)`,
        { ...where, field: 'extent location' })
    }
    const position = (partition.start + block) * this.blockSize + skew
    if (position + length > this.imageSize) {
      throw new InvalidImageError('IMAGE_TRUNCATED',
        `extent at block ${block} of partition ${partition.number} (${length} bytes) lies beyond the end of the image`, { ...where, field: 'extent location' })
    }
    if (partition.sparing === undefined || partition.sparing.length === 0 || partition.packetLength === undefined) return [{ position, length }]
    return this.spared(partition, block, length, skew)
  }

  /** UDF 2.2.12: packets listed in the sparing table are read from their spare location instead. */
  private spared (partition: PhysicalPartition, block: number, length: number, skew: number): ImageRange[] {
    const packet = partition.packetLength as number
    const ranges: ImageRange[] = []
    let offset = block * this.blockSize + skew
    let left = length
    while (left > 0) {
      const currentBlock = Math.floor(offset / this.blockSize)
      const packetStart = currentBlock - (currentBlock % packet)
      const packetEnd = (packetStart + packet) * this.blockSize
      const take = Math.min(left, packetEnd - offset)
      const entry = findSpared(partition.sparing as SparingEntry[], packetStart)
      const position = entry !== undefined
        ? entry.mapped * this.blockSize + (offset - packetStart * this.blockSize)
        : partition.start * this.blockSize + offset
      const last = ranges[ranges.length - 1]
      if (last !== undefined && last.position + last.length === position) last.length += take
      else ranges.push({ position, length: take })
      offset += take
      left -= take
    }
    return ranges
  }
}

function findSpared (entries: SparingEntry[], packetStart: number): SparingEntry | undefined {
  let lo = 0
  let hi = entries.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const original = entries[mid].original
    if (original === packetStart) return entries[mid]
    if (original < packetStart) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

/** The sparing table's mappings, sorted, without the free and defective entries. */
export function sparingMappings (entries: readonly SparingEntry[]): SparingEntry[] {
  return entries.filter(e => e.original < SPARING_UNUSED).sort((a, b) => a.original - b.original)
}
