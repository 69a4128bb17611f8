import { InvalidImageError, type ImageLocation } from '../../../errors'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 4/14.5: an allocation extent descriptor, where the allocation descriptors of a file continue
 * when its entry has no room for them all (the last descriptor of the entry, of extent type 3, points
 * here). UDF 2.3.11 limits one to a block.
 */

export const AED_FIXED_SIZE = 24

export interface AllocationExtentDescriptor {
  tag: DescriptorTag
  previous: number
  allocationDescriptors: Buffer
}

export function parseAllocationExtent (buf: Buffer, tag: DescriptorTag, where: ImageLocation): AllocationExtentDescriptor {
  const length = buf.readUInt32LE(20)
  if (length > buf.length - AED_FIXED_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_RECORD', `${length} bytes of allocation descriptors overrun the ${buf.length}-byte block`,
      { ...where, field: 'length of allocation descriptors' })
  }
  return { tag, previous: buf.readUInt32LE(16), allocationDescriptors: buf.subarray(AED_FIXED_SIZE, AED_FIXED_SIZE + length) }
}

export function serializeAllocationExtent (aed: AllocationExtentDescriptor): Buffer {
  const buf = Buffer.alloc(AED_FIXED_SIZE + aed.allocationDescriptors.length)
  serializeTag(aed.tag, buf)
  buf.writeUInt32LE(aed.previous, 16)
  buf.writeUInt32LE(aed.allocationDescriptors.length, 20)
  aed.allocationDescriptors.copy(buf, AED_FIXED_SIZE)
  sealDescriptor(buf, 0, aed.tag.crcLength)
  return buf
}
