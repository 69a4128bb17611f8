import type { ImageLocation } from '../../../errors'
import type { Diagnostics } from '../diagnostics'
import { parseExtentAd, serializeExtentAd, type ExtentAd } from './addresses'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { parseTimestamp, serializeTimestamp, type Timestamp } from './timestamp'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 3/10.10: the logical volume integrity descriptor: whether the volume was closed cleanly, the
 * next unique ID, free and total space per partition, and (UDF 2.2.6.4) the implementation use with file
 * and directory counts and the UDF revisions needed to read and write the volume.
 */

export const IntegrityType = { OPEN: 0, CLOSE: 1 } as const

export interface LogicalVolumeIntegrityDescriptor {
  tag: DescriptorTag
  recorded: Timestamp
  integrityType: number
  next: ExtentAd
  /** 4/14.15 logical volume header descriptor: the next unique ID to give a file. */
  nextUniqueId: bigint
  contentsUseReserved: Buffer
  /** Free blocks per partition (0xffffffff: not known). */
  freeSpace: number[]
  sizes: number[]
  implementationUse: Buffer
}

/** UDF 2.2.6.4 */
export interface IntegrityImplementationUse {
  implementationId: EntityId
  files: number
  directories: number
  minReadRevision: number
  minWriteRevision: number
  maxWriteRevision: number
  rest: Buffer
}

const FIXED_SIZE = 80

/**
 * The descriptor's counts are bounded by the bytes it was read with (its sector): a number of partitions
 * or an implementation use length that would overrun it is damage, and what fits is read.
 */
export function parseIntegrityDescriptor (buf: Buffer, tag: DescriptorTag, diag: Diagnostics, where: ImageLocation): LogicalVolumeIntegrityDescriptor {
  let partitions = buf.readUInt32LE(72)
  let useLength = buf.readUInt32LE(76)
  if (FIXED_SIZE + partitions * 8 > buf.length) {
    diag.warn({ ...where, field: 'number of partitions' }, `${partitions} partitions do not fit in the descriptor`)
    partitions = Math.floor((buf.length - FIXED_SIZE) / 8)
  }
  const useStart = FIXED_SIZE + partitions * 8
  if (useStart + useLength > buf.length) {
    diag.warn({ ...where, field: 'length of implementation use' }, `${useLength} bytes of implementation use do not fit in the descriptor`)
    useLength = buf.length - useStart
  }
  const freeSpace: number[] = []
  const sizes: number[] = []
  for (let i = 0; i < partitions; i++) {
    freeSpace.push(buf.readUInt32LE(FIXED_SIZE + i * 4))
    sizes.push(buf.readUInt32LE(FIXED_SIZE + partitions * 4 + i * 4))
  }
  return {
    tag,
    recorded: parseTimestamp(buf, 16),
    integrityType: buf.readUInt32LE(28),
    next: parseExtentAd(buf, 32),
    nextUniqueId: buf.readBigUInt64LE(40),
    contentsUseReserved: buf.subarray(48, 72),
    freeSpace,
    sizes,
    implementationUse: buf.subarray(useStart, useStart + useLength)
  }
}

export function serializeIntegrityDescriptor (d: LogicalVolumeIntegrityDescriptor): Buffer {
  const n = d.freeSpace.length
  const length = FIXED_SIZE + n * 8 + d.implementationUse.length
  const buf = Buffer.alloc(Math.max(512, length))
  serializeTag(d.tag, buf)
  serializeTimestamp(d.recorded, buf, 16)
  buf.writeUInt32LE(d.integrityType, 28)
  serializeExtentAd(d.next, buf, 32)
  buf.writeBigUInt64LE(d.nextUniqueId, 40)
  d.contentsUseReserved.copy(buf, 48, 0, 24)
  buf.writeUInt32LE(n, 72)
  buf.writeUInt32LE(d.implementationUse.length, 76)
  d.freeSpace.forEach((v, i) => buf.writeUInt32LE(v, FIXED_SIZE + i * 4))
  d.sizes.forEach((v, i) => buf.writeUInt32LE(v, FIXED_SIZE + n * 4 + i * 4))
  d.implementationUse.copy(buf, FIXED_SIZE + n * 8)
  sealDescriptor(buf, 0, d.tag.crcLength)
  return buf
}

/** The UDF fields of the implementation use, when it is long enough to hold them (46 bytes). */
export function parseIntegrityImplementationUse (use: Buffer): IntegrityImplementationUse | undefined {
  if (use.length < 46) return undefined
  return {
    implementationId: parseEntityId(use, 0),
    files: use.readUInt32LE(32),
    directories: use.readUInt32LE(36),
    minReadRevision: use.readUInt16LE(40),
    minWriteRevision: use.readUInt16LE(42),
    maxWriteRevision: use.readUInt16LE(44),
    rest: use.subarray(46)
  }
}

export function serializeIntegrityImplementationUse (use: IntegrityImplementationUse): Buffer {
  const buf = Buffer.alloc(46 + use.rest.length)
  serializeEntityId(use.implementationId, buf, 0)
  buf.writeUInt32LE(use.files, 32)
  buf.writeUInt32LE(use.directories, 36)
  buf.writeUInt16LE(use.minReadRevision, 40)
  buf.writeUInt16LE(use.minWriteRevision, 42)
  buf.writeUInt16LE(use.maxWriteRevision, 44)
  use.rest.copy(buf, 46)
  return buf
}
