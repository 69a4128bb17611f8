import type { ImageLocation } from '../../errors'
import { forgiving, forgivingAsync, type Diagnostics } from '../codec/diagnostics'
import { parseCE, parseSuspEntries, type ContinuationArea, type SuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { xaSkip } from '../codec/xa'
import type { SectorCache } from './sector-cache'

/** Bounds a record's SUSP data, continuation areas included: far above the 255-byte NM and 4 KiB SL needs. */
const MAX_SYSTEM_USE_BYTES = 64 * 1024
const MAX_CONTINUATIONS = 256

/** SUSP entries read so far, and the continuation area the last CE named (none: the entries are complete). */
export interface SystemUseEntries {
  entries: SuspEntry[]
  next?: ContinuationArea
  /** The bytes of the areas read so far (bounded by MAX_SYSTEM_USE_BYTES). */
  bytes: number
}

/**
 * All SUSP entries of one record: its System Use field (after any XA record and the SP skip bytes,
 * SUSP 5.3) and the
 * continuation areas CE entries chain to (SUSP 5.1), with loops and runaway chains cut off.
 * CE entries themselves are consumed, not returned.
 */
export async function collectSystemUse (
  systemUse: Buffer, skip: number, sectors: SectorCache, diag: Diagnostics, where: ImageLocation
): Promise<SuspEntry[]> {
  return await continueSystemUse(ownSystemUse(systemUse, skip, diag, where), sectors, diag, where)
}

/**
 * The entries of a record's own System Use field, read without any I/O: most records have no CE, and a
 * directory of a thousand of them is parsed without a thousand promises.
 */
export function ownSystemUse (systemUse: Buffer, skip: number, diag: Diagnostics, where: ImageLocation): SystemUseEntries {
  // A CD-XA record comes first where present. genisoimage -XA counts it in the SP skip length, pycdlib
  // does not (SP skip 0); either way the entries start after it.
  const area = systemUse.subarray(Math.min(Math.max(xaSkip(systemUse), skip), systemUse.length))
  const found: SystemUseEntries = { entries: [], bytes: 0 }
  addAreaEntries(found, area, diag, where)
  return found
}

/** Follows the continuation chain of `found` (if any), adding its entries. */
export async function continueSystemUse (
  found: SystemUseEntries, sectors: SectorCache, diag: Diagnostics, where: ImageLocation
): Promise<SuspEntry[]> {
  let areaWhere = where
  const seen = new Set<string>()
  for (let hop = 0; ; hop++) {
    const next = found.next
    if (next === undefined) return found.entries
    found.next = undefined
    const key = `${next.block}:${next.offset}`
    const ceWhere: ImageLocation = { structure: 'SUSP continuation area', lba: next.block, offset: next.offset }
    if (seen.has(key) || hop >= MAX_CONTINUATIONS) {
      diag.warn(ceWhere, 'continuation chain loops or is too long; rest ignored')
      return found.entries
    }
    if (next.offset >= SECTOR_SIZE || found.bytes + next.length > MAX_SYSTEM_USE_BYTES) {
      diag.warn(ceWhere, `continuation area (offset ${next.offset}, length ${next.length}) out of bounds; ignored`)
      return found.entries
    }
    if ((next.block * SECTOR_SIZE) + next.offset + next.length > sectors.size) {
      // Seen in damaged images: the entries already read (a PX, the start of a name) are still good.
      diag.warn({ ...areaWhere, field: 'CE block location' },
        `continuation area at LBA ${next.block} lies beyond the end of the image (${sectors.size} bytes); ignored`)
      return found.entries
    }
    seen.add(key)
    const read = await forgivingAsync(diag, 'continuation ignored',
      async () => await sectors.readRange(next.block, next.offset, next.length, ceWhere))
    if (read === undefined) return found.entries
    areaWhere = ceWhere
    addAreaEntries(found, read, diag, areaWhere)
  }
}

/** The entries of one area into `found`; a CE among them becomes `found.next` (the last good one wins). */
function addAreaEntries (found: SystemUseEntries, area: Buffer, diag: Diagnostics, where: ImageLocation): void {
  found.bytes += area.length
  for (const entry of parseSuspEntries(area, diag, where)) {
    if (entry.signature === 'CE') {
      // A CE too short for its fields is skipped; the entries around it still count.
      found.next = forgiving(diag, 'continuation ignored', () => parseCE(entry, diag, where)) ?? found.next
    } else {
      found.entries.push(entry)
    }
  }
}
