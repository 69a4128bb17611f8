import { InvalidImageError, type ImageLocation } from '../../errors'
import type { Diagnostics } from './diagnostics'
import { parseVolumeDate, serializeVolumeDate, type VolumeDate } from './datetime'
import { parseDirectoryRecord, serializeDirectoryRecord, type DirectoryRecord } from './directory-record'
import { readBoth16, readBoth32, writeBoth16, writeBoth32 } from './numbers'

/*
 * ECMA-119 8: volume descriptors, one per 2048-byte sector from sector 16 on, ended by a terminator.
 * Identifier fields stay raw bytes (they are ASCII in a primary descriptor and UCS-2 in a Joliet one; see
 * text.ts) so that parse then serialize is the identity.
 */

export const SECTOR_SIZE = 2048
export const DESCRIPTORS_START = 16
export const STANDARD_IDENTIFIER = 'CD001'

export const DescriptorType = {
  BOOT_RECORD: 0,
  PRIMARY: 1,
  SUPPLEMENTARY: 2, // also the enhanced descriptor of ISO 9660:1999 (version 2)
  PARTITION: 3,
  TERMINATOR: 255
} as const

/** 8.2. El Torito puts its catalog pointer in the boot system use field. */
export interface BootRecordDescriptor {
  type: 0
  version: number
  bootSystemId: Buffer
  bootId: Buffer
  bootSystemUse: Buffer
}

/** 8.4 (primary), 8.5 (supplementary, and enhanced when version is 2: ISO 9660:1999 8.5). */
export interface VolumeDescriptor {
  type: 1 | 2
  version: number
  /** 8.5.3 volume flags; unused (zero) in a primary descriptor. */
  flags: number
  systemId: Buffer
  volumeId: Buffer
  unused72: Buffer
  volumeSpaceSize: number
  /** 8.5.6; the Joliet level lives here. Unused (zero) in a primary descriptor. */
  escapeSequences: Buffer
  volumeSetSize: number
  volumeSequenceNumber: number
  logicalBlockSize: number
  pathTableSize: number
  lPathTable: number
  lPathTableOptional: number
  mPathTable: number
  mPathTableOptional: number
  root: DirectoryRecord
  volumeSetId: Buffer
  publisherId: Buffer
  preparerId: Buffer
  applicationId: Buffer
  copyrightFileId: Buffer
  abstractFileId: Buffer
  bibliographicFileId: Buffer
  created: VolumeDate
  modified: VolumeDate
  expires: VolumeDate
  effective: VolumeDate
  fileStructureVersion: number
  reserved882: number
  applicationUse: Buffer
  reserved1395: Buffer
}

/** 8.6 */
export interface PartitionDescriptor {
  type: 3
  version: number
  systemId: Buffer
  partitionId: Buffer
  location: number
  size: number
  systemUse: Buffer
}

export interface TerminatorDescriptor {
  type: 255
  version: number
  body: Buffer
}

/** Types 4..254 are reserved (8.1.1); kept as they are. */
export interface ReservedDescriptor {
  type: number
  version: number
  body: Buffer
}

export type AnyDescriptor =
  | BootRecordDescriptor | VolumeDescriptor | PartitionDescriptor | TerminatorDescriptor | ReservedDescriptor

export function isVolumeDescriptor (d: AnyDescriptor): d is VolumeDescriptor {
  return d.type === DescriptorType.PRIMARY || d.type === DescriptorType.SUPPLEMENTARY
}

/** True when the sector carries the standard identifier "CD001" at bytes 1-5 (8.1.2). */
export function hasStandardIdentifier (sector: Buffer): boolean {
  return sector.length >= 6 && sector.toString('latin1', 1, 6) === STANDARD_IDENTIFIER
}

export function parseDescriptor (sector: Buffer, lba: number, diag: Diagnostics): AnyDescriptor {
  const where: ImageLocation = { structure: 'volume descriptor', lba }
  if (sector.length !== SECTOR_SIZE || !hasStandardIdentifier(sector)) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'standard identifier "CD001" missing',
      { ...where, field: 'standard identifier' })
  }
  const type = sector[0]
  const version = sector[6]
  switch (type) {
    case DescriptorType.BOOT_RECORD:
      return {
        type: 0,
        version,
        bootSystemId: copy(sector, 7, 39),
        bootId: copy(sector, 39, 71),
        bootSystemUse: copy(sector, 71, SECTOR_SIZE)
      }
    case DescriptorType.PRIMARY:
    case DescriptorType.SUPPLEMENTARY:
      return parseVolumeDescriptor(sector, type, version, diag, where)
    case DescriptorType.PARTITION:
      return {
        type: 3,
        version,
        systemId: copy(sector, 8, 40),
        partitionId: copy(sector, 40, 72),
        location: readBoth32(sector, 72, diag, where, 'volume partition location'),
        size: readBoth32(sector, 80, diag, where, 'volume partition size'),
        systemUse: copy(sector, 88, SECTOR_SIZE)
      }
    case DescriptorType.TERMINATOR:
      return { type: 255, version, body: copy(sector, 7, SECTOR_SIZE) }
    default:
      return { type, version, body: copy(sector, 7, SECTOR_SIZE) }
  }
}

function parseVolumeDescriptor (
  sector: Buffer, type: 1 | 2, version: number, diag: Diagnostics, where: ImageLocation
): VolumeDescriptor {
  const rootWhere = { ...where, field: 'root directory record' }
  const parsed = parseDirectoryRecord(sector, 156, 190, diag, rootWhere)
  if (parsed === undefined) throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'root directory record is empty', rootWhere)
  // The descriptor is kept: its root record must not be a view into the sector buffer.
  const root = { ...parsed, identifier: Buffer.from(parsed.identifier), systemUse: Buffer.from(parsed.systemUse) }
  return {
    type,
    version,
    flags: sector[7],
    systemId: copy(sector, 8, 40),
    volumeId: copy(sector, 40, 72),
    unused72: copy(sector, 72, 80),
    volumeSpaceSize: readBoth32(sector, 80, diag, where, 'volume space size'),
    escapeSequences: copy(sector, 88, 120),
    volumeSetSize: readBoth16(sector, 120, diag, where, 'volume set size'),
    volumeSequenceNumber: readBoth16(sector, 124, diag, where, 'volume sequence number'),
    logicalBlockSize: readBoth16(sector, 128, diag, where, 'logical block size'),
    pathTableSize: readBoth32(sector, 132, diag, where, 'path table size'),
    lPathTable: sector.readUInt32LE(140),
    lPathTableOptional: sector.readUInt32LE(144),
    mPathTable: sector.readUInt32BE(148),
    mPathTableOptional: sector.readUInt32BE(152),
    root,
    volumeSetId: copy(sector, 190, 318),
    publisherId: copy(sector, 318, 446),
    preparerId: copy(sector, 446, 574),
    applicationId: copy(sector, 574, 702),
    copyrightFileId: copy(sector, 702, 739),
    abstractFileId: copy(sector, 739, 776),
    bibliographicFileId: copy(sector, 776, 813),
    created: parseVolumeDate(sector, 813),
    modified: parseVolumeDate(sector, 830),
    expires: parseVolumeDate(sector, 847),
    effective: parseVolumeDate(sector, 864),
    fileStructureVersion: sector[881],
    reserved882: sector[882],
    applicationUse: copy(sector, 883, 1395),
    reserved1395: copy(sector, 1395, SECTOR_SIZE)
  }
}

export function serializeDescriptor (d: AnyDescriptor): Buffer {
  const sector = Buffer.alloc(SECTOR_SIZE)
  sector[0] = d.type
  sector.write(STANDARD_IDENTIFIER, 1, 'latin1')
  sector[6] = d.version
  if (isVolumeDescriptor(d)) {
    serializeVolumeDescriptor(d, sector)
  } else if (d.type === DescriptorType.BOOT_RECORD) {
    const b = d as BootRecordDescriptor
    b.bootSystemId.copy(sector, 7, 0, 32)
    b.bootId.copy(sector, 39, 0, 32)
    b.bootSystemUse.copy(sector, 71)
  } else if (d.type === DescriptorType.PARTITION) {
    const p = d as PartitionDescriptor
    p.systemId.copy(sector, 8, 0, 32)
    p.partitionId.copy(sector, 40, 0, 32)
    writeBoth32(sector, 72, p.location)
    writeBoth32(sector, 80, p.size)
    p.systemUse.copy(sector, 88)
  } else {
    (d as TerminatorDescriptor | ReservedDescriptor).body.copy(sector, 7)
  }
  return sector
}

function serializeVolumeDescriptor (d: VolumeDescriptor, sector: Buffer): void {
  sector[7] = d.flags
  d.systemId.copy(sector, 8, 0, 32)
  d.volumeId.copy(sector, 40, 0, 32)
  d.unused72.copy(sector, 72, 0, 8)
  writeBoth32(sector, 80, d.volumeSpaceSize)
  d.escapeSequences.copy(sector, 88, 0, 32)
  writeBoth16(sector, 120, d.volumeSetSize)
  writeBoth16(sector, 124, d.volumeSequenceNumber)
  writeBoth16(sector, 128, d.logicalBlockSize)
  writeBoth32(sector, 132, d.pathTableSize)
  sector.writeUInt32LE(d.lPathTable, 140)
  sector.writeUInt32LE(d.lPathTableOptional, 144)
  sector.writeUInt32BE(d.mPathTable, 148)
  sector.writeUInt32BE(d.mPathTableOptional, 152)
  const root = serializeDirectoryRecord(d.root)
  if (root.length !== 34) throw new RangeError(`root directory record must be 34 bytes, not ${root.length}`)
  root.copy(sector, 156)
  d.volumeSetId.copy(sector, 190, 0, 128)
  d.publisherId.copy(sector, 318, 0, 128)
  d.preparerId.copy(sector, 446, 0, 128)
  d.applicationId.copy(sector, 574, 0, 128)
  d.copyrightFileId.copy(sector, 702, 0, 37)
  d.abstractFileId.copy(sector, 739, 0, 37)
  d.bibliographicFileId.copy(sector, 776, 0, 37)
  serializeVolumeDate(d.created, sector, 813)
  serializeVolumeDate(d.modified, sector, 830)
  serializeVolumeDate(d.expires, sector, 847)
  serializeVolumeDate(d.effective, sector, 864)
  sector[881] = d.fileStructureVersion
  sector[882] = d.reserved882
  d.applicationUse.copy(sector, 883, 0, 512)
  d.reserved1395.copy(sector, 1395)
}

function copy (buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end))
}
