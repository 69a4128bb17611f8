import { InternalError, InvalidInputError } from '../../../errors'
import { MIN_SEQUENCE_LENGTH } from '../../codec/udf/anchor'
import { revisionFacts, UDF_REVISION_FACTS, type UdfRevisionFacts, type WrittenRevisionFacts } from '../../codec/udf/revision'
import { directoryBlocks, type UdfTreePlan } from './tree-plan'

/*
 * Where a bridge image's UDF structures go, as genisoimage -udf places them (checked on its 1.1.11
 * images): the recognition sequence (BEA01, NSR, TEA01) right after the ISO9660 descriptors; the main
 * and reserve volume descriptor sequences at 32 and 48 (16 sectors each, UDF 2.2.3's minimum); the
 * integrity sequence at 64; the first anchor at 256 (ECMA-167 3/8.4.2.1); one partition from 257 to the
 * end of the volume's data, holding the file set descriptor, the file entries and directories, and then
 * everything the ECMA-119 trees have (their directories, the boot catalog, the file data), so that both
 * file systems address the same file data; the closing anchor in the volume's last sector.
 */

export const MAIN_SEQUENCE_LBA = 32
export const RESERVE_SEQUENCE_LBA = MAIN_SEQUENCE_LBA + MIN_SEQUENCE_LENGTH
export const INTEGRITY_LBA = RESERVE_SEQUENCE_LBA + MIN_SEQUENCE_LENGTH
/** The integrity descriptor and its terminating descriptor. */
export const INTEGRITY_SECTORS = 2
export const FIRST_ANCHOR_LBA = 256
export const PARTITION_START = FIRST_ANCHOR_LBA + 1
/** The partition's first blocks: the file set descriptor and the terminating descriptor after it (4/8.3.1). */
const FILE_SET_BLOCKS = 2

/**
 * The UDF revisions written (codec/udf/revision.ts says what each changes): genisoimage -udf's 1.02 (the
 * default), 1.50, 2.00, 2.01 (as Windows' own tools write bridges), and 2.50 and 2.60 in pycdlib's shape
 * (one plain partition) or with a metadata partition over it. A commit writes the revision the image has.
 */
export const UDF_REVISIONS = UDF_REVISION_FACTS
export type UdfRevisionText = keyof typeof UDF_REVISIONS
/** A written revision as recorded: 0x0102 … 0x0260. */
export type UdfRevision = WrittenRevisionFacts['value']

export function udfRevisionOf (text: string): UdfRevision {
  const revision = UDF_REVISIONS[text as UdfRevisionText]
  if (revision === undefined) throw new InvalidInputError('BAD_ARGUMENT', `UDF revision ${text} is not written (${Object.keys(UDF_REVISIONS).join(', ')})`)
  return revision.value
}

/** The facts of a written revision (recorded where a layout names it). */
export function writtenRevision (revision: UdfRevision): UdfRevisionFacts {
  const facts = revisionFacts(revision)
  if (facts === undefined) throw new InternalError(`UDF revision ${revision.toString(16)} is not written`)
  return facts
}

export interface UdfLayout {
  revision: UdfRevision
  /** BEA01, then NSR02/NSR03, then TEA01, from this sector. */
  recognitionLba: number
  tree: UdfTreePlan
  /** Blocks of the partition from PARTITION_START: set once the volume's data is placed. */
  partitionBlocks: number
  /** The volume's last sector, where the closing anchor goes (ECMA-167 3/8.4.2.1: N − 1). */
  endAnchorLba: number
  /**
   * Sectors from PARTITION_START that the file set, the entries and the directories take (and, with a
   * metadata partition, its padding and the metadata file's entries).
   */
  metadataSectors: number
  /** A metadata partition (UDF 2.50+, 2.2.10), when one is written. */
  metadataPartition?: MetadataPartitionLayout
}

/**
 * A metadata partition as written here: the metadata file's one extent starts at the physical partition's
 * first block and holds what a volume without one has there (file set descriptor, entries, directories),
 * so a metadata block's number is its physical block's too: a reader that ignores the partition map (as
 * pycdlib 1.12 does) still finds every structure. The metadata file's entry and its mirror's follow the
 * extent. The mirror's entry names the same extent (the duplicate flag clear, UDF 2.2.10: no second copy)
 * and no bitmap file is written (a read-only volume has no free space to track).
 */
export interface MetadataPartitionLayout {
  /** Blocks of the metadata file: the structures, padded to whole allocation units. */
  blocks: number
  /** Physical partition blocks of the metadata file's entry (type 250) and its mirror's (251). */
  fileEntry: number
  mirrorEntry: number
}

/**
 * UDF 2.2.10: the metadata file is allocated in units of this many blocks, aligned to them: 32 blocks, a
 * Blu-ray disc's ECC block (the media metadata partitions are used on), which also fits DVD's 16.
 */
export const METADATA_ALLOCATION_UNIT = 32

/** Recognition sequence sectors (2048-byte descriptors: ECMA-167 2/8.3). */
export const RECOGNITION_SECTORS = 3

/**
 * Places the UDF tree's structures in the partition: the file set descriptor, its terminator, then each
 * entry, a directory's identifiers right after its entry (as genisoimage orders them). `recognitionLba`
 * is the sector after the ISO9660 descriptor set terminator.
 */
export function placeUdf (tree: UdfTreePlan, settings: UdfSettings, recognitionLba: number): UdfLayout {
  if (recognitionLba + RECOGNITION_SECTORS > MAIN_SEQUENCE_LBA) {
    throw new InvalidInputError('UNSUPPORTED', 'the volume descriptors leave no room for the UDF recognition sequence before sector 32')
  }
  let block = FILE_SET_BLOCKS
  for (const entry of tree.entries) {
    entry.block = block++
    if (entry.directory !== undefined) {
      entry.directory.dataBlock = block
      block += directoryBlocks(entry.directory)
    }
  }
  const layout: UdfLayout = { revision: settings.revision, recognitionLba, tree, partitionBlocks: 0, endAnchorLba: 0, metadataSectors: block }
  if (settings.metadataPartition === true) {
    // udfSettingsOf and read-only-reasons.ts keep metadata partitions of older revisions from here.
    if (settings.revision < 0x0250) throw new InternalError(`a UDF metadata partition in UDF ${settings.revision.toString(16)}`)
    const blocks = Math.ceil(block / METADATA_ALLOCATION_UNIT) * METADATA_ALLOCATION_UNIT
    layout.metadataPartition = { blocks, fileEntry: blocks, mirrorEntry: blocks + 1 }
    layout.metadataSectors = blocks + 2
  }
  return layout
}

/** The settings of the library's `udf` option (image.ts CreateOptions). */
export function udfSettingsOf (option: boolean | UdfRevisionText | { revision?: UdfRevisionText, metadataPartition?: boolean } | undefined): UdfSettings | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return { revision: udfRevisionOf('1.02') }
  if (typeof option === 'string') return { revision: udfRevisionOf(option) }
  const settings = { revision: udfRevisionOf(option.revision ?? (option.metadataPartition === true ? '2.60' : '1.02')), metadataPartition: option.metadataPartition === true }
  if (settings.metadataPartition && settings.revision < 0x0250) {
    throw new InvalidInputError('BAD_ARGUMENT', `a UDF metadata partition needs UDF 2.50 or later, not ${option.revision ?? ''}`)
  }
  return settings
}

/** What a written UDF file system is asked to be (write/settings.ts). */
export interface UdfSettings {
  revision: UdfRevision
  /** Entries and directories in a metadata partition (UDF 2.50+), as Blu-ray discs record them. */
  metadataPartition?: boolean
}

/** The last sector the recognition sequence takes, plus one: where the descriptors' head ends. */
export function recognitionEnd (udf: UdfLayout): number {
  return udf.recognitionLba + RECOGNITION_SECTORS
}
