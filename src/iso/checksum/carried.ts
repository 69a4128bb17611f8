import { parseImplantedMd5, type ImplantedMd5 } from '../codec/isomd5sum'
import type { ByteSource } from '../io/byte-source'
import type { DescriptorSet } from '../read/descriptors'
import { findChecksumTags, readChecksumArray, type ChecksumArray, type LocatedTag } from './session-md5'

/** Which checksums an image carries, found without computing any (a few sectors read). */
export interface MediaChecksums {
  implanted?: ImplantedMd5
  /** xorriso's checksum tags of the current session. */
  sessionTags: LocatedTag[]
  /** The checksum array the root names (isofs.ca), if any. */
  sessionArray?: ChecksumArray
}

export async function carriedChecksums (source: ByteSource, descriptors: DescriptorSet): Promise<MediaChecksums> {
  return {
    implanted: parseImplantedMd5(descriptors.primary.applicationUse),
    sessionTags: await findChecksumTags(source, descriptors),
    sessionArray: await readChecksumArray(source, descriptors)
  }
}

export function hasSessionMd5 (checksums: MediaChecksums): boolean {
  return checksums.sessionTags.length > 0 || checksums.sessionArray !== undefined
}
