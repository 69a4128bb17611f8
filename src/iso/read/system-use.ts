import type { ImageLocation } from '../../errors'
import { forgiving, forgivingAsync, type Diagnostics } from '../codec/diagnostics'
import { parseCE, parseSuspEntries, type SuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { xaSkip } from '../codec/xa'
import type { SectorCache } from './sector-cache'

/** Bounds a record's SUSP data, continuation areas included: far above the 255-byte NM and 4 KiB SL needs. */
const MAX_SYSTEM_USE_BYTES = 64 * 1024
const MAX_CONTINUATIONS = 256

/**
 * All SUSP entries of one record: its System Use field (after any XA record and the SP skip bytes,
 * SUSP 5.3) and the
 * continuation areas CE entries chain to (SUSP 5.1), with loops and runaway chains cut off.
 * CE entries themselves are consumed, not returned.
 */
export async function collectSystemUse (
  systemUse: Buffer, skip: number, sectors: SectorCache, diag: Diagnostics, where: ImageLocation
): Promise<SuspEntry[]> {
  const entries: SuspEntry[] = []
  // A CD-XA record comes first where present. genisoimage -XA counts it in the SP skip length, pycdlib
  // does not (SP skip 0); either way the entries start after it.
  let area = systemUse.subarray(Math.min(Math.max(xaSkip(systemUse), skip), systemUse.length))
  let areaWhere = where
  const seen = new Set<string>()
  let total = area.length
  for (let hop = 0; ; hop++) {
    let next: { block: number, offset: number, length: number } | undefined
    for (const entry of parseSuspEntries(area, diag, areaWhere)) {
      if (entry.signature === 'CE') {
        // A CE too short for its fields is skipped; the entries around it still count.
        next = forgiving(diag, 'continuation ignored', () => parseCE(entry, diag, areaWhere)) ?? next
      } else {
        entries.push(entry)
      }
    }
    if (next === undefined) return entries
    const key = `${next.block}:${next.offset}`
    const ceWhere: ImageLocation = { structure: 'SUSP continuation area', lba: next.block, offset: next.offset }
    if (seen.has(key) || hop >= MAX_CONTINUATIONS) {
      diag.warn(ceWhere, 'continuation chain loops or is too long; rest ignored')
      return entries
    }
    total += next.length
    if (next.offset >= SECTOR_SIZE || total > MAX_SYSTEM_USE_BYTES) {
      diag.warn(ceWhere, `continuation area (offset ${next.offset}, length ${next.length}) out of bounds; ignored`)
      return entries
    }
    if ((next.block * SECTOR_SIZE) + next.offset + next.length > sectors.size) {
      // Seen in damaged images: the entries already read (a PX, the start of a name) are still good.
      diag.warn({ ...areaWhere, field: 'CE block location' },
        `continuation area at LBA ${next.block} lies beyond the end of the image (${sectors.size} bytes); ignored`)
      return entries
    }
    seen.add(key)
    const ce = next
    const read = await forgivingAsync(diag, 'continuation ignored',
      async () => await sectors.readRange(ce.block, ce.offset, ce.length, ceWhere))
    if (read === undefined) return entries
    area = read
    areaWhere = ceWhere
  }
}
