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

export function readOnlyReasonsOf (recognition: VolumeRecognition): ReadOnlyReason[] {
  const reasons: ReadOnlyReason[] = []
  if (recognition.udf !== undefined) {
    // Windows and 7-Zip read the UDF tree first: an edit committed to the ISO 9660 trees alone would be
    // invisible to them (and a remaster would drop UDF altogether).
    reasons.push({
      code: 'UDF',
      reason: `the image also holds a UDF file system (${recognition.udf.identifier} at sector ${recognition.udf.lba}), ` +
        'which isomount cannot update yet: a change would reach the ISO 9660 names but not the UDF tree that Windows and 7-Zip read',
      remedy: 'extract it (isotool extract) and master a new image, or edit it with a UDF-aware tool'
    })
  }
  return reasons
}

/** One line for messages: the reason and the remedy. */
export function describeReadOnly (reason: ReadOnlyReason): string {
  return `${reason.reason}; ${reason.remedy}`
}
