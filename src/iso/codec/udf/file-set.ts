import { parseLongAd, serializeLongAd, type LongAd } from './addresses'
import { parseCharspec, serializeCharspec, type Charspec } from './cs0'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { parseTimestamp, serializeTimestamp, type Timestamp } from './timestamp'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 4/14.1: the file set descriptor, the start of the file structure: where the root directory's
 * ICB is (and the system stream directory's, UDF 2.00+), and the file set's name.
 */

export const FILE_SET_DESCRIPTOR_SIZE = 512

export interface FileSetDescriptor {
  tag: DescriptorTag
  recorded: Timestamp
  interchangeLevel: number
  maxInterchangeLevel: number
  characterSetList: number
  maxCharacterSetList: number
  fileSetNumber: number
  fileSetDescriptorNumber: number
  logicalVolumeIdCharset: Charspec
  /** dstring[128] */
  logicalVolumeId: Buffer
  fileSetCharset: Charspec
  /** dstring[32] × 3 */
  fileSetId: Buffer
  copyrightFileId: Buffer
  abstractFileId: Buffer
  rootDirectory: LongAd
  domainId: EntityId
  /** Where another file set descriptor is (UDF 2.3.2.7: none, length 0, on read-only media). */
  next: LongAd
  systemStreamDirectory: LongAd
  reserved: Buffer
}

export function parseFileSetDescriptor (buf: Buffer, tag: DescriptorTag): FileSetDescriptor {
  return {
    tag,
    recorded: parseTimestamp(buf, 16),
    interchangeLevel: buf.readUInt16LE(28),
    maxInterchangeLevel: buf.readUInt16LE(30),
    characterSetList: buf.readUInt32LE(32),
    maxCharacterSetList: buf.readUInt32LE(36),
    fileSetNumber: buf.readUInt32LE(40),
    fileSetDescriptorNumber: buf.readUInt32LE(44),
    logicalVolumeIdCharset: parseCharspec(buf, 48),
    logicalVolumeId: buf.subarray(112, 240),
    fileSetCharset: parseCharspec(buf, 240),
    fileSetId: buf.subarray(304, 336),
    copyrightFileId: buf.subarray(336, 368),
    abstractFileId: buf.subarray(368, 400),
    rootDirectory: parseLongAd(buf, 400),
    domainId: parseEntityId(buf, 416),
    next: parseLongAd(buf, 448),
    systemStreamDirectory: parseLongAd(buf, 464),
    reserved: buf.subarray(480, 512)
  }
}

export function serializeFileSetDescriptor (d: FileSetDescriptor): Buffer {
  const buf = Buffer.alloc(FILE_SET_DESCRIPTOR_SIZE)
  serializeTag(d.tag, buf)
  serializeTimestamp(d.recorded, buf, 16)
  buf.writeUInt16LE(d.interchangeLevel, 28)
  buf.writeUInt16LE(d.maxInterchangeLevel, 30)
  buf.writeUInt32LE(d.characterSetList, 32)
  buf.writeUInt32LE(d.maxCharacterSetList, 36)
  buf.writeUInt32LE(d.fileSetNumber, 40)
  buf.writeUInt32LE(d.fileSetDescriptorNumber, 44)
  serializeCharspec(d.logicalVolumeIdCharset, buf, 48)
  d.logicalVolumeId.copy(buf, 112, 0, 128)
  serializeCharspec(d.fileSetCharset, buf, 240)
  d.fileSetId.copy(buf, 304, 0, 32)
  d.copyrightFileId.copy(buf, 336, 0, 32)
  d.abstractFileId.copy(buf, 368, 0, 32)
  serializeLongAd(d.rootDirectory, buf, 400)
  serializeEntityId(d.domainId, buf, 416)
  serializeLongAd(d.next, buf, 448)
  serializeLongAd(d.systemStreamDirectory, buf, 464)
  d.reserved.copy(buf, 480, 0, 32)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}
