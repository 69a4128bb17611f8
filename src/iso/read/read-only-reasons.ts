import { revisionText } from '../codec/udf/entity-id'
import type { MetadataPartitionMap, PartitionMap, Type1PartitionMap } from '../codec/udf/partition-maps'
import { revisionFacts, UDF_REVISION_FACTS } from '../codec/udf/revision'
import type { UdfVolume } from './udf/volume'
import type { VolumeRecognition } from './volume-recognition'

/**
 * Why an opened image cannot be written back, found when it is opened: structures this code cannot keep
 * valid through a change. Such an image is read fine; only writing it (a commit, a remaster to a new file)
 * is refused, and a read-write mount becomes read-only and says why before it returns (never a silent
 * EROFS on the first write).
 */
export interface ReadOnlyReason {
  /** Stable, for scripts and tests. */
  code: 'UDF' | 'HFSPLUS' | 'SYSTEM_AREA'
  /** What is in the image and what writing it back would do to it, in plain words. */
  reason: string
  /** What the user can do. */
  remedy: string
}

/**
 * The reasons the volume recognition sequence gives. A UDF file system is kept valid through a commit
 * only where its whole tree is written again from the model (write/udf, by a remaster): a bridge image's
 * UDF volume read here, of a revision and shape written here. Otherwise the image is read-only: an edit
 * committed to the ISO 9660 trees alone would be invisible to Windows and 7-Zip, which read the UDF tree
 * first (and a remaster would drop UDF altogether).
 */
export function readOnlyReasonsOf (recognition: VolumeRecognition, udf: { volume?: UdfVolume, bridge: boolean }): ReadOnlyReason[] {
  if (recognition.udf === undefined) return []
  const why = udfUnwritable(udf.volume, udf.bridge)
  if (why === undefined) return []
  return [{
    code: 'UDF',
    reason: `the image also holds a UDF file system (${recognition.udf.identifier} at sector ${recognition.udf.lba}), ` +
      `which isomount cannot update (${why}): a change would reach the ISO 9660 names but not the UDF tree that Windows and 7-Zip read`,
    remedy: 'extract it (isotool extract) and master a new image (isotool mkisofs -udf), or edit it with a UDF-aware tool'
  }]
}

function udfUnwritable (volume: UdfVolume | undefined, bridge: boolean): string | undefined {
  if (!bridge) return 'it has no ISO9660 volume, and isomount writes UDF only beside one'
  if (volume === undefined) return 'its UDF tree was not read: noudf, or it is damaged or older than the ISO9660 tree'
  if (volume.blockSize !== 2048) return `its ${volume.blockSize}-byte blocks`
  const maps = volume.logicalVolume.partitionMaps
  const metadata = maps.filter((m): m is MetadataPartitionMap => 'kind' in m && m.kind === 'metadata')
  const physical = maps.filter((m): m is Type1PartitionMap => m.type === 1 && !('kind' in m))
  const special = maps.find(m => !(physical as PartitionMap[]).includes(m) && !(metadata as PartitionMap[]).includes(m))
  if (special !== undefined) return `its ${partitionKind(special)}; isomount writes one plain (type 1) partition, with a metadata partition over it or not`
  if (physical.length !== 1 || metadata.length > 1) return `its ${physical.length} partitions and ${metadata.length} metadata partitions; isomount writes one of each at most`
  if (metadata.length === 1) {
    const over = metadata[0].partitionNumber
    if (over !== physical[0].partitionNumber) return `its metadata partition over partition ${over}, which no type 1 map holds`
    // UDF 2.2.10: metadata partitions came with 2.50; the writer records them in 2.50 and 2.60 only.
    if (volume.revision < 0x0250) return `its metadata partition in a UDF ${revisionText(volume.revision)} volume (they came with 2.50)`
  }
  // UDF 2.00+ named streams (UDF 3.3.5): the tree written again has none, so a volume that records them
  // would lose them. Streams of single files (in extended file entries) are found only as directories
  // load, so only the file set's system stream directory is looked for here.
  if (volume.fileSet.systemStreamDirectory.length > 0) return 'its system stream directory (UDF named streams), which isomount does not write'
  if (revisionFacts(volume.revision) === undefined) {
    return `UDF ${revisionText(volume.revision)}; isomount writes UDF ${Object.keys(UDF_REVISION_FACTS).join(', ')}`
  }
  return undefined
}

/** A type 2 (or unknown) partition map in plain words. */
function partitionKind (map: PartitionMap): string {
  if (!('kind' in map) || map.kind === 'other') return `partition map of type ${map.type}`
  if (map.kind === 'sparable') return 'sparable partition (rewritable media with a sparing table)'
  return 'virtual partition (write-once media with a virtual allocation table)'
}

/** One line for messages: the reason and the remedy. */
export function describeReadOnly (reason: ReadOnlyReason): string {
  return `${reason.reason}; ${reason.remedy}`
}
