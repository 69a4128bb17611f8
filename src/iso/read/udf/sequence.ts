import { InvalidImageError, type ImageLocation } from '../../../errors'
import type { Diagnostics } from '../../codec/diagnostics'
import type { ExtentAd } from '../../codec/udf/addresses'
import { MIN_SEQUENCE_LENGTH } from '../../codec/udf/anchor'
import { entityIdText } from '../../codec/udf/entity-id'
import { parseLogicalVolumeDescriptor, type LogicalVolumeDescriptor } from '../../codec/udf/logical-volume'
import { hasValidTag, TagId, tagName, verifyTag } from '../../codec/udf/tag'
import {
  parseImplementationUseVolumeDescriptor, parseLogicalVolumeInfo, parsePartitionDescriptor, parsePrimaryVolumeDescriptor,
  parseUnallocatedSpaceDescriptor, parseVolumeDescriptorPointer, type LogicalVolumeInfo, type PartitionDescriptor,
  type PrimaryVolumeDescriptor, type UnallocatedSpaceDescriptor
} from '../../codec/udf/volume-descriptors'
import { readExactly, type ByteSource } from '../../io/byte-source'

/*
 * A volume descriptor sequence (ECMA-167 3/8.4): the main one, or the reserve one when the main cannot be
 * read. What prevails of each descriptor is the one with the highest sequence number (3/8.4.2); pointers
 * to further extents are followed a bounded number of times, never back to one already read.
 */

/** Descriptors read from one volume descriptor sequence, pointers included, and pointers followed. */
const MAX_SEQUENCE_DESCRIPTORS = 1024
const MAX_SEQUENCE_POINTERS = 16

export interface Sequence {
  primary: PrimaryVolumeDescriptor
  pvdLocation: number
  logicalVolume: LogicalVolumeDescriptor
  lvdLocation: number
  partitions: PartitionDescriptor[]
  lvInfo?: LogicalVolumeInfo
  unallocated?: UnallocatedSpaceDescriptor
}

/** Reads a volume descriptor sequence (3/8.4), following pointers, to its terminator or its end. */
export async function readSequence (source: ByteSource, extent: ExtentAd, blockSize: number, diag: Diagnostics, name: string): Promise<Sequence> {
  const structure = `${name} volume descriptor sequence`
  if (extent.length < MIN_SEQUENCE_LENGTH * blockSize) {
    diag.warn({ structure, lba: extent.location, field: 'extent length' }, `${extent.length} bytes is less than the 16 sectors UDF 2.2.3 requires`)
  }
  let primary: { d: PrimaryVolumeDescriptor, lba: number } | undefined
  let logical: { d: LogicalVolumeDescriptor, lba: number } | undefined
  const partitions = new Map<number, PartitionDescriptor>()
  let lvInfo: { d: LogicalVolumeInfo, seq: number } | undefined
  let unallocated: UnallocatedSpaceDescriptor | undefined
  const visited = new Set<number>()
  let current: ExtentAd | undefined = extent
  let read = 0
  let pointers = 0
  outer:
  while (current !== undefined) {
    if (visited.has(current.location)) {
      throw new InvalidImageError('IMAGE_LOOP', `volume descriptor pointers lead back to sector ${current.location}`, { structure, lba: current.location })
    }
    visited.add(current.location)
    const blocks = Math.ceil(current.length / blockSize)
    const start = current.location
    current = undefined
    for (let i = 0; i < blocks; i++) {
      if (++read > MAX_SEQUENCE_DESCRIPTORS) throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_SEQUENCE_DESCRIPTORS} descriptors`, { structure, lba: start })
      const lba = start + i
      const where: ImageLocation = { structure, lba }
      const buf = await readExactly(source, lba * blockSize, blockSize, where)
      // 3/8.4.2: the sequence ends at a terminating descriptor, or at an unrecorded (blank) sector.
      if (!hasValidTag(buf)) {
        if (!buf.every(b => b === 0)) diag.warn(where, 'a sector without a valid descriptor tag ends the sequence before a terminating descriptor')
        break outer
      }
      const tag = verifyTag(buf, 0, { location: lba, available: buf.length }, diag, { structure: tagName(buf.readUInt16LE(0)), lba })
      const at = { structure: tagName(tag.id), lba }
      switch (tag.id) {
        case TagId.PRIMARY_VOLUME: {
          const d = parsePrimaryVolumeDescriptor(buf, tag)
          if (primary === undefined || d.sequenceNumber > primary.d.sequenceNumber) primary = { d, lba }
          break
        }
        case TagId.LOGICAL_VOLUME: {
          const d = parseLogicalVolumeDescriptor(buf, tag, at)
          if (logical === undefined || d.sequenceNumber > logical.d.sequenceNumber) logical = { d, lba }
          break
        }
        case TagId.PARTITION: {
          const d = parsePartitionDescriptor(buf, tag)
          const known = partitions.get(d.number)
          if (known === undefined || d.sequenceNumber > known.sequenceNumber) partitions.set(d.number, d)
          break
        }
        case TagId.IMPLEMENTATION_USE: {
          const d = parseImplementationUseVolumeDescriptor(buf, tag)
          if (entityIdText(d.implementationId) === '*UDF LV Info' && (lvInfo === undefined || d.sequenceNumber > lvInfo.seq)) {
            lvInfo = { d: parseLogicalVolumeInfo(d.implementationUse), seq: d.sequenceNumber }
          }
          break
        }
        case TagId.UNALLOCATED_SPACE:
          unallocated = parseUnallocatedSpaceDescriptor(buf, tag, diag, at)
          break
        case TagId.VOLUME_POINTER: {
          if (++pointers > MAX_SEQUENCE_POINTERS) throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_SEQUENCE_POINTERS} volume descriptor pointers`, at)
          current = parseVolumeDescriptorPointer(buf, tag).next
          continue outer
        }
        case TagId.TERMINATING:
          break outer
        default:
          diag.warn({ ...at, field: 'tag identifier' }, `a ${tagName(tag.id)} does not belong in a volume descriptor sequence; ignored`)
      }
    }
  }
  const missing = primary === undefined ? 'primary volume descriptor' : logical === undefined ? 'logical volume descriptor' : partitions.size === 0 ? 'partition descriptor' : undefined
  if (missing !== undefined || primary === undefined || logical === undefined) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `no ${missing ?? 'descriptor'} in the sequence`, { structure, lba: extent.location })
  }
  return {
    primary: primary.d,
    pvdLocation: primary.lba,
    logicalVolume: logical.d,
    lvdLocation: logical.lba,
    partitions: [...partitions.values()],
    lvInfo: lvInfo?.d,
    unallocated
  }
}
