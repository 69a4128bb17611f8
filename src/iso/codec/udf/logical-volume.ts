import type { ImageLocation } from '../../../errors'
import { parseExtentAd, parseLongAd, serializeExtentAd, serializeLongAd, type ExtentAd, type LongAd } from './addresses'
import { parseCharspec, serializeCharspec, type Charspec } from './cs0'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { parsePartitionMaps, partitionMapLength, serializePartitionMaps, type PartitionMap } from './partition-maps'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 3/10.6: the logical volume descriptor: the volume's name, block size, domain (UDF 2.2.4.1:
 * "*OSTA UDF Compliant" with the revision in its suffix), where the file set descriptor is, the partition
 * maps, and where the integrity sequence (the LVID) is recorded.
 */

export const LVD_FIXED_SIZE = 440

export interface LogicalVolumeDescriptor {
  tag: DescriptorTag
  sequenceNumber: number
  descriptorCharset: Charspec
  /** dstring[128] */
  logicalVolumeId: Buffer
  blockSize: number
  domainId: EntityId
  /** 4/3.1 via UDF 2.2.4.4: the long_ad of the file set descriptor. */
  fileSetLocation: LongAd
  implementationId: EntityId
  implementationUse: Buffer
  integritySequence: ExtentAd
  partitionMaps: PartitionMap[]
  /** Map table bytes beyond the maps (zero in practice), kept for the round trip. */
  mapTablePadding: Buffer
}

/** `buf` is the descriptor's sector; the map table must lie within it (it is bounded by MT_L ≤ sector − 440). */
export function parseLogicalVolumeDescriptor (buf: Buffer, tag: DescriptorTag, where: ImageLocation): LogicalVolumeDescriptor {
  const tableLength = buf.readUInt32LE(264)
  const count = buf.readUInt32LE(268)
  const table = buf.subarray(LVD_FIXED_SIZE, Math.min(buf.length, LVD_FIXED_SIZE + tableLength))
  const partitionMaps = parsePartitionMaps(table, Math.min(count, 256), where)
  const used = partitionMaps.reduce((sum, m) => sum + partitionMapLength(m), 0)
  return {
    tag,
    sequenceNumber: buf.readUInt32LE(16),
    descriptorCharset: parseCharspec(buf, 20),
    logicalVolumeId: buf.subarray(84, 212),
    blockSize: buf.readUInt32LE(212),
    domainId: parseEntityId(buf, 216),
    fileSetLocation: parseLongAd(buf, 248),
    implementationId: parseEntityId(buf, 272),
    implementationUse: buf.subarray(304, 432),
    integritySequence: parseExtentAd(buf, 432),
    partitionMaps,
    mapTablePadding: table.subarray(used)
  }
}

export function serializeLogicalVolumeDescriptor (d: LogicalVolumeDescriptor): Buffer {
  const maps = Buffer.concat([serializePartitionMaps(d.partitionMaps), d.mapTablePadding])
  const buf = Buffer.alloc(Math.max(512, LVD_FIXED_SIZE + maps.length))
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  serializeCharspec(d.descriptorCharset, buf, 20)
  d.logicalVolumeId.copy(buf, 84, 0, 128)
  buf.writeUInt32LE(d.blockSize, 212)
  serializeEntityId(d.domainId, buf, 216)
  serializeLongAd(d.fileSetLocation, buf, 248)
  buf.writeUInt32LE(maps.length, 264)
  buf.writeUInt32LE(d.partitionMaps.length, 268)
  serializeEntityId(d.implementationId, buf, 272)
  d.implementationUse.copy(buf, 304, 0, 128)
  serializeExtentAd(d.integritySequence, buf, 432)
  maps.copy(buf, LVD_FIXED_SIZE)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}
