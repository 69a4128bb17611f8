import { createHash } from 'node:crypto'
import { serializeImplantedMd5, type ImplantedMd5 } from '../codec/isomd5sum'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import { ImageExtentsSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import { applicationUseRange, freshImplantedMd5 } from '../checksum/implanted-md5'
import { carriedChecksums, hasSessionMd5, type MediaChecksums } from '../checksum/carried'
import { checksumIndexOf, type ChecksumArray } from '../checksum/session-md5'
import { allBootImages } from '../model/boot'
import type { Layout, SessionMd5Request, WriteContent } from '../write/layout'
import { sessionMd5Blocks, superblockCopy, type RecordedMd5 } from '../write/session-md5'
import type { ImageSettings } from '../write/settings'
import type { DescriptorSet } from '../read/descriptors'
import { JournaledByteSource, type Patch } from './journal'

export { hasSessionMd5, type MediaChecksums }

/*
 * The checksums an image carries, across a commit:
 * - implantisomd5's (installers' "check media") is computed afresh over the image's final bytes and
 *   written with the commit's last, journaled write (in place: with the patches; append: with the
 *   descriptors; remaster: into the new file before it is made durable and renamed), so a crash leaves
 *   the old image with its old sum or the new one with its new sum;
 * - xorriso's session MD5s (-md5 on) are written anew by a commit that writes a whole tree: an append
 *   extends a session at 0 (xorriso -as mkisofs --md5) and adds a session after one that is not (xorriso
 *   -outdev, -dev), as xorriso -dev does, which leaves the sessions before it and their tags as they
 *   were and sums only the new one; a remaster writes one from 0. Tags, checksum array and the files'
 *   indexes are placed by the layout pass and computed by write/session-md5.ts once every other byte is
 *   written; the blocks before the appended body (the superblock tag and copy, the relocated tag at 16)
 *   go through the journal with the descriptors, the rest is written and made durable before the commit
 *   point. They are dropped (the tags cleared, the indexes left out) where they cannot be kept valid: see
 *   sessionMd5Keeping.
 */

export async function mediaChecksumsOf (context: ReadImage): Promise<MediaChecksums> {
  return await carriedChecksums(context.source, context.descriptors)
}

/** What a commit does with the image's xorriso session MD5s: writes them anew (as asked), or drops them (why). */
export type SessionMd5Keeping = { request: SessionMd5Request, array?: ChecksumArray } | { reason: string }

/** An image as read: what its checksums are found in. */
export interface ReadImage {
  source: ByteSource
  descriptors: DescriptorSet
}

/** Undefined when the image carries none. */
export function sessionMd5Keeping (context: ReadImage, checksums: MediaChecksums, settings: ImageSettings): SessionMd5Keeping | undefined {
  if (!hasSessionMd5(checksums)) return undefined
  // The superblock tag sums the primary descriptor, whose application-use field holds implantisomd5's
  // sum, which covers the tags: neither can be computed last.
  if (checksums.implanted !== undefined) return { reason: 'the image also carries an implantisomd5 checksum, which sums them and which they sum' }
  if (settings.udf !== undefined) return { reason: 'isomount writes them on an ISO9660 volume alone, without UDF' }
  if ((settings.partitionOffset ?? 0) > 0) return { reason: 'isomount does not write them with a partition offset' }
  if (settings.rockRidge === undefined) return { reason: 'the files\' indexes are attributes in Rock Ridge records, which the image does not have' }
  const array = checksums.sessionArray
  const superblock = checksums.sessionTags.find(t => t.tag.type === 'superblock')
  const start = superblock?.tag.rangeStart ?? 0
  // A session after 0 is extended only where xorriso -outdev put it: its descriptors copied at its start
  // + 16, the superblock tag after them, a relocated tag at 16 naming it.
  if (start > 0 && (superblock?.lba !== start + context.descriptors.terminatorLba + 1 || !checksums.sessionTags.some(t => t.tag.type === 'relocated-superblock'))) {
    return { reason: `the session at LBA ${start} is not laid out as xorriso writes one on a file` }
  }
  return { request: { start, fileIndexes: array === undefined || array.count > 2 }, array }
}

/** What a commit's result says of them (CommitResult.notes). */
export function checksumNotes (checksums: MediaChecksums, keeping: SessionMd5Keeping | undefined): string[] {
  const notes: string[] = []
  if (checksums.implanted !== undefined) notes.push('implantisomd5 checksum written afresh')
  if (keeping !== undefined) notes.push('request' in keeping ? 'xorriso session MD5s (-md5 on) written afresh' : `xorriso session MD5s (-md5 on) dropped: ${keeping.reason}`)
  return notes
}

/**
 * The MD5s of files whose data is the image's as it was read, from the image's checksum array: what
 * xorriso -md5 on does with files it takes over from the loaded image. Trusted only from an array whose
 * last entry sums the others (the array the root names, read whole) and an index the file's own record
 * gave; data changed since, or moved by an earlier commit of this model, is not ImageExtentsSource of this
 * source with that record, and is hashed as written instead. So are boot images that are patched as they
 * are written (a boot info table, GRUB's address): their bytes follow their new place.
 */
export function recordedMd5Of (context: ReadImage, layout: Layout, content: WriteContent, array: ChecksumArray | undefined): RecordedMd5 {
  if (array === undefined) return () => undefined
  const patched = new Set((content.boot !== undefined ? allBootImages(content.boot) : []).filter(i => i.bootInfoTable || i.grub2BootInfo).map(i => i.payload.holder))
  const own = createHash('md5').update(Buffer.concat(array.entries.slice(0, -1))).digest()
  if (!own.equals(array.entries[array.count - 1])) return () => undefined
  const sums = new Map<Inode, Buffer>()
  for (const dir of layout.iso.directories) {
    for (const record of dir.records) {
      const inode = record.node.inode
      const data = inode.compressed?.raw ?? inode.data
      if (record.target !== undefined || inode.kind !== 'file' || !(data instanceof ImageExtentsSource) || data.image !== context.source || patched.has(inode)) continue
      const index = checksumIndexOf(record.node)
      if (index !== undefined && index > 0 && index < array.count - 1) sums.set(inode, array.entries[index])
    }
  }
  return inode => sums.get(inode)
}

/**
 * The session MD5s of `layout` for the image `final` reads (every other byte final): the superblock copy
 * (a session after 0), then the tags and the checksum array.
 */
export async function sessionMd5Patches (
  layout: Layout, final: ByteSource, recorded: RecordedMd5, onProgress?: (done: number, total: number) => void
): Promise<Patch[]> {
  const copy = await superblockCopy(layout, final)
  const withCopy = copy !== undefined ? new JournaledByteSource(final, [copy]) : final
  return [...(copy !== undefined ? [copy] : []), ...await sessionMd5Blocks(layout, withCopy, recorded, onProgress)]
}

/** The application-use field with the sums of the image `final` reads (every other byte final already). */
export async function implantPatch (
  final: ByteSource, pvdLba: number, previous: ImplantedMd5, onProgress?: (done: number, total: number) => void
): Promise<Patch> {
  const fresh = await freshImplantedMd5(final, pvdLba, previous, onProgress)
  return { offset: applicationUseRange(pvdLba).offset, bytes: serializeImplantedMd5(fresh) }
}

/**
 * Zeroed blocks over xorriso's tags of the image, except where the bytes written from 0 up to
 * `writtenUpTo` cover them or a new tag takes the block (`taken`, LBAs).
 */
export function tagErasures (checksums: MediaChecksums, writtenUpTo: number, taken: ReadonlySet<number> = new Set()): Patch[] {
  return checksums.sessionTags
    .filter(t => t.lba * SECTOR_SIZE >= writtenUpTo && !taken.has(t.lba))
    .map(t => ({ offset: t.lba * SECTOR_SIZE, bytes: Buffer.alloc(SECTOR_SIZE) }))
}

/** The LBAs a layout's tags take (an old tag there is overwritten, not cleared). */
export function tagLbas (layout: Layout): Set<number> {
  const md5 = layout.sessionMd5
  if (md5 === undefined) return new Set()
  return new Set([md5.superblockTagLba, md5.treeTagLba, md5.sessionTagLba, ...(md5.relocatedTagLba !== undefined ? [md5.relocatedTagLba] : [])])
}
