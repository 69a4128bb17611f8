import * as fs from 'node:fs'
import { recordDateFromMs, serializeRecordDate, serializeVolumeDate, volumeDateFromMs } from '../codec/datetime'
import { FileFlags } from '../codec/directory-record'
import { writeBoth32 } from '../codec/numbers'
import { TimeFlags } from '../codec/rock-ridge'
import { parseCE, parseSuspEntries, type SuspEntry } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { xaSkip } from '../codec/xa'
import { WarningLog } from '../codec/diagnostics'
import { readExactly } from '../io/byte-source'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Node, RecordLocation } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import type { WriteContent } from '../write/layout'
import type { ImageSettings } from '../write/settings'
import { payloadsOf } from '../write/system-area-writer'
import type { CommitContext } from './context'
import { applyJournaled, type Patch } from './journal'

/*
 * In place: when every change is new content that fits the sectors a file already owns, or new
 * attributes of a file, only those bytes change: the file's data, and its directory records (size, date,
 * Rock Ridge PX and TF, same sizes as before). Several places change, so the patches go through the
 * journal.
 */

/** More than this much changed data is appended instead: the journal would hold it all twice. */
const MAX_IN_PLACE_DATA = 64 * 1024 * 1024

export type InPlacePlan = { patches: Patch[] } | { reason: string }

export async function planInPlace (
  context: CommitContext, root: Node, settings: ImageSettings, changes: ChangeSet, content: WriteContent
): Promise<InPlacePlan> {
  if (changes.structure) return { reason: 'entries were added, removed or renamed' }
  // Its file entries carry sizes, times and modes too, and the integrity descriptor counts: written whole.
  if (settings.udf !== undefined) return { reason: 'the image has a UDF file system, which is written whole (a remaster)' }
  // The partition's records (xorriso -partition_offset) carry sizes and dates too; they are rewritten by an append.
  if ((settings.partitionOffset ?? 0) > 0) return { reason: 'the image has a second directory tree for its partition (xorriso -partition_offset), which an in-place commit does not patch' }
  // Boot images and partitions follow their files: a change of one may move or resize what points at it.
  const pointedAt = new Set<unknown>([...payloadsOf(content).map(p => p.holder), content.boot?.catalog])
  const names = namesOf(root, new Set([...changes.data, ...changes.attributes]))
  const sectors = new SectorPatcher(context)
  const data: Patch[] = []
  let dataBytes = 0

  for (const inode of changes.data) {
    if (pointedAt.has(inode)) return { reason: 'a file that a boot entry or partition entry points at changed (they follow it)' }
    const overlay = inode.data
    if (!(overlay instanceof OverlayData) || !(overlay.base instanceof ImageExtentsSource) || overlay.base.image !== context.source) {
      return { reason: 'a file has no place in the image yet' }
    }
    const sections = overlay.base.sections
    if (sections.length !== 1 || sections[0].unitSize !== 0) return { reason: 'a changed file is multi-extent or interleaved' }
    const owned = Math.ceil(sections[0].length / SECTOR_SIZE) * SECTOR_SIZE
    if (overlay.size > owned) return { reason: `a file grew past the ${owned} bytes its extent holds` }
    for (const [start, end] of overlay.changedRanges()) {
      dataBytes += end - start
      if (dataBytes > MAX_IN_PLACE_DATA) return { reason: 'more changed data than an in-place commit journals' }
      const bytes = Buffer.alloc(end - start)
      await overlay.read(bytes, 0, bytes.length, start)
      data.push({ offset: sections[0].lba * SECTOR_SIZE + start, bytes })
    }
  }
  for (const inode of new Set([...changes.data, ...changes.attributes])) {
    if (inode.kind === 'directory') return { reason: 'a directory\'s attributes changed (its "." and ".." records follow it)' }
    for (const node of names.get(inode) ?? []) {
      const reason = await patchRecords(sectors, node, settings, changes.data.has(inode))
      if (reason !== undefined) return { reason }
    }
  }
  return { patches: [...sectors.patches(), ...data].sort((a, b) => a.offset - b.offset) }
}

/**
 * Writes the patches through the journal, even a single run: a kill cannot tear one write, but a power
 * cut can tear a write of several sectors.
 */
export function applyInPlace (context: CommitContext, patches: readonly Patch[]): number {
  const runs = coalesce(patches)
  const fd = fs.openSync(context.path, 'r+')
  try {
    applyJournaled(context.path, fd, runs)
  } finally {
    fs.closeSync(fd)
  }
  return runs.reduce((sum, r) => sum + r.bytes.length, 0)
}

/** Adjacent or overlapping patches merged, later ones winning. */
function coalesce (patches: readonly Patch[]): Patch[] {
  const runs: Patch[] = []
  for (const p of [...patches].sort((a, b) => a.offset - b.offset)) {
    const last = runs[runs.length - 1]
    if (last !== undefined && p.offset <= last.offset + last.bytes.length) {
      const end = Math.max(last.offset + last.bytes.length, p.offset + p.bytes.length)
      const merged = Buffer.alloc(end - last.offset)
      last.bytes.copy(merged)
      p.bytes.copy(merged, p.offset - last.offset)
      runs[runs.length - 1] = { offset: last.offset, bytes: merged }
    } else {
      runs.push(p)
    }
  }
  return runs
}

/** Every name (node) in the tree of each of `inodes`: a changed file's hard links need patching too. */
function namesOf (root: Node, inodes: Set<Inode>): Map<Inode, Node[]> {
  const map = new Map<Inode, Node[]>()
  const stack: Node[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    for (const child of node.dir?.peek() ?? []) {
      if (inodes.has(child.inode)) {
        const names = map.get(child.inode)
        if (names === undefined) map.set(child.inode, [child])
        else names.push(child)
      }
      if (child.dir !== undefined) stack.push(child)
    }
  }
  return map
}

/** Metadata sectors read once, changed in memory, written back whole. */
class SectorPatcher {
  private readonly sectors = new Map<number, Buffer>()

  constructor (private readonly context: CommitContext) {}

  async at (position: number, length: number): Promise<Buffer> {
    const lba = Math.floor(position / SECTOR_SIZE)
    if (Math.floor((position + length - 1) / SECTOR_SIZE) !== lba) throw new Error('a record field spans sectors')
    let sector = this.sectors.get(lba)
    if (sector === undefined) {
      sector = await readExactly(this.context.source, lba * SECTOR_SIZE, SECTOR_SIZE, { structure: 'directory sector', lba })
      this.sectors.set(lba, sector)
    }
    const offset = position - lba * SECTOR_SIZE
    return sector.subarray(offset, offset + length)
  }

  patches (): Patch[] {
    return [...this.sectors].map(([lba, bytes]) => ({ offset: lba * SECTOR_SIZE, bytes }))
  }
}

/** Rewrites a node's ISO9660 and Joliet records for new size, date and Rock Ridge PX/TF; or says why not. */
async function patchRecords (sectors: SectorPatcher, node: Node, settings: ImageSettings, sizeChanged: boolean): Promise<string | undefined> {
  const inode = node.inode
  for (const tree of ['iso', 'joliet'] as const) {
    const location = node.origin?.[tree]
    if (location === undefined) {
      if ((tree === 'iso' ? node.names.iso : node.names.joliet) !== undefined) return 'a record\'s place in the image is unknown'
      continue
    }
    const record = await sectors.at(location.lba * SECTOR_SIZE + location.offset, location.length)
    if (record[0] !== location.length || (record[25] & FileFlags.MULTI_EXTENT) !== 0) return 'a directory record is not where it was read'
    if (sizeChanged) writeBoth32(record, 10, inode.data.size)
    serializeRecordDate(recordDateFromMs(inode.times.mtimeMs), record, 18)
    if (tree === 'iso' && settings.rockRidge !== undefined) {
      const reason = await patchRockRidge(sectors, location, record, inode)
      if (reason !== undefined) return reason
    }
  }
  return undefined
}

async function patchRockRidge (sectors: SectorPatcher, location: RecordLocation, record: Buffer, inode: Inode): Promise<string | undefined> {
  const idLength = record[32]
  const suStart = 33 + idLength + (idLength % 2 === 0 ? 1 : 0)
  const skip = xaSkip(record.subarray(suStart))
  const fields = await locate(sectors, record.subarray(suStart + skip), location.lba * SECTOR_SIZE + location.offset + suStart + skip)
  const px = fields.find(f => f.entry.signature === 'PX')
  const tf = fields.find(f => f.entry.signature === 'TF')
  if (inode.posix && px === undefined) return 'a record has no Rock Ridge PX entry to hold the new mode'
  if (px !== undefined) {
    const data = await sectors.at(px.position + 4, 32)
    writeBoth32(data, 0, inode.mode >>> 0)
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
      const field = await sectors.at(at, size)
      if (long) serializeVolumeDate(volumeDateFromMs(ms), field, 0)
      else serializeRecordDate(recordDateFromMs(ms), field, 0)
    }
    at += size
  }
  return undefined
}

/** SUSP entries with their absolute byte positions, following CE continuation areas (SUSP 5.1). */
async function locate (sectors: SectorPatcher, field: Buffer, position: number): Promise<Array<{ entry: SuspEntry, position: number }>> {
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
    area = Buffer.from(await sectors.at(base, next.length))
  }
  return found
}
