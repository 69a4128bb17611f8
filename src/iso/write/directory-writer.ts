import { recordDateFromMs } from '../codec/datetime'
import { FileFlags, serializeDirectoryRecord, type DirectoryRecord } from '../codec/directory-record'
import { serializePathTable, type PathTableRecord } from '../codec/path-table'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { serializeXaRecord } from '../codec/xa'
import type { Inode } from '../model/inode'
import { NodeFlag, type RecordLocation } from '../model/node'
import { checksumAttributesOf, rockRidgeFor, sectionsOf, treeSets, type Layout, type TreeSet } from './layout'
import type { SectorWriter } from './sector-writer'
import { renderSystemUse, type SystemUsePlan } from './system-use-plan'
import type { DirectoryPlan, RecordPlan, TreePlan } from './tree-plan'

/*
 * The ECMA-119 directory trees as bytes: path tables (9.4), directories (9.1, 6.8.1.1: no record spans a
 * sector), Rock Ridge continuation areas (SUSP 5.1), for the primary tree and the Joliet one.
 */

/**
 * For each set of trees (the volume's, and the partition's of xorriso -partition_offset): path tables,
 * the ISO9660 directories and their continuation areas, then the Joliet directories.
 */
export async function writeTrees (layout: Layout, out: SectorWriter): Promise<void> {
  for (const set of treeSets(layout)) {
    for (const tree of [set.iso, set.joliet]) {
      if (tree === undefined) continue
      const records = pathTableRecords(tree, set.base)
      await out.put(tree.pathTable.lLba, serializePathTable(records, 'L'))
      await out.put(tree.pathTable.mLba, serializePathTable(records, 'M'))
    }
    const areas: ContinuationBytes[] = []
    for (const dir of set.iso.directories) await out.put(dir.extent, isoDirectory(layout, set, dir, areas))
    await out.put(set.continuation.lba, continuationRegion(set, areas))
    for (const dir of set.joliet?.directories ?? []) await out.put(dir.extent, jolietDirectory(layout, set, dir))
  }
}

interface ContinuationBytes {
  sector: number
  offset: number
  bytes: Buffer
}

export function directoryRecord (identifier: Buffer, extent: number, dataLength: number, flags: number, mtimeMs: number, systemUse: Buffer): DirectoryRecord {
  return {
    extendedAttributeLength: 0,
    extent,
    dataLength,
    recorded: recordDateFromMs(mtimeMs),
    flags,
    fileUnitSize: 0,
    interleaveGap: 0,
    volumeSequence: 1,
    identifier,
    systemUse
  }
}

export function pathTableRecords (tree: TreePlan, base = 0): PathTableRecord[] {
  // Parent numbers beyond 16 bits are recorded as xorriso records them (codec recordedParentNumber).
  return tree.directories.map(dir => ({
    extendedAttributeLength: 0,
    extent: dir.extent - base,
    parent: dir.parent.number,
    identifier: dir.identifier
  }))
}

/** Packs records into sectors as the layout pass sized them (no record spans a sector boundary). */
class DirectoryBuffer {
  readonly bytes: Buffer
  private offset = 0

  constructor (size: number, private readonly extent: number) {
    this.bytes = Buffer.alloc(size)
  }

  /** Adds a record; returns where it went (for rewriting it in place later). */
  add (record: Buffer): RecordLocation {
    const room = SECTOR_SIZE - (this.offset % SECTOR_SIZE)
    if (record.length > room) this.offset += room
    record.copy(this.bytes, this.offset)
    const location = { lba: this.extent + Math.floor(this.offset / SECTOR_SIZE), offset: this.offset % SECTOR_SIZE, length: record.length }
    this.offset += record.length
    return location
  }
}

export function isoDirectory (layout: Layout, set: TreeSet, dir: DirectoryPlan, areas: ContinuationBytes[]): Buffer {
  const base = set.base
  const out = new DirectoryBuffer(dir.size, dir.extent)
  const systemUse = (record: RecordPlan | 'self' | 'parent', plan: SystemUsePlan | undefined): Buffer => {
    const node = record === 'self' ? dir.node : record === 'parent' ? dir.parent.node : record.node
    const xa = xaField(layout, typeof record === 'string' || (record.target !== undefined && record.role !== 'placeholder'), node.inode)
    if (plan === undefined) return xa
    const rendered = renderSystemUse(rockRidgeFor(record, dir, layout.settings, layout.links, layout.serials, base, checksumAttributesOf(layout)), plan, set.continuation.lba - base)
    // An area kept where the image has it is not written again.
    rendered.areas.forEach((bytes, i) => { if (plan.areas[i].lba === undefined) areas.push({ sector: plan.areas[i].sector, offset: plan.areas[i].offset, bytes }) })
    return evenLength(Buffer.concat([xa, rendered.inline]))
  }
  const self = dir.node.inode
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([0]), dir.extent - base, dir.size, FileFlags.DIRECTORY, self.times.mtimeMs, systemUse('self', dir.selfSystemUse))))
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([1]), dir.parent.extent - base, dir.parent.size, FileFlags.DIRECTORY, dir.parent.node.inode.times.mtimeMs, systemUse('parent', dir.parentSystemUse))))
  for (const record of dir.records) {
    const su = systemUse(record, record.systemUse)
    const locations = childRecords(layout, base, record, su).map(r => out.add(serializeDirectoryRecord(r)))
    if (record.role !== 'relocated' && base === 0) recordWritten(layout, record, 'iso', locations[0])
  }
  return out.bytes
}

/** Where each node's first record went, for a commit to rebase node origins on the new image. */
function recordWritten (layout: Layout, record: RecordPlan, tree: 'iso' | 'joliet', location: RecordLocation): void {
  const origin = layout.written.get(record.node) ?? {}
  origin[tree] = location
  layout.written.set(record.node, origin)
}

export function jolietDirectory (layout: Layout, set: TreeSet, dir: DirectoryPlan): Buffer {
  const base = set.base
  const out = new DirectoryBuffer(dir.size, dir.extent)
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([0]), dir.extent - base, dir.size, FileFlags.DIRECTORY, dir.node.inode.times.mtimeMs, xaField(layout, true, dir.node.inode))))
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([1]), dir.parent.extent - base, dir.parent.size, FileFlags.DIRECTORY, dir.parent.node.inode.times.mtimeMs, xaField(layout, true, dir.parent.node.inode))))
  for (const record of dir.records) {
    const locations = childRecords(layout, base, record, xaField(layout, record.target !== undefined, record.node.inode)).map(r => out.add(serializeDirectoryRecord(r)))
    if (base === 0) recordWritten(layout, record, 'joliet', locations[0])
  }
  return out.bytes
}

/**
 * The XA record every directory record starts its System Use field with on an XA image. By default the
 * fixed one pycdlib writes (0x0d55: readable, executable mode 2 form 1 data; 0x8000 more for directories);
 * with xaAttributes, from each entry's owner and mode, as genisoimage -XA and -xa write them.
 */
function xaField (layout: Layout, directory: boolean, inode: Inode): Buffer {
  const settings = layout.settings
  if (!settings.xa) return Buffer.alloc(0)
  if (settings.xaAttributes === undefined) return serializeXaRecord({ groupId: 0, userId: 0, attributes: directory ? 0x8d55 : 0x0d55, fileNumber: 0 })
  // genisoimage -XA: the owner (16 bits) and the read and execute bits of the mode, as XA has them (owner
  // read bit 0, execute bit 2; group 4, 6; other 8, 10); -xa: owner 0, read for all, execute for all if any.
  let mode = inode.mode
  if (settings.xaAttributes === 'rational') mode = 0o444 | ((mode & 0o111) !== 0 || directory ? 0o111 : 0)
  let bits = 0
  for (const [i, shift] of [[0, 6], [4, 3], [8, 0]]) {
    if ((mode & (0o4 << shift)) !== 0) bits |= 1 << i
    if ((mode & (0o1 << shift)) !== 0) bits |= 1 << (i + 2)
  }
  const recorded = settings.xaAttributes === 'recorded'
  return serializeXaRecord({
    groupId: recorded ? inode.gid & 0xffff : 0,
    userId: recorded ? inode.uid & 0xffff : 0,
    attributes: (directory ? 0x8000 : 0) | 0x0800 | bits,
    fileNumber: 0
  })
}

/** The record(s) of one entry: directories and placeholders one, files one per file section. */
function childRecords (layout: Layout, base: number, record: RecordPlan, systemUse: Buffer): DirectoryRecord[] {
  const node = record.node
  const visibility = node.flags & (NodeFlag.HIDDEN | NodeFlag.ASSOCIATED)
  const mtime = node.inode.times.mtimeMs
  if (record.target !== undefined) {
    const target = record.target
    // RRIP 4.1.5.1: the placeholder is a file record (Linux follows its CL); the relocated one a directory.
    if (record.role === 'placeholder') return [directoryRecord(record.identifier, target.extent - base, 0, visibility, mtime, systemUse)]
    return [directoryRecord(record.identifier, target.extent - base, target.size, FileFlags.DIRECTORY | visibility, mtime, systemUse)]
  }
  const inode = node.inode
  const sections = sectionsOf(layout, inode)
  // ECMA-119 6.5.1: every record of a multi-extent file but the last carries the multi-extent flag.
  // Files without data record extent 0 in every set: there is nothing to point at.
  return sections.map((section, i) => directoryRecord(
    record.identifier, section.length > 0 ? section.lba - base : 0, section.length, visibility | (i < sections.length - 1 ? FileFlags.MULTI_EXTENT : 0), mtime, systemUse))
}

export function continuationRegion (set: TreeSet, areas: ContinuationBytes[]): Buffer {
  const region = Buffer.alloc(set.continuation.sectors * SECTOR_SIZE)
  for (const area of areas) area.bytes.copy(region, area.sector * SECTOR_SIZE + area.offset)
  return region
}


function evenLength (bytes: Buffer): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(1)])
}
