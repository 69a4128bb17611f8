import { CE_ENTRY_LENGTH, makeCE, serializeSuspEntry, suspEntryLength, type SuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'

/*
 * How one record's SUSP entries are placed: as many as fit in the record's System Use field, the rest in
 * continuation areas (SUSP 5.1) chained by CE entries. Each area lies within one sector (genisoimage and
 * Linux both assume so), so a record with more than a sector of entries gets a chain of areas.
 */

export interface ContinuationArea {
  /** Sector index within the continuation region (its LBA is known only after allocation). */
  sector: number
  offset: number
  length: number
  /** An area kept where the image has it (its bytes unchanged), outside the region: its absolute LBA. */
  lba?: number
}

export interface SystemUsePlan {
  /** Number of entries recorded inline, then one CE if there are areas. */
  inlineCount: number
  inlineLength: number
  /** For each area, how many entries it holds (then a CE if another area follows). */
  areaCounts: number[]
  areas: ContinuationArea[]
}

/** Hands out space in the continuation region, packing areas of many records into shared sectors. */
export class ContinuationAllocator {
  sectors = 0
  private used = SECTOR_SIZE

  allocate (length: number): ContinuationArea {
    if (this.used + length > SECTOR_SIZE) {
      this.sectors++
      this.used = 0
    }
    const area = { sector: this.sectors - 1, offset: this.used, length }
    // Areas start at even offsets, as records do.
    this.used += length + (length % 2)
    return area
  }
}

/** Splits `entries` for a record whose System Use field may hold `inlineMax` bytes. */
export function planSystemUse (entries: readonly SuspEntry[], inlineMax: number, allocator: ContinuationAllocator): SystemUsePlan {
  const lengths = entries.map(suspEntryLength)
  const total = lengths.reduce((a, b) => a + b, 0)
  if (total <= inlineMax) return { inlineCount: entries.length, inlineLength: total, areaCounts: [], areas: [] }
  let inlineCount = 0
  let inlineLength = 0
  while (inlineCount < entries.length && inlineLength + lengths[inlineCount] + CE_ENTRY_LENGTH <= inlineMax) {
    inlineLength += lengths[inlineCount++]
  }
  const areaCounts: number[] = []
  const areas: ContinuationArea[] = []
  let next = inlineCount
  while (next < entries.length) {
    let count = 0
    let length = 0
    while (next + count < entries.length) {
      const remaining = entries.length - (next + count)
      const needed = lengths[next + count] + (remaining > 1 ? CE_ENTRY_LENGTH : 0)
      if (length + needed > SECTOR_SIZE && count > 0) break
      length += lengths[next + count]
      count++
    }
    const more = next + count < entries.length
    if (more) length += CE_ENTRY_LENGTH
    areaCounts.push(count)
    areas.push(allocator.allocate(length))
    next += count
  }
  return { inlineCount, inlineLength: inlineLength + CE_ENTRY_LENGTH, areaCounts, areas }
}

/**
 * The bytes of the inline field and of each area, with CE entries pointing at the areas' final places.
 * `entries` must be the same list (with real LBAs filled in) the plan was made from.
 */
export function renderSystemUse (
  entries: readonly SuspEntry[], plan: SystemUsePlan, regionLba: number
): { inline: Buffer, areas: Buffer[] } {
  const ceTo = (area: ContinuationArea): Buffer => serializeSuspEntry(makeCE({
    block: area.lba ?? regionLba + area.sector, offset: area.offset, length: area.length
  }))
  const inlineParts = entries.slice(0, plan.inlineCount).map(serializeSuspEntry)
  if (plan.areas.length > 0) inlineParts.push(ceTo(plan.areas[0]))
  const areas: Buffer[] = []
  let next = plan.inlineCount
  plan.areas.forEach((_area, i) => {
    const parts = entries.slice(next, next + plan.areaCounts[i]).map(serializeSuspEntry)
    next += plan.areaCounts[i]
    if (i + 1 < plan.areas.length) parts.push(ceTo(plan.areas[i + 1]))
    areas.push(Buffer.concat(parts))
  })
  return { inline: Buffer.concat(inlineParts), areas }
}
