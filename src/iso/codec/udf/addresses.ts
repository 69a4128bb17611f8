import { InvalidImageError, type ImageLocation } from '../../../errors'

/*
 * The ways UDF points at things: extent_ad (ECMA-167 3/7.1, absolute sectors, volume structures only),
 * lb_addr (4/7.1, a block within a partition) and the three allocation descriptors of file data (4/14.14):
 * short_ad (a partition implied), long_ad (partition named) and ext_ad (with recorded and information
 * lengths). The two top bits of an allocation descriptor's length say what kind of extent it is.
 */

export interface ExtentAd {
  length: number
  location: number
}

export const EXTENT_AD_SIZE = 8

export function parseExtentAd (buf: Buffer, offset: number): ExtentAd {
  return { length: buf.readUInt32LE(offset), location: buf.readUInt32LE(offset + 4) }
}

export function serializeExtentAd (extent: ExtentAd, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(extent.length, offset)
  buf.writeUInt32LE(extent.location, offset + 4)
}

/** A logical block of a partition (partition reference number: the index of its map in the LVD). */
export interface LbAddr {
  block: number
  partition: number
}

export const LB_ADDR_SIZE = 6

export function parseLbAddr (buf: Buffer, offset: number): LbAddr {
  return { block: buf.readUInt32LE(offset), partition: buf.readUInt16LE(offset + 4) }
}

export function serializeLbAddr (addr: LbAddr, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(addr.block, offset)
  buf.writeUInt16LE(addr.partition, offset + 4)
}

/**
 * 4/14.14.2: a long_ad outside allocation descriptor lists (where a file set descriptor, an ICB or a
 * stream directory is): an extent in a named partition. `length` keeps the extent type bits.
 */
export interface LongAd {
  length: number
  location: LbAddr
  implementationUse: Buffer
}

export const LONG_AD_SIZE = 16

export function parseLongAd (buf: Buffer, offset: number): LongAd {
  return { length: buf.readUInt32LE(offset), location: parseLbAddr(buf, offset + 4), implementationUse: buf.subarray(offset + 10, offset + 16) }
}

export function serializeLongAd (ad: LongAd, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(ad.length, offset)
  serializeLbAddr(ad.location, buf, offset + 4)
  ad.implementationUse.copy(buf, offset + 10, 0, 6)
}

/** The byte length of a long_ad's extent, without its type bits. */
export function extentLength (length: number): number {
  return length & 0x3fffffff
}

/** 4/14.14.1.1: the extent type in the two top bits of an allocation descriptor's length. */
export const ExtentType = {
  RECORDED: 0,
  /** Allocated, not recorded: reads as zeros. */
  ALLOCATED: 1,
  /** Neither allocated nor recorded: a hole, reads as zeros. */
  SPARSE: 2,
  /** The next extent of allocation descriptors (an allocation extent descriptor). */
  CONTINUATION: 3
} as const

export type AdKind = 'short' | 'long' | 'extended'

/** Any of the three allocation descriptors, normalized; `partition` undefined for short_ad (implied). */
export interface AllocationDescriptor {
  type: number
  /** Extent length in bytes (30 bits). */
  length: number
  block: number
  partition?: number
  /** long_ad: 6 bytes of implementation use (UDF 2.3.10.1: flags and a unique ID part). */
  implementationUse?: Buffer
  /** ext_ad only (4/14.14.3). */
  recordedLength?: number
  informationLength?: number
}

export const AD_SIZE: Record<AdKind, number> = { short: 8, long: 16, extended: 20 }

/** 4/14.6.8: the ICB tag flags' low three bits say which descriptors follow (3: the data is embedded). */
export const AD_KIND_BY_FLAG: Record<number, AdKind | undefined> = { 0: 'short', 1: 'long', 2: 'extended' }

export function parseAllocationDescriptor (kind: AdKind, buf: Buffer, offset: number): AllocationDescriptor {
  const raw = buf.readUInt32LE(offset)
  const ad: AllocationDescriptor = { type: raw >>> 30, length: raw & 0x3fffffff, block: 0 }
  switch (kind) {
    case 'short':
      ad.block = buf.readUInt32LE(offset + 4)
      break
    case 'long':
      ad.block = buf.readUInt32LE(offset + 4)
      ad.partition = buf.readUInt16LE(offset + 8)
      ad.implementationUse = buf.subarray(offset + 10, offset + 16)
      break
    case 'extended':
      ad.recordedLength = buf.readUInt32LE(offset + 4) & 0x3fffffff
      ad.informationLength = buf.readUInt32LE(offset + 8)
      ad.block = buf.readUInt32LE(offset + 12)
      ad.partition = buf.readUInt16LE(offset + 16)
      ad.implementationUse = buf.subarray(offset + 18, offset + 20)
      break
  }
  return ad
}

export function serializeAllocationDescriptor (kind: AdKind, ad: AllocationDescriptor, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(((ad.type & 3) * 0x40000000) + (ad.length & 0x3fffffff), offset)
  switch (kind) {
    case 'short':
      buf.writeUInt32LE(ad.block, offset + 4)
      break
    case 'long':
      buf.writeUInt32LE(ad.block, offset + 4)
      buf.writeUInt16LE(ad.partition ?? 0, offset + 8)
      ;(ad.implementationUse ?? Buffer.alloc(6)).copy(buf, offset + 10, 0, 6)
      break
    case 'extended':
      buf.writeUInt32LE(ad.recordedLength ?? 0, offset + 4)
      buf.writeUInt32LE(ad.informationLength ?? 0, offset + 8)
      buf.writeUInt32LE(ad.block, offset + 12)
      buf.writeUInt16LE(ad.partition ?? 0, offset + 16)
      ;(ad.implementationUse ?? Buffer.alloc(2)).copy(buf, offset + 18, 0, 2)
      break
  }
}

/**
 * The allocation descriptors in an area (a file entry's, or an allocation extent descriptor's). A zero
 * length ends the list (4/12.1: "an extent length of 0 shall terminate the sequence"); a partial
 * descriptor at the end of the area is damage.
 */
export function parseAllocationDescriptors (kind: AdKind, area: Buffer, where: ImageLocation): AllocationDescriptor[] {
  const list: AllocationDescriptor[] = []
  const count = allocationDescriptorCount(kind, area, where)
  for (let i = 0; i < count; i++) list.push(parseAllocationDescriptor(kind, area, i * AD_SIZE[kind]))
  return list
}

/**
 * How many descriptors parseAllocationDescriptors finds in an area (`start` to `end` of `buf`), for a
 * reader that parses them one by one where they are.
 */
export function allocationDescriptorCount (kind: AdKind, buf: Buffer, where: ImageLocation, start = 0, end = buf.length): number {
  const size = AD_SIZE[kind]
  const length = end - start
  if (length % size !== 0) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `${length} bytes of ${kind} allocation descriptors is not a multiple of ${size}`,
      { ...where, field: 'length of allocation descriptors' })
  }
  let count = 0
  // The length is the low 30 bits of each descriptor's first four bytes.
  while ((count + 1) * size <= length && (buf.readUInt32LE(start + count * size) & 0x3fffffff) !== 0) count++
  return count
}

export function serializeAllocationDescriptors (kind: AdKind, ads: readonly AllocationDescriptor[]): Buffer {
  const size = AD_SIZE[kind]
  const area = Buffer.alloc(ads.length * size)
  ads.forEach((ad, i) => serializeAllocationDescriptor(kind, ad, area, i * size))
  return area
}
