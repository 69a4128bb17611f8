import type { ImageLocation } from '../../../errors'
import type { Diagnostics } from '../diagnostics'
import { parseExtentAd, serializeExtentAd, type ExtentAd } from './addresses'
import { sealDescriptor, serializeTag, TagId, verifyTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 3/10.2: the anchor volume descriptor pointer, recorded at sector 256 and at the last sector
 * (and usually at last − 256) of the volume: where the main and reserve volume descriptor sequences are.
 */

export const ANCHOR_SIZE = 512
/** UDF 2.2.3: the main sequence is at least 16 sectors long (32 KiB). */
export const MIN_SEQUENCE_LENGTH = 16

export interface AnchorVolumeDescriptorPointer {
  tag: DescriptorTag
  main: ExtentAd
  reserve: ExtentAd
  reserved: Buffer
}

export function parseAnchor (buf: Buffer, location: number, diag: Diagnostics, where: ImageLocation): AnchorVolumeDescriptorPointer {
  const tag = verifyTag(buf, 0, { id: TagId.ANCHOR, location, available: Math.min(buf.length, ANCHOR_SIZE) }, diag, where)
  return {
    tag,
    main: parseExtentAd(buf, 16),
    reserve: parseExtentAd(buf, 24),
    reserved: buf.subarray(32, ANCHOR_SIZE)
  }
}

export function serializeAnchor (avdp: AnchorVolumeDescriptorPointer): Buffer {
  const buf = Buffer.alloc(ANCHOR_SIZE)
  serializeTag(avdp.tag, buf)
  serializeExtentAd(avdp.main, buf, 16)
  serializeExtentAd(avdp.reserve, buf, 24)
  avdp.reserved.copy(buf, 32)
  sealDescriptor(buf, 0, avdp.tag.crcLength)
  return buf
}
