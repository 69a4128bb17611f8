import type { ByteSource } from '../io/byte-source'
import type { Inode } from '../model/inode'
import type { Node } from '../model/node'
import type { DescriptorSet } from '../read/descriptors'
import { checkImplantedMd5 } from './implanted-md5'
import { checkSessionMd5, checksumIndexOf, findChecksumTags, md5OfData, readChecksumArray } from './session-md5'

/*
 * Every checksum an image carries, checked: implantisomd5's (installers' "check media"), xorriso's
 * checksum tags, its session MD5 and its per-file MD5s. Each is PASS, FAIL or NA (the image has none).
 */

export type ChecksumStatus = 'PASS' | 'FAIL' | 'NA'

export interface ChecksumCheck {
  /** What was checked: "implantisomd5", "xorriso superblock tag", "xorriso file MD5s", … */
  name: string
  status: ChecksumStatus
  detail: string
}

export interface ChecksumProgress {
  phase: string
  done: number
  total: number
}

export interface VerifyInput {
  source: ByteSource
  descriptors: DescriptorSet
  walk: () => AsyncIterable<{ path: string, node: Node }>
}

const TAG_NAMES = { superblock: 'superblock tag', tree: 'tree tag', session: 'session tag', 'relocated-superblock': 'relocated superblock tag' }

export async function verifyChecksums (input: VerifyInput, onProgress?: (progress: ChecksumProgress) => void): Promise<ChecksumCheck[]> {
  const { source, descriptors } = input
  const progress = (phase: string) => (done: number, total: number) => onProgress?.({ phase, done, total })
  const checks: ChecksumCheck[] = []

  const implanted = await checkImplantedMd5(source, descriptors.primaryLba, descriptors.primary.applicationUse, progress('implantisomd5'))
  checks.push({
    name: 'implantisomd5',
    status: implanted.status,
    detail: implanted.status === 'NA'
      ? 'no implantisomd5 checksum in the primary volume descriptor'
      : implanted.status === 'PASS'
        ? `MD5 ${implanted.computed?.md5 ?? ''} and ${implanted.recorded?.fragmentCount ?? 0} fragment sums match`
        : `recorded MD5 ${implanted.recorded?.md5 ?? ''} (fragments ${implanted.recorded?.fragmentSums ?? ''}), computed ${implanted.computed?.md5 ?? ''} (fragments ${implanted.computed?.fragmentSums ?? ''})`
  })

  const tags = await findChecksumTags(source, descriptors)
  const array = await readChecksumArray(source, descriptors)
  const session = await checkSessionMd5(source, tags, array, progress('xorriso session'))
  if (session.tags.length === 0) checks.push({ name: 'xorriso checksum tags', status: 'NA', detail: 'none (xorriso -md5 on writes them)' })
  for (const t of session.tags) {
    checks.push({
      name: `xorriso ${TAG_NAMES[t.tag.type]}`,
      status: t.status,
      detail: t.status === 'PASS' ? `LBA ${t.lba}: blocks ${t.tag.rangeStart}-${t.tag.rangeStart + t.tag.rangeSize - 1} match` : `LBA ${t.lba}: ${t.reason ?? ''}`
    })
  }
  checks.push(session.array === undefined
    ? { name: 'xorriso session MD5', status: 'NA', detail: 'no checksum array (isofs.ca)' }
    : { name: 'xorriso session MD5', status: session.array.status, detail: session.array.reason ?? `blocks ${session.array.start}-${session.array.end - 1} match the checksum array` })

  if (array === undefined) {
    checks.push({ name: 'xorriso file MD5s', status: 'NA', detail: 'no checksum array (isofs.ca)' })
    return checks
  }
  const seen = new Set<Inode>()
  const failed: string[] = []
  let count = 0
  for await (const { path, node } of input.walk()) {
    if (node.inode.kind !== 'file' || seen.has(node.inode)) continue
    seen.add(node.inode)
    const index = checksumIndexOf(node)
    if (index === undefined) continue
    count++
    const data = node.inode.compressed?.raw ?? node.inode.data
    const recorded = index > 0 && index < array.count - 1 ? array.entries[index].toString('hex') : undefined
    if (recorded === undefined || await md5OfData(data) !== recorded) failed.push(path)
    onProgress?.({ phase: 'xorriso file MD5s', done: count, total: array.count - 2 })
  }
  checks.push({
    name: 'xorriso file MD5s',
    status: count === 0 ? 'NA' : failed.length === 0 ? 'PASS' : 'FAIL',
    detail: count === 0
      ? 'no file carries an index into the checksum array (isofs.cx)'
      : failed.length === 0 ? `${count} files match` : `${failed.length} of ${count} files differ: ${failed.slice(0, 10).join(', ')}${failed.length > 10 ? ', …' : ''}`
  })
  return checks
}
