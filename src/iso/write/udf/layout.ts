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
 * (one plain partition, no metadata partition). A commit writes the revision the image has.
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
  /** Sectors from PARTITION_START that the file set, the entries and the directories take. */
  metadataSectors: number
}

/** Recognition sequence sectors (2048-byte descriptors: ECMA-167 2/8.3). */
export const RECOGNITION_SECTORS = 3

/**
 * Places the UDF tree's structures in the partition: the file set descriptor, its terminator, then each
 * entry, a directory's identifiers right after its entry (as genisoimage orders them). `recognitionLba`
 * is the sector after the ISO9660 descriptor set terminator.
 */
export function placeUdf (tree: UdfTreePlan, revision: UdfRevision, recognitionLba: number): UdfLayout {
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
  return { revision, recognitionLba, tree, partitionBlocks: 0, endAnchorLba: 0, metadataSectors: block }
}

/** The last sector the recognition sequence takes, plus one: where the descriptors' head ends. */
export function recognitionEnd (udf: UdfLayout): number {
  return udf.recognitionLba + RECOGNITION_SECTORS
}
