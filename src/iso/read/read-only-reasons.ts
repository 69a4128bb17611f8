import { revisionText } from '../codec/udf/entity-id'
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

/** The highest UDF revision written (write/udf/layout.ts): a volume up to it is written back whole. */
const HIGHEST_WRITTEN_REVISION = 0x0201

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
  if (maps.length !== 1 || maps[0].type !== 1) return 'its partitions are not one plain (type 1) partition'
  if (volume.revision > HIGHEST_WRITTEN_REVISION) return `UDF ${revisionText(volume.revision)}; isomount writes UDF up to ${revisionText(HIGHEST_WRITTEN_REVISION)}`
  return undefined
}

/** One line for messages: the reason and the remedy. */
export function describeReadOnly (reason: ReadOnlyReason): string {
  return `${reason.reason}; ${reason.remedy}`
}
