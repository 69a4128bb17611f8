import type { ImageLocation } from '../../../errors'
import type { Diagnostics } from '../diagnostics'
import { parseExtentAd, serializeExtentAd, type ExtentAd } from './addresses'
import { parseCharspec, serializeCharspec, type Charspec } from './cs0'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { parseTimestamp, serializeTimestamp, type Timestamp } from './timestamp'
import { sealDescriptor, serializeTag, TAG_SIZE, type DescriptorTag } from './tag'

/*
 * The volume descriptors of ECMA-167 part 3 other than the logical volume descriptor (logical-volume.ts):
 * primary (10.1), volume descriptor pointer (10.3), implementation use (10.4), partition (10.5),
 * unallocated space (10.8) and terminating (10.9). Each occupies one sector; every field is kept as
 * recorded, so that serialize(parse(bytes)) gives the bytes back. Tags are verified by the caller, which
 * knows which descriptor it expects (read/udf/volume.ts reads a sequence of them).
 */

export const VOLUME_DESCRIPTOR_SIZE = 512

/** 3/10.1 */
export interface PrimaryVolumeDescriptor {
  tag: DescriptorTag
  sequenceNumber: number
  number: number
  /** dstring[32] */
  volumeId: Buffer
  volumeSequenceNumber: number
  maxVolumeSequenceNumber: number
  interchangeLevel: number
  maxInterchangeLevel: number
  characterSetList: number
  maxCharacterSetList: number
  /** dstring[128]; UDF 2.2.2.5: 16 hex digits of a unique value first. */
  volumeSetId: Buffer
  descriptorCharset: Charspec
  explanatoryCharset: Charspec
  volumeAbstract: ExtentAd
  volumeCopyright: ExtentAd
  applicationId: EntityId
  recorded: Timestamp
  implementationId: EntityId
  implementationUse: Buffer
  predecessorLocation: number
  flags: number
  reserved: Buffer
}

export function parsePrimaryVolumeDescriptor (buf: Buffer, tag: DescriptorTag): PrimaryVolumeDescriptor {
  return {
    tag,
    sequenceNumber: buf.readUInt32LE(16),
    number: buf.readUInt32LE(20),
    volumeId: buf.subarray(24, 56),
    volumeSequenceNumber: buf.readUInt16LE(56),
    maxVolumeSequenceNumber: buf.readUInt16LE(58),
    interchangeLevel: buf.readUInt16LE(60),
    maxInterchangeLevel: buf.readUInt16LE(62),
    characterSetList: buf.readUInt32LE(64),
    maxCharacterSetList: buf.readUInt32LE(68),
    volumeSetId: buf.subarray(72, 200),
    descriptorCharset: parseCharspec(buf, 200),
    explanatoryCharset: parseCharspec(buf, 264),
    volumeAbstract: parseExtentAd(buf, 328),
    volumeCopyright: parseExtentAd(buf, 336),
    applicationId: parseEntityId(buf, 344),
    recorded: parseTimestamp(buf, 376),
    implementationId: parseEntityId(buf, 388),
    implementationUse: buf.subarray(420, 484),
    predecessorLocation: buf.readUInt32LE(484),
    flags: buf.readUInt16LE(488),
    reserved: buf.subarray(490, 512)
  }
}

export function serializePrimaryVolumeDescriptor (d: PrimaryVolumeDescriptor): Buffer {
  const buf = Buffer.alloc(VOLUME_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  buf.writeUInt32LE(d.number, 20)
  d.volumeId.copy(buf, 24, 0, 32)
  buf.writeUInt16LE(d.volumeSequenceNumber, 56)
  buf.writeUInt16LE(d.maxVolumeSequenceNumber, 58)
  buf.writeUInt16LE(d.interchangeLevel, 60)
  buf.writeUInt16LE(d.maxInterchangeLevel, 62)
  buf.writeUInt32LE(d.characterSetList, 64)
  buf.writeUInt32LE(d.maxCharacterSetList, 68)
  d.volumeSetId.copy(buf, 72, 0, 128)
  serializeCharspec(d.descriptorCharset, buf, 200)
  serializeCharspec(d.explanatoryCharset, buf, 264)
  serializeExtentAd(d.volumeAbstract, buf, 328)
  serializeExtentAd(d.volumeCopyright, buf, 336)
  serializeEntityId(d.applicationId, buf, 344)
  serializeTimestamp(d.recorded, buf, 376)
  serializeEntityId(d.implementationId, buf, 388)
  d.implementationUse.copy(buf, 420, 0, 64)
  buf.writeUInt32LE(d.predecessorLocation, 484)
  buf.writeUInt16LE(d.flags, 488)
  d.reserved.copy(buf, 490, 0, 22)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** 3/10.3: the sequence continues in another extent. */
export interface VolumeDescriptorPointer {
  tag: DescriptorTag
  sequenceNumber: number
  next: ExtentAd
  reserved: Buffer
}

export function parseVolumeDescriptorPointer (buf: Buffer, tag: DescriptorTag): VolumeDescriptorPointer {
  return { tag, sequenceNumber: buf.readUInt32LE(16), next: parseExtentAd(buf, 20), reserved: buf.subarray(28, 512) }
}

export function serializeVolumeDescriptorPointer (d: VolumeDescriptorPointer): Buffer {
  const buf = Buffer.alloc(VOLUME_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  serializeExtentAd(d.next, buf, 20)
  d.reserved.copy(buf, 28)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** 3/10.4; UDF 2.2.7: "*UDF LV Info" with the logical volume's identification in its 460 bytes. */
export interface ImplementationUseVolumeDescriptor {
  tag: DescriptorTag
  sequenceNumber: number
  implementationId: EntityId
  implementationUse: Buffer
}

export function parseImplementationUseVolumeDescriptor (buf: Buffer, tag: DescriptorTag): ImplementationUseVolumeDescriptor {
  return { tag, sequenceNumber: buf.readUInt32LE(16), implementationId: parseEntityId(buf, 20), implementationUse: buf.subarray(52, 512) }
}

export function serializeImplementationUseVolumeDescriptor (d: ImplementationUseVolumeDescriptor): Buffer {
  const buf = Buffer.alloc(VOLUME_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  serializeEntityId(d.implementationId, buf, 20)
  d.implementationUse.copy(buf, 52)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** UDF 2.2.7.2: the LV Info of an "*UDF LV Info" implementation use volume descriptor. */
export interface LogicalVolumeInfo {
  charset: Charspec
  /** dstring[128] */
  logicalVolumeId: Buffer
  /** dstring[36] × 3: owner, organisation, contact. */
  info1: Buffer
  info2: Buffer
  info3: Buffer
  implementationId: EntityId
  implementationUse: Buffer
}

export function parseLogicalVolumeInfo (use: Buffer): LogicalVolumeInfo {
  return {
    charset: parseCharspec(use, 0),
    logicalVolumeId: use.subarray(64, 192),
    info1: use.subarray(192, 228),
    info2: use.subarray(228, 264),
    info3: use.subarray(264, 300),
    implementationId: parseEntityId(use, 300),
    implementationUse: use.subarray(332, 460)
  }
}

export function serializeLogicalVolumeInfo (info: LogicalVolumeInfo): Buffer {
  const use = Buffer.alloc(460)
  serializeCharspec(info.charset, use, 0)
  info.logicalVolumeId.copy(use, 64, 0, 128)
  info.info1.copy(use, 192, 0, 36)
  info.info2.copy(use, 228, 0, 36)
  info.info3.copy(use, 264, 0, 36)
  serializeEntityId(info.implementationId, use, 300)
  info.implementationUse.copy(use, 332, 0, 128)
  return use
}

/** 3/10.5.7: how a partition may be written. */
export const AccessType = { UNSPECIFIED: 0, READ_ONLY: 1, WRITE_ONCE: 2, REWRITABLE: 3, OVERWRITABLE: 4 } as const
const ACCESS_TYPE_NAMES = ['unspecified', 'read-only', 'write-once', 'rewritable', 'overwritable']

export function accessTypeName (type: number): string {
  return ACCESS_TYPE_NAMES[type] ?? `type ${type}`
}

/** 3/10.5 */
export interface PartitionDescriptor {
  tag: DescriptorTag
  sequenceNumber: number
  /** Bit 0: the space is allocated (3/10.5.3). */
  flags: number
  number: number
  /** "+NSR02" / "+NSR03": the partition holds an ECMA-167 part 4 file structure. */
  contents: EntityId
  /** 128 bytes; for NSR contents, the partition header descriptor (4/14.3). */
  contentsUse: Buffer
  accessType: number
  /** Absolute sector of the partition's first block. */
  start: number
  /** In blocks. */
  length: number
  implementationId: EntityId
  implementationUse: Buffer
  reserved: Buffer
}

export function parsePartitionDescriptor (buf: Buffer, tag: DescriptorTag): PartitionDescriptor {
  return {
    tag,
    sequenceNumber: buf.readUInt32LE(16),
    flags: buf.readUInt16LE(20),
    number: buf.readUInt16LE(22),
    contents: parseEntityId(buf, 24),
    contentsUse: buf.subarray(56, 184),
    accessType: buf.readUInt32LE(184),
    start: buf.readUInt32LE(188),
    length: buf.readUInt32LE(192),
    implementationId: parseEntityId(buf, 196),
    implementationUse: buf.subarray(228, 356),
    reserved: buf.subarray(356, 512)
  }
}

export function serializePartitionDescriptor (d: PartitionDescriptor): Buffer {
  const buf = Buffer.alloc(VOLUME_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  buf.writeUInt16LE(d.flags, 20)
  buf.writeUInt16LE(d.number, 22)
  serializeEntityId(d.contents, buf, 24)
  d.contentsUse.copy(buf, 56, 0, 128)
  buf.writeUInt32LE(d.accessType, 184)
  buf.writeUInt32LE(d.start, 188)
  buf.writeUInt32LE(d.length, 192)
  serializeEntityId(d.implementationId, buf, 196)
  d.implementationUse.copy(buf, 228, 0, 128)
  d.reserved.copy(buf, 356, 0, 156)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** 3/10.8: free extents of the volume outside any partition. */
export interface UnallocatedSpaceDescriptor {
  tag: DescriptorTag
  sequenceNumber: number
  extents: ExtentAd[]
}

/** A sector holds at most (2048 − 24) / 8 extents; a larger count is damage, bounded by what is there. */
export function parseUnallocatedSpaceDescriptor (buf: Buffer, tag: DescriptorTag, diag: Diagnostics, where: ImageLocation): UnallocatedSpaceDescriptor {
  const count = buf.readUInt32LE(20)
  const fits = Math.floor((buf.length - 24) / 8)
  if (count > fits) diag.warn({ ...where, field: 'number of allocation descriptors' }, `${count} extents do not fit in the descriptor (${fits} do)`)
  const extents: ExtentAd[] = []
  for (let i = 0; i < Math.min(count, fits); i++) extents.push(parseExtentAd(buf, 24 + i * 8))
  return { tag, sequenceNumber: buf.readUInt32LE(16), extents }
}

export function serializeUnallocatedSpaceDescriptor (d: UnallocatedSpaceDescriptor): Buffer {
  const buf = Buffer.alloc(Math.max(VOLUME_DESCRIPTOR_SIZE, 24 + d.extents.length * 8))
  serializeTag(d.tag, buf)
  buf.writeUInt32LE(d.sequenceNumber, 16)
  buf.writeUInt32LE(d.extents.length, 20)
  d.extents.forEach((e, i) => serializeExtentAd(e, buf, 24 + i * 8))
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** 3/10.9 (and 4/14.2): ends a sequence. */
export interface TerminatingDescriptor {
  tag: DescriptorTag
  reserved: Buffer
}

export function parseTerminatingDescriptor (buf: Buffer, tag: DescriptorTag): TerminatingDescriptor {
  return { tag, reserved: buf.subarray(TAG_SIZE, 512) }
}

export function serializeTerminatingDescriptor (d: TerminatingDescriptor): Buffer {
  const buf = Buffer.alloc(VOLUME_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  d.reserved.copy(buf, TAG_SIZE)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}
