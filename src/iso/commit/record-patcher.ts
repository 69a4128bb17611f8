import { InvalidImageError } from '../../errors'
import { recordDateFromMs, serializeRecordDate, serializeVolumeDate, volumeDateFromMs } from '../codec/datetime'
import { FileFlags } from '../codec/directory-record'
import { writeBoth32 } from '../codec/numbers'
import { TimeFlags } from '../codec/rock-ridge'
import { parseCE, parseSuspEntries, type SuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { xaSkip } from '../codec/xa'
import { WarningLog } from '../codec/diagnostics'
import { readExactly, type ByteSource } from '../io/byte-source'
import type { Inode } from '../model/inode'
import type { RecordLocation } from '../model/node'
import type { Patch } from './journal'

/*
 * Directory records rewritten where they are, field by field, when what they say changed but not their
 * shape: extent and data length (ECMA-119 9.1.3, 9.1.4), recording date (9.1.5), and the Rock Ridge PX
 * (mode, links, owners: RRIP 4.1.1) and TF (times: 4.1.6) entries, inline or in a continuation area
 * (SUSP 5.1). Whatever needs a record of another size (an entry that is not there, another number of
 * sections) is refused with the reason: the caller then writes the record's directory again instead.
 */

/** What a record says about what it names, as the model has it now. */
export interface RecordFacts {
  /** Where the data (or the directory) is now and its length; undefined: unchanged. */
  extent?: number
  dataLength?: number
  inode: Inode
  /** The link count PX records (directories: 2 + subdirectories). */
  links: number
  /** Whether the tree has Rock Ridge entries to patch (the ISO9660 tree of a Rock Ridge image). */
  rockRidge: boolean
}

/** Metadata sectors read once, changed in memory, and handed out (only those that changed) as patches. */
export class RecordPatcher {
  private readonly sectors = new Map<number, { now: Buffer, before: Buffer }>()

  constructor (private readonly source: ByteSource) {}

  /** Patches the record read at `location` (a file's first record, or a directory's record in its parent). */
  async patch (location: RecordLocation, facts: RecordFacts): Promise<string | undefined> {
    const record = await this.at(location.lba * SECTOR_SIZE + location.offset, location.length)
    if (record[0] !== location.length) return 'a directory record is not where it was read'
    if ((record[25] & FileFlags.MULTI_EXTENT) !== 0) return 'a multi-extent file\'s records'
    return await this.patchRecord(record, location, facts)
  }

  /**
   * Patches the "." (which 0) or ".." (which 1) record of the directory whose extent starts at `extent`
   * (ECMA-119 6.8.2.2: they are its first two records).
   */
  async patchSelfOrParent (extent: number, which: 0 | 1, facts: RecordFacts): Promise<string | undefined> {
    const sector = await this.at(extent * SECTOR_SIZE, SECTOR_SIZE)
    let offset = 0
    if (which === 1) offset = sector[0]
    const length = sector[offset]
    if (offset + length > SECTOR_SIZE || length < 34 || sector[offset + 32] !== 1 || sector[offset + 33] !== which ||
        (sector[offset + 25] & FileFlags.DIRECTORY) === 0) {
      return `the directory at LBA ${extent} does not start with its "." and ".." records`
    }
    const location = { lba: extent, offset, length }
    return await this.patchRecord(sector.subarray(offset, offset + length), location, facts)
  }

  /** Every sector that changed, whole. */
  patches (): Patch[] {
    const out: Patch[] = []
    for (const [lba, { now, before }] of this.sectors) if (!now.equals(before)) out.push({ offset: lba * SECTOR_SIZE, bytes: now })
    return out
  }

  private async patchRecord (record: Buffer, location: RecordLocation, facts: RecordFacts): Promise<string | undefined> {
    if (facts.extent !== undefined) writeBoth32(record, 2, facts.extent)
    if (facts.dataLength !== undefined) writeBoth32(record, 10, facts.dataLength)
    serializeRecordDate(recordDateFromMs(facts.inode.times.mtimeMs), record, 18)
    if (!facts.rockRidge) return undefined
    return await this.patchRockRidge(location, record, facts)
  }

  private async patchRockRidge (location: RecordLocation, record: Buffer, facts: RecordFacts): Promise<string | undefined> {
    const inode = facts.inode
    const idLength = record[32]
    const suStart = 33 + idLength + (idLength % 2 === 0 ? 1 : 0)
    const skip = xaSkip(record.subarray(suStart))
    const fields = await this.locate(record.subarray(suStart + skip), location.lba * SECTOR_SIZE + location.offset + suStart + skip)
    const px = fields.find(f => f.entry.signature === 'PX')
    const tf = fields.find(f => f.entry.signature === 'TF')
    if (inode.posix && px === undefined) return 'a record has no Rock Ridge PX entry to hold the new mode'
    if (px !== undefined) {
      const data = await this.at(px.position + 4, 32)
      writeBoth32(data, 0, inode.mode >>> 0)
      writeBoth32(data, 8, facts.links >>> 0)
      writeBoth32(data, 16, inode.uid >>> 0)
      writeBoth32(data, 24, inode.gid >>> 0)
    }
    if (tf === undefined) return 'a record has no Rock Ridge TF entry to hold the new times'
    const flags = tf.entry.data[0]
    if ((flags & TimeFlags.MODIFY) === 0) return 'a record\'s TF entry has no modification time'
    const long = (flags & TimeFlags.LONG_FORM) !== 0
    const size = long ? 17 : 7
    let at = tf.position + 5
    const stamps: Array<[number, number | undefined]> = [
      [TimeFlags.CREATION, undefined], [TimeFlags.MODIFY, inode.times.mtimeMs], [TimeFlags.ACCESS, inode.times.atimeMs],
      [TimeFlags.ATTRIBUTES, inode.times.ctimeMs], [TimeFlags.BACKUP, undefined], [TimeFlags.EXPIRATION, undefined], [TimeFlags.EFFECTIVE, undefined]
    ]
    for (const [flag, ms] of stamps) {
      if ((flags & flag) === 0) continue
      if (ms !== undefined) {
        const field = await this.at(at, size)
        if (long) serializeVolumeDate(volumeDateFromMs(ms), field, 0)
        else serializeRecordDate(recordDateFromMs(ms), field, 0)
      }
      at += size
    }
    return undefined
  }

  /** SUSP entries with their absolute byte positions, following CE continuation areas (SUSP 5.1). */
  private async locate (field: Buffer, position: number): Promise<Array<{ entry: SuspEntry, position: number }>> {
    const found: Array<{ entry: SuspEntry, position: number }> = []
    const diag = new WarningLog(false)
    let area = field
    let base = position
    for (let hop = 0; hop < 64; hop++) {
      let offset = 0
      let next: { block: number, offset: number, length: number } | undefined
      for (const entry of parseSuspEntries(area, diag, { structure: 'SUSP' })) {
        if (entry.signature === 'CE') next = parseCE(entry, diag, { structure: 'CE' })
        else found.push({ entry, position: base + offset })
        offset += 4 + entry.data.length
      }
      if (next === undefined) break
      base = next.block * SECTOR_SIZE + next.offset
      area = Buffer.from(await this.at(base, next.length))
    }
    return found
  }

  /** `length` bytes at byte `position`, within one sector, as a view of the sector to change. */
  private async at (position: number, length: number): Promise<Buffer> {
    const lba = Math.floor(position / SECTOR_SIZE)
    if (Math.floor((position + length - 1) / SECTOR_SIZE) !== lba) {
      // ECMA-119 6.8.1.1 and SUSP 5.1 keep records and continuation areas within a sector.
      throw new InvalidImageError('IMAGE_BAD_RECORD', `${length} bytes at byte ${position} span a sector boundary`, { structure: 'directory record', lba })
    }
    let sector = this.sectors.get(lba)
    if (sector === undefined) {
      const now = await readExactly(this.source, lba * SECTOR_SIZE, SECTOR_SIZE, { structure: 'directory sector', lba })
      sector = { now, before: Buffer.from(now) }
      this.sectors.set(lba, sector)
    }
    const offset = position - lba * SECTOR_SIZE
    return sector.now.subarray(offset, offset + length)
  }
}
