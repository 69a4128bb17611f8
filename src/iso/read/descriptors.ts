import { InvalidImageError } from '../../errors'
import type { Diagnostics } from '../codec/diagnostics'
import { jolietLevelOf, type JolietLevel } from '../codec/joliet'
import {
  DescriptorType, DESCRIPTORS_START, hasStandardIdentifier, isVolumeDescriptor, parseDescriptor, SECTOR_SIZE,
  type AnyDescriptor, type BootRecordDescriptor, type PartitionDescriptor, type VolumeDescriptor
} from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/** The volume descriptor set of one session (ECMA-119 8.1), sorted by role. */
export interface DescriptorSet {
  /** The session's first LBA: 0 for a single-session image. */
  sessionStart: number
  descriptors: Array<{ lba: number, descriptor: AnyDescriptor }>
  primary: VolumeDescriptor
  primaryLba: number
  joliet?: { descriptor: VolumeDescriptor, lba: number, level: JolietLevel }
  /** ISO 9660:1999 enhanced volume descriptor (SVD version 2); genisoimage -iso-level 4 writes one. */
  enhanced?: { descriptor: VolumeDescriptor, lba: number }
  bootRecord?: { descriptor: BootRecordDescriptor, lba: number }
  partitions: PartitionDescriptor[]
  terminatorLba: number
}

/** More descriptors than any writer produces; bounds the scan of a damaged image. */
const MAX_DESCRIPTORS = 64

export async function readDescriptorSet (source: ByteSource, diag: Diagnostics, sessionStart = 0): Promise<DescriptorSet> {
  const first = sessionStart + DESCRIPTORS_START
  const where = { structure: 'volume descriptor set', lba: first }
  if ((first + 1) * SECTOR_SIZE > source.size) {
    throw new InvalidImageError('IMAGE_NOT_ISO9660', `the image (${source.size} bytes) is too small for an ISO9660 volume`, where)
  }
  const available = Math.floor(source.size / SECTOR_SIZE) - first
  const block = await readExactly(source, first * SECTOR_SIZE, Math.min(MAX_DESCRIPTORS, available) * SECTOR_SIZE, where)
  const descriptors: DescriptorSet['descriptors'] = []
  let terminatorLba: number | undefined
  for (let i = 0; i * SECTOR_SIZE < block.length; i++) {
    const sector = block.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE)
    const lba = first + i
    if (!hasStandardIdentifier(sector)) {
      if (i === 0) throw notIso9660(sector, lba)
      diag.warn({ structure: 'volume descriptor', lba }, 'descriptor set ends without a terminator')
      terminatorLba = lba
      break
    }
    const descriptor = parseDescriptor(sector, lba, diag)
    if (descriptor.type === DescriptorType.TERMINATOR) {
      terminatorLba = lba
      break
    }
    descriptors.push({ lba, descriptor })
  }
  if (terminatorLba === undefined) {
    diag.warn(where, `no terminator within ${MAX_DESCRIPTORS} descriptors`)
    terminatorLba = first + descriptors.length
  }
  return sortDescriptors(descriptors, sessionStart, terminatorLba, diag)
}

function sortDescriptors (
  descriptors: DescriptorSet['descriptors'], sessionStart: number, terminatorLba: number, diag: Diagnostics
): DescriptorSet {
  let primary: { descriptor: VolumeDescriptor, lba: number } | undefined
  let joliet: DescriptorSet['joliet']
  let enhanced: DescriptorSet['enhanced']
  let bootRecord: DescriptorSet['bootRecord']
  const partitions: PartitionDescriptor[] = []
  for (const { lba, descriptor } of descriptors) {
    if (isVolumeDescriptor(descriptor)) {
      if (descriptor.logicalBlockSize !== SECTOR_SIZE) {
        throw new InvalidImageError('IMAGE_BLOCK_SIZE',
          `logical block size ${descriptor.logicalBlockSize} is not supported (only 2048)`,
          { structure: 'volume descriptor', lba, field: 'logical block size' })
      }
      if (descriptor.type === DescriptorType.PRIMARY) {
        // Some images carry a second, identical PVD (pycdlib accepts them); the first one counts.
        if (primary === undefined) primary = { descriptor, lba }
        else diag.warn({ structure: 'primary volume descriptor', lba }, 'duplicate primary volume descriptor ignored')
      } else if (descriptor.version === 2 && descriptor.fileStructureVersion === 2) {
        enhanced ??= { descriptor, lba }
      } else {
        const level = jolietLevelOf(descriptor.escapeSequences)
        if (level !== undefined && joliet === undefined) joliet = { descriptor, lba, level }
      }
    } else if (descriptor.type === DescriptorType.BOOT_RECORD) {
      bootRecord ??= { descriptor: descriptor as BootRecordDescriptor, lba }
    } else if (descriptor.type === DescriptorType.PARTITION) {
      partitions.push(descriptor as PartitionDescriptor)
    }
  }
  if (primary === undefined) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'no primary volume descriptor',
      { structure: 'volume descriptor set', lba: sessionStart + DESCRIPTORS_START })
  }
  return {
    sessionStart,
    descriptors,
    primary: primary.descriptor,
    primaryLba: primary.lba,
    joliet,
    enhanced,
    bootRecord,
    partitions,
    terminatorLba
  }
}

function notIso9660 (sector: Buffer, lba: number): InvalidImageError {
  const id = sector.toString('latin1', 1, 6)
  const detail = ['BEA01', 'NSR02', 'NSR03', 'TEA01'].includes(id)
    ? 'a UDF volume without an ISO9660 one, and UDF is not read (noudf)'
    : 'no ISO9660 volume descriptor ("CD001") at sector 16'
  return new InvalidImageError('IMAGE_NOT_ISO9660', detail, { structure: 'volume descriptor', lba })
}
