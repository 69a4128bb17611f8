import type { Diagnostics } from '../../codec/diagnostics'
import { extentLength, type ExtentAd } from '../../codec/udf/addresses'
import {
  parseIntegrityDescriptor, parseIntegrityImplementationUse, type IntegrityImplementationUse, type LogicalVolumeIntegrityDescriptor
} from '../../codec/udf/integrity'
import { hasValidTag, TagId, tagName, verifyTag } from '../../codec/udf/tag'
import { readExactly, type ByteSource } from '../../io/byte-source'

/** Integrity descriptors followed through their `next` extents. */
const MAX_INTEGRITY_DESCRIPTORS = 256

/**
 * The prevailing integrity descriptor: the last of the integrity sequence (3/10.10, 3/8.8.2), following
 * `next` extents. Damage here costs only the counts shown, never the volume: a warning, no descriptor.
 */
export async function readIntegrity (source: ByteSource, extent: ExtentAd, blockSize: number, diag: Diagnostics): Promise<{ descriptor: LogicalVolumeIntegrityDescriptor, use?: IntegrityImplementationUse } | undefined> {
  let last: LogicalVolumeIntegrityDescriptor | undefined
  let current: ExtentAd | undefined = extent.length > 0 ? extent : undefined
  const visited = new Set<number>()
  let read = 0
  outer:
  while (current !== undefined) {
    if (visited.has(current.location)) {
      diag.warn({ structure: 'logical volume integrity descriptor', lba: current.location, field: 'next integrity extent' }, 'integrity extents lead back to an earlier one; the chain ends here')
      break
    }
    visited.add(current.location)
    const blocks = Math.ceil(current.length / blockSize)
    const start = current.location
    current = undefined
    for (let i = 0; i < blocks && read < MAX_INTEGRITY_DESCRIPTORS; i++, read++) {
      const lba = start + i
      const where = { structure: 'logical volume integrity descriptor', lba }
      if ((lba + 1) * blockSize > source.size) {
        diag.warn(where, 'the integrity sequence lies beyond the end of the image')
        break outer
      }
      const buf = await readExactly(source, lba * blockSize, blockSize, where)
      if (!hasValidTag(buf)) break outer
      const tag = verifyTag(buf, 0, { location: lba, available: buf.length }, diag, where)
      if (tag.id === TagId.TERMINATING) break outer
      if (tag.id !== TagId.INTEGRITY) {
        diag.warn({ ...where, field: 'tag identifier' }, `a ${tagName(tag.id)} in the integrity sequence; the sequence ends here`)
        break outer
      }
      last = parseIntegrityDescriptor(buf, tag, diag, where)
      if (extentLength(last.next.length) > 0) {
        current = last.next
        continue outer
      }
    }
  }
  if (last === undefined) {
    diag.warn({ structure: 'logical volume integrity descriptor', lba: extent.location }, 'no integrity descriptor could be read')
    return undefined
  }
  return { descriptor: last, use: parseIntegrityImplementationUse(last.implementationUse) }
}
