import { serializeImplantedMd5, type ImplantedMd5 } from '../codec/isomd5sum'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import { applicationUseRange, freshImplantedMd5 } from '../checksum/implanted-md5'
import { carriedChecksums, hasSessionMd5, type MediaChecksums } from '../checksum/carried'
import type { CommitContext } from './context'

export { hasSessionMd5, type MediaChecksums }
import type { Patch } from './journal'

/*
 * The checksums an image carries, across a commit:
 * - implantisomd5's (installers' "check media") is computed afresh over the image's final bytes and
 *   written with the commit's last, journaled write (in place: with the patches; append: with the
 *   descriptors; remaster: into the new file before it is made durable and renamed), so a crash leaves
 *   the old image with its old sum or the new one with its new sum;
 * - xorriso's session MD5s (-md5 on) are not written anew: the tags are cleared and the files' indexes
 *   into the checksum array left out (write/layout.ts), so that no checker finds a stale sum and calls the
 *   image damaged. The image then has none, as if written without -md5 on.
 */

export async function mediaChecksumsOf (context: CommitContext): Promise<MediaChecksums> {
  return await carriedChecksums(context.source, context.descriptors)
}

/** What a commit's result says of them (CommitResult.notes). */
export function checksumNotes (checksums: MediaChecksums): string[] {
  const notes: string[] = []
  if (checksums.implanted !== undefined) notes.push('implantisomd5 checksum written afresh')
  if (hasSessionMd5(checksums)) notes.push('xorriso session MD5s (-md5 on) dropped: isomount does not write them')
  return notes
}

/** The application-use field with the sums of the image `final` reads (every other byte final already). */
export async function implantPatch (
  final: ByteSource, pvdLba: number, previous: ImplantedMd5, onProgress?: (done: number, total: number) => void
): Promise<Patch> {
  const fresh = await freshImplantedMd5(final, pvdLba, previous, onProgress)
  return { offset: applicationUseRange(pvdLba).offset, bytes: serializeImplantedMd5(fresh) }
}

/** Zeroed blocks over xorriso's tags, except where the bytes written from 0 up to `writtenUpTo` cover them. */
export function tagErasures (checksums: MediaChecksums, writtenUpTo: number): Patch[] {
  return checksums.sessionTags
    .filter(t => t.lba * SECTOR_SIZE >= writtenUpTo)
    .map(t => ({ offset: t.lba * SECTOR_SIZE, bytes: Buffer.alloc(SECTOR_SIZE) }))
}
