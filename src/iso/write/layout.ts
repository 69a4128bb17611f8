import { InvalidInputError } from '../../errors'
import { bootCatalogSize } from '../codec/el-torito'
import { recordLength } from '../codec/directory-record'
import { pathTableRecordLength } from '../codec/path-table'
import { CE_ENTRY_LENGTH, type SuspEntry } from '../codec/susp'
import { CHECKSUM_ATTRIBUTES, checksumIndexAttribute, serializeAttributeList, serializeChecksumArrayAttribute, withAttributes, withoutAttributes } from '../codec/aaip'
import { XA_RECORD_SIZE } from '../codec/xa'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { BootConfiguration } from '../model/boot'
import type { DataSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Node, Origin } from '../model/node'
import { Region, type Payload } from '../model/payload'
import type { SystemAreaModel } from '../model/system-area'
import { payloadsOf, trailerBlocks } from './system-area-writer'
import { rockRidgeEntries, type RecordRole as RockRidgeRole } from './rock-ridge-entries'
import type { ImageSettings } from './settings'
import { ContinuationAllocator, planSystemUse } from './system-use-plan'
import { planIsoTree, planJolietTree, type DirectoryPlan, type RecordPlan, type TreePlan } from './tree-plan'
import { PARTITION_START, placeUdf, recognitionEnd, type UdfLayout } from './udf/layout'
import { planUdfTree } from './udf/tree-plan'

/*
 * The layout pass: decides where everything goes before a byte is written, so the size is known up front
 * (to check free space and report progress) and serialization is a straight walk in LBA order.
 *
 *   0-15   system area (MBR, GPT, APM)             descriptors from 16: primary, boot record, enhanced,
 *   Joliet, terminator; boot catalog; path tables; ISO9660 directories; Rock Ridge continuation areas;
 *   Joliet directories; boot images; file data; padding. That is the volume's data; after it come the
 *   appended partitions (outside every tree, as xorriso -append_partition places them), the alignment of
 *   hybrid images, and the backup GPT in the last blocks.
 */

/** A file section may not reach 4 GiB (its length is 32-bit); xorriso cuts at 4 GiB - 2 KiB, as do we. */
export const MAX_SECTION = 0xfffff800
/** A directory record is at most 255 bytes and starts at an even offset (ECMA-119 9.1). */
const MAX_RECORD = 254

export interface FileSectionPlan {
  lba: number
  length: number
}

/** What the layout places besides directories: file data and regions no tree names (model/payload.ts). */
export type Placed = Inode | Region

export interface WriteContent {
  boot?: BootConfiguration
  systemArea?: SystemAreaModel
  /** Sectors of zeros after the data (genisoimage pads 150). */
  paddingSectors: number
  /** xorriso's session checksums (-md5 on) to write anew, as the image being written had them. */
  sessionMd5?: SessionMd5Request
}

/**
 * xorriso -md5 on's checksums of a session (libisofs doc/checksums.txt), to be written: the session's
 * start, and whether files carry their index into the checksum array ("isofs.cx"), as the image's did.
 */
export interface SessionMd5Request {
  /**
   * The session's first sector: 0 for an image written whole (xorriso -as mkisofs --md5 writes so) and
   * for an append to one, which extends that session; for an append to an image whose session is not at
   * 0 (xorriso -outdev writes its first at 32, a copy of its superblock at 0 naming it), a new session
   * where xorriso -dev would start it (commit/append.ts nextSessionStart), or the image's session again,
   * extended, where that is not possible.
   */
  start: number
  fileIndexes: boolean
  /**
   * The session is a new one after the image's (an append to an image whose session is not at 0, as
   * xorriso -dev grows one): the sessions before it are left as they are, their tags valid.
   */
  newSession?: boolean
}

/**
 * Where the checksum tags and array go (write/session-md5.ts fills them in once every other byte is
 * written): the superblock tag right after the session's descriptors, the tree tag after the
 * directories, the checksum array and the session tag after the file data. A session that does not start
 * at 0 has a copy of the descriptors at its start + 16 and a "relocated superblock" tag after the ones
 * at 16.
 */
export interface SessionMd5Layout extends SessionMd5Request {
  superblockCopyLba?: number
  relocatedTagLba?: number
  superblockTagLba: number
  treeTagLba: number
  arrayLba: number
  /** Entry 0 (the session), one per indexed file, and the last (the sum of the others). */
  arrayCount: number
  sessionTagLba: number
  /** Each file's index into the array (1 up), in the order its data is written. */
  indexes: Map<Inode, number>
}

/** What the AAIP attributes of xorriso's checksums say: a file's index (none: no "isofs.cx"), the root's array. */
export interface ChecksumAttributes {
  index?: (inode: Inode) => number | undefined
  array: { start: number, end: number, count: number }
}

/**
 * The padding genisoimage (-pad, its default) and xorriso (-padding 300k) end a volume with: readers read
 * ahead of the last file. GRUB's BIOS CD driver reads whole 32 KiB cache blocks and, when that read runs
 * past the medium's end, gets garbage: grub-rescue-pc's image, appended to with grub.cfg in its last
 * sector, booted as a CD into "syntax error" until commits padded as the image itself was.
 */
export const READ_AHEAD_PADDING_SECTORS = 150

/** For an append commit: data that stays where it is, and where new allocations may begin. */
export interface AppendPlacement {
  fixed: Map<Placed, FileSectionPlan[]>
  startLba: number
}

/**
 * One set of ECMA-119 trees and their descriptors. An image has one; xorriso -partition_offset images
 * (real Ubuntu and Debian ones) have a second, whose addresses count from the partition's start (`base`),
 * so that the volume mounts from the partition too.
 */
export interface TreeSet {
  /** What every address written in this set is relative to (2 KiB sectors). */
  base: number
  primaryLba: number
  enhancedLba?: number
  jolietLba?: number
  terminatorLba: number
  iso: TreePlan & { pathTable: PathTablePlan }
  joliet?: TreePlan & { pathTable: PathTablePlan }
  continuation: { lba: number, sectors: number }
}

export interface Layout {
  settings: ImageSettings
  totalSectors: number
  /** Where the ISO volume's data ends: appended partitions, alignment and the backup GPT follow. */
  dataSectors: number
  /** The volume size the descriptors record: the data, or the whole device (SystemAreaModel.volumeCoversDevice). */
  volumeSectors: number
  primaryLba: number
  bootRecordLba?: number
  enhancedLba?: number
  jolietLba?: number
  terminatorLba: number
  bootCatalog?: { lba: number, size: number, inode: Inode }
  iso: TreePlan & { pathTable: PathTablePlan }
  joliet?: TreePlan & { pathTable: PathTablePlan }
  continuation: { lba: number, sectors: number }
  /** The partition's second set of trees (xorriso -partition_offset), if the image has one. */
  mirror?: TreeSet
  /** Data of every file with content and of every region, in the order written. */
  placed: Map<Placed, FileSectionPlan[]>
  /** The bytes each one's sections hold (the raw zisofs stream for kept compressed files). */
  content: Map<Placed, DataSource>
  /** Names in the ISO9660 tree per inode: the Rock Ridge link count. */
  links: Map<Inode, number>
  /** Every PX records a serial number (needsSerials). */
  serials: boolean
  /** What is already on disk where `placed` says (an append keeps it). */
  fixed: Set<Placed>
  /** First LBA written after the descriptors (an append writes nothing before it). */
  bodyStartLba: number
  /** Filled in by serialization: where each node's records were written. */
  written: Map<Node, Origin>
  /** The UDF file system of a bridge image (settings.udf), its structures and tree placed. */
  udf?: UdfLayout
  /** xorriso's session checksums, when written (content.sessionMd5). */
  sessionMd5?: SessionMd5Layout
}

export interface PathTablePlan {
  size: number
  lLba: number
  mLba: number
  sectors: number
}

export function planLayout (root: Node, settings: ImageSettings, content: WriteContent, placement?: AppendPlacement): Layout {
  const iso = planIsoTree(root, settings)
  const joliet = settings.joliet !== undefined ? planJolietTree(root) : undefined
  const links = countLinks(iso)
  const serials = needsSerials(links)
  const allocator = new ContinuationAllocator()
  const md5 = content.sessionMd5
  // Sized with placeholder values (the attributes' sizes do not depend on them); every file gets an
  // index but the boot catalog (checksumIndexes).
  const catalog = content.boot?.catalog
  const sizing: ChecksumAttributes = { index: md5?.fileIndexes === true ? inode => inode === catalog ? undefined : 0 : undefined, array: { start: 0, end: 0, count: 0 } }
  sizeTrees(iso, joliet, settings, links, allocator, serials, md5 !== undefined ? sizing : undefined)

  const { primaryLba, bootRecordLba, enhancedLba, jolietLba, terminatorLba } = descriptorSequence(settings, content)
  let next = terminatorLba + 1
  const offset = settings.partitionOffset ?? 0
  if (md5 !== undefined) {
    // Tags and array are placed for one session on one descriptor set, of ISO9660 alone (as xorriso writes).
    if (settings.udf !== undefined || offset > 0) throw new InvalidInputError('UNSUPPORTED', 'xorriso session MD5s cannot be written with a UDF file system or a partition offset')
    if (md5.start === 0) next++ // the superblock tag
    else if (placement === undefined || md5.start + terminatorLba + 2 > placement.startLba) throw new InvalidInputError('UNSUPPORTED', 'a session that does not start at 0 can only be extended by an append')
  }
  let udf: UdfLayout | undefined
  if (settings.udf !== undefined) {
    // The UDF structures take fixed sectors (udf/layout.ts), which a partition's second descriptor set,
    // an append's kept data or data after the volume (appended partitions) would collide with.
    if (offset > 0 || placement !== undefined || payloadsOf(content).some(p => p.holder instanceof Region && p.holder.place === 'appended')) {
      throw new InvalidInputError('UNSUPPORTED', 'a UDF file system cannot be written with a partition offset, appended partitions or as an append')
    }
    udf = placeUdf(planUdfTree(root), settings.udf, next)
    next = recognitionEnd(udf)
  }
  let mirrorDescriptors: Pick<TreeSet, 'primaryLba' | 'enhancedLba' | 'jolietLba' | 'terminatorLba'> | undefined
  if (offset > 0) {
    // xorriso -partition_offset: the partition's own descriptor set at its sector 16, without a boot record.
    if (offset < terminatorLba - 15) throw new InvalidInputError('BAD_ARGUMENT', `a partition offset of ${offset} sectors leaves no room for the volume descriptors`)
    let at = offset + 16
    mirrorDescriptors = {
      primaryLba: at++,
      enhancedLba: enhancedLba !== undefined ? at++ : undefined,
      jolietLba: jolietLba !== undefined ? at++ : undefined,
      terminatorLba: at++
    }
    next = at
  }
  if (placement !== undefined) next = Math.max(next, placement.startLba)
  const bodyStartLba = next
  // The UDF partition's file set, entries and directories come first in it; the rest follows, inside it.
  if (udf !== undefined) next = PARTITION_START + udf.metadataSectors
  let bootCatalog: Layout['bootCatalog']
  if (content.boot !== undefined) {
    const size = bootCatalogSize(toCatalogShape(content.boot))
    bootCatalog = { lba: next, size: Math.max(SECTOR_SIZE, Math.ceil(size / SECTOR_SIZE) * SECTOR_SIZE), inode: content.boot.catalog }
    next += bootCatalog.size / SECTOR_SIZE
  }
  const own = placeTreeSet(iso, joliet, allocator.sectors, next)
  next = own.next
  let mirror: TreeSet | undefined
  if (mirrorDescriptors !== undefined) {
    // The same trees again, in sectors of their own: their records count addresses from the partition.
    const copy = placeTreeSet(cloneTree(iso), joliet !== undefined ? cloneTree(joliet) : undefined, allocator.sectors, next)
    next = copy.next
    mirror = { base: offset, ...mirrorDescriptors, iso: copy.iso, joliet: copy.joliet, continuation: copy.continuation }
  }
  const treeTagLba = md5 !== undefined ? next++ : 0

  const placed = new Map<Placed, FileSectionPlan[]>()
  const data = new Map<Placed, DataSource>()
  const fixed = new Set<Placed>()
  const catalogInode = content.boot?.catalog
  const continued = filesWithContinuations(iso)
  const place = (what: Placed): void => {
    if (placed.has(what) || what === catalogInode || (!(what instanceof Region) && what.kind !== 'file')) return
    const source = what instanceof Region ? what.data : what.compressed?.raw ?? what.data
    const kept = continued.has(what as Inode) ? undefined : placement?.fixed.get(what)
    if (kept !== undefined) {
      placed.set(what, kept)
      data.set(what, source)
      fixed.add(what)
      return
    }
    if (source.size > 0xffffffff && settings.interchangeLevel < 3) {
      throw new InvalidInputError('TOO_LARGE', `a file of ${source.size} bytes needs interchange level 3 or 4 (multi-extent files, ECMA-119 10.3)`)
    }
    placed.set(what, sectionsFor(source.size, next))
    data.set(what, source)
    next += Math.ceil(source.size / SECTOR_SIZE)
  }
  const payloads = payloadsOf(content)
  const appended = payloads.filter(p => p.holder instanceof Region && p.holder.place === 'appended')
  // Boot images first (as mkisofs places them; payloadsOf lists them first), then the files in tree order.
  for (const payload of payloads) if (!appended.includes(payload)) place(payload.holder)
  for (const tree of [iso, joliet]) {
    for (const dir of tree?.directories ?? []) for (const record of dir.records) place(record.node.inode)
  }
  // Files only the UDF tree names (on Windows media, all but a README).
  for (const entry of udf?.tree.entries ?? []) place(entry.inode)
  let sessionMd5: SessionMd5Layout | undefined
  if (md5 !== undefined) {
    const indexes = md5.fileIndexes ? checksumIndexes(iso, placed) : new Map<Inode, number>()
    const arrayCount = indexes.size + 2
    const arrayLba = next
    next += Math.ceil(arrayCount * 16 / SECTOR_SIZE)
    sessionMd5 = {
      ...md5,
      superblockCopyLba: md5.start > 0 ? md5.start + 16 : undefined,
      relocatedTagLba: md5.start > 0 ? terminatorLba + 1 : undefined,
      superblockTagLba: md5.start + terminatorLba + 1,
      treeTagLba,
      arrayLba,
      arrayCount,
      sessionTagLba: next++,
      indexes
    }
  }
  if (udf !== undefined) udf.partitionBlocks = next - PARTITION_START
  // A UDF volume ends in an anchor (ECMA-167 3/8.4.2.1: at N − 1), after the data: in the padding, or in
  // a sector of its own where no padding ends the volume's data.
  if (udf !== undefined && (content.paddingSectors === 0 || appended.length > 0)) next += 1
  // Appended partitions: after the data, in the order they had, each from a 2 KiB sector.
  const { dataSectors, totalSectors } = deviceEnd(next, content, appended.length > 0, from => {
    next = from
    for (const payload of appended) place(payload.holder)
    return next
  })
  if (udf !== undefined) udf.endAnchorLba = dataSectors - 1
  return {
    settings,
    totalSectors,
    dataSectors,
    volumeSectors: content.systemArea?.volumeCoversDevice === true ? totalSectors : dataSectors,
    primaryLba,
    bootRecordLba,
    enhancedLba,
    jolietLba,
    terminatorLba,
    bootCatalog,
    iso: own.iso,
    joliet: own.joliet,
    continuation: own.continuation,
    mirror,
    placed,
    content: data,
    links,
    serials,
    fixed,
    bodyStartLba,
    written: new Map(),
    udf,
    sessionMd5
  }
}

/**
 * The files xorriso gives an index into the checksum array (every file the ISO9660 tree names, empty ones
 * too; not the boot catalog, which is not placed as a file), numbered from 1 in the order their data is
 * placed.
 */
function checksumIndexes (iso: TreePlan, placed: Map<Placed, FileSectionPlan[]>): Map<Inode, number> {
  const named = new Set<Placed>()
  for (const dir of iso.directories) for (const record of dir.records) if (record.target === undefined && record.node.inode.kind === 'file') named.add(record.node.inode)
  const indexes = new Map<Inode, number>()
  for (const what of placed.keys()) if (named.has(what)) indexes.set(what as Inode, indexes.size + 1)
  return indexes
}

/** The attribute values a written layout's records carry (none: the checksums are not written). */
export function checksumAttributesOf (layout: Layout): ChecksumAttributes | undefined {
  const md5 = layout.sessionMd5
  if (md5 === undefined) return undefined
  return {
    index: md5.fileIndexes ? inode => md5.indexes.get(inode) : undefined,
    array: { start: md5.start, end: md5.arrayLba, count: md5.arrayCount }
  }
}

/**
 * Files whose ISO9660 record needs a continuation area (SUSP 5.1: a long Rock Ridge name, many foreign
 * entries). libarchive (bsdtar) accepts a regular file's continuation area only before the file's data
 * (archive_read_support_format_iso9660.c register_CE: "Invalid parameter in SUSP CE extension", and it
 * stops reading the image). The areas a write makes are new, after the directories: a file kept where it
 * was, before them, is written again after them. Few files have such names; their data is what it costs.
 */
export function filesWithContinuations (iso: TreePlan): Set<Inode> {
  const found = new Set<Inode>()
  for (const dir of iso.directories) {
    for (const record of dir.records) if (record.target === undefined && (record.systemUse?.areas.length ?? 0) > 0) found.add(record.node.inode)
  }
  return found
}

/** ECMA-119 8: the primary descriptor at 16, then El Torito's boot record, the enhanced, the Joliet, the terminator. */
export function descriptorSequence (
  settings: ImageSettings, content: WriteContent
): Pick<Layout, 'primaryLba' | 'bootRecordLba' | 'enhancedLba' | 'jolietLba' | 'terminatorLba'> {
  let next = 16
  const primaryLba = next++
  const bootRecordLba = content.boot !== undefined ? next++ : undefined
  const enhancedLba = settings.interchangeLevel === 4 ? next++ : undefined
  const jolietLba = settings.joliet !== undefined ? next++ : undefined
  return { primaryLba, bootRecordLba, enhancedLba, jolietLba, terminatorLba: next }
}

/** Sizes every directory of the trees (records packed into sectors, Rock Ridge entries placed, CE areas allocated). */
export function sizeTrees (
  iso: TreePlan | undefined, joliet: TreePlan | undefined, settings: ImageSettings, links: Map<Inode, number>, allocator: ContinuationAllocator,
  serials: boolean, checksums?: ChecksumAttributes
): void {
  if (iso !== undefined) sizeIsoDirectories(iso, settings, links, allocator, serials, checksums)
  if (joliet !== undefined) sizeDirectories(joliet, () => settings.xa ? XA_RECORD_SIZE : 0)
}

/** The volume's own trees as a set (base 0), then the partition's, if any. */
export function treeSets (layout: Layout): TreeSet[] {
  const own: TreeSet = {
    base: 0,
    primaryLba: layout.primaryLba,
    enhancedLba: layout.enhancedLba,
    jolietLba: layout.jolietLba,
    terminatorLba: layout.terminatorLba,
    iso: layout.iso,
    joliet: layout.joliet,
    continuation: layout.continuation
  }
  return layout.mirror !== undefined ? [own, layout.mirror] : [own]
}

/** The last sector of the descriptors (both sets): what an append's commit point rewrites. */
export function headSectors (layout: Layout): number {
  return Math.max(layout.terminatorLba + 1, (layout.mirror?.terminatorLba ?? 0) + 1, layout.udf !== undefined ? recognitionEnd(layout.udf) : 0)
}

/** Where an inode's data is in the layout: its sections (the boot catalog's, for the catalog); none placed, one empty. */
export function sectionsOf (layout: Layout, inode: Inode): FileSectionPlan[] {
  return layout.bootCatalog !== undefined && inode === layout.bootCatalog.inode
    ? [{ lba: layout.bootCatalog.lba, length: layout.bootCatalog.size }]
    : layout.placed.get(inode) ?? [{ lba: 0, length: 0 }]
}

/**
 * Where the volume's data and the device end, from the sector after the data (`next`); `placeAppended`
 * places the appended partitions from the sector it is given and returns the sector after them. The
 * padding (genisoimage's 150 sectors) ends the volume; with appended partitions, xorriso puts it after
 * them, outside the volume, where its "Gap1" partition claims it, with what the image had there besides.
 * Cylinder alignment (isohybrid) pads the device, or with appended partitions the volume's data before them.
 */
export function deviceEnd (
  next: number, content: WriteContent, hasAppended: boolean, placeAppended: (from: number) => number
): { dataSectors: number, totalSectors: number } {
  const align = content.systemArea?.alignSectors ?? 1
  const alignUp = (sectors: number): number => Math.ceil(sectors / align) * align
  const dataSectors = hasAppended ? alignUp(next) : next + content.paddingSectors
  let end = dataSectors
  if (hasAppended) end = placeAppended(dataSectors) + content.paddingSectors + (content.systemArea?.appendedTailSectors ?? 0)
  const deviceSectors = Math.ceil((end * 4 + trailerBlocks(content.systemArea)) / 4)
  return { dataSectors, totalSectors: hasAppended ? deviceSectors : alignUp(deviceSectors) }
}

/** Path tables, the ISO9660 directories, their continuation areas, the Joliet directories: placed from `start`. */
function placeTreeSet (iso: TreePlan, joliet: TreePlan | undefined, continuationSectors: number, start: number): Pick<TreeSet, 'iso' | 'joliet' | 'continuation'> & { next: number } {
  let next = start
  const isoPathTable = pathTablePlan(iso, next)
  next += 2 * isoPathTable.sectors
  const jolietPathTable = joliet !== undefined ? pathTablePlan(joliet, next) : undefined
  if (jolietPathTable !== undefined) next += 2 * jolietPathTable.sectors
  next = placeDirectories(iso, next)
  const continuation = { lba: next, sectors: continuationSectors }
  next += continuationSectors
  if (joliet !== undefined) next = placeDirectories(joliet, next)
  return {
    iso: { ...iso, pathTable: isoPathTable },
    joliet: joliet !== undefined && jolietPathTable !== undefined ? { ...joliet, pathTable: jolietPathTable } : undefined,
    continuation,
    next
  }
}

/** A tree plan's copy with directories of its own (to be placed elsewhere), the same records and shapes. */
function cloneTree (tree: TreePlan): TreePlan {
  const copies = new Map<DirectoryPlan, DirectoryPlan>()
  for (const dir of tree.directories) copies.set(dir, { ...dir, records: [] })
  const copyOf = (dir: DirectoryPlan): DirectoryPlan => copies.get(dir) as DirectoryPlan
  for (const [original, copy] of copies) {
    copy.parent = copyOf(original.parent)
    if (original.logicalParent !== undefined) copy.logicalParent = copyOf(original.logicalParent)
    copy.records = original.records.map(r => r.target !== undefined ? { ...r, target: copyOf(r.target) } : r)
  }
  return { directories: tree.directories.map(copyOf) }
}

/** Where a payload's bytes start in the layout, in 2 KiB sectors (undefined: not placed). */
export function startOf (layout: Layout, payload: Payload): number | undefined {
  return layout.placed.get(payload.holder)?.[0].lba
}

/** Empty files record extent 0 (nothing to point at); larger ones are split at MAX_SECTION. */
export function sectionsFor (size: number, lba: number): FileSectionPlan[] {
  if (size === 0) return [{ lba: 0, length: 0 }]
  const sections: FileSectionPlan[] = []
  for (let offset = 0; offset < size; offset += MAX_SECTION) {
    sections.push({ lba: lba + offset / SECTOR_SIZE, length: Math.min(MAX_SECTION, size - offset) })
  }
  return sections
}

/** Names of each inode in the ISO9660 tree (files), and 2 + subdirectories (directories), as PX records. */
function countLinks (iso: TreePlan): Map<Inode, number> {
  const links = new Map<Inode, number>()
  for (const dir of iso.directories) {
    let subdirectories = 0
    for (const record of dir.records) {
      if (record.role === 'relocated') continue
      if (record.target !== undefined) subdirectories++
      else links.set(record.node.inode, (links.get(record.node.inode) ?? 0) + 1)
    }
    links.set(dir.node.inode, 2 + subdirectories)
  }
  return links
}

/**
 * A hard-linked file without data has no extent to tell its names are one file (genisoimage and xorriso
 * point every empty file at one block; read/tree-loader.ts): its names are matched by PX serial number.
 * Serials are then written in every record, RRIP 1.12's PX in any version as xorriso -hardlinks on does:
 * pycdlib refuses an image whose PX entries differ in size.
 */
export function needsSerials (links: Map<Inode, number>): boolean {
  for (const [inode, count] of links) if (count > 1 && inode.kind !== 'directory' && inode.data.size === 0) return true
  return false
}

/** Rock Ridge role and context of a record, with placeholder LBAs (sizes do not depend on them). */
export function rockRidgeFor (
  record: RecordPlan | 'self' | 'parent', dir: DirectoryPlan, settings: ImageSettings, links: Map<Inode, number>, serials: boolean, base = 0,
  checksums?: ChecksumAttributes
): ReturnType<typeof rockRidgeEntries> {
  const version = settings.rockRidge
  if (version === undefined) return []
  if (record === 'self') {
    // The root names the checksum array ("isofs.ca"), when there is one.
    const foreign = dir.number === 1 && checksums !== undefined ? serializeAttributeList([serializeChecksumArrayAttribute(checksums.array)]) : undefined
    return rockRidgeEntries(dir.node.inode, { kind: 'self', root: dir.number === 1 }, { version, links: links.get(dir.node.inode) ?? 2, serials, xa: settings.xa, foreign })
  }
  if (record === 'parent') {
    const parent = dir.parent
    return rockRidgeEntries(parent.node.inode, { kind: 'parent' }, {
      version, links: links.get(parent.node.inode) ?? 2, serials, parentLba: dir.logicalParent !== undefined ? dir.logicalParent.extent - base : undefined
    })
  }
  const inode = record.node.inode
  const name = record.node.names.rr ?? record.node.names.iso ?? ''
  let role: RockRidgeRole
  if (record.role === 'placeholder') role = { kind: 'placeholder', name, childLba: record.target !== undefined ? record.target.extent - base : 0 }
  else if (record.role === 'relocated') role = { kind: 'relocated', name }
  else role = { kind: 'entry', name }
  return rockRidgeEntries(inode, role, {
    version,
    links: links.get(inode) ?? 1,
    serials,
    zisofs: inode.compressed?.zisofs,
    foreign: foreignEntries(record, checksums)
  })
}

/** The foreign entries each file record of the ISO9660 tree was written with (its checksum index as written). */
export function writtenForeignEntries (layout: Layout): Map<Node, readonly SuspEntry[]> {
  const found = new Map<Node, readonly SuspEntry[]>()
  const checksums = checksumAttributesOf(layout)
  for (const dir of layout.iso.directories) {
    for (const record of dir.records) if (record.target === undefined) found.set(record.node, foreignEntries(record, checksums) ?? [])
  }
  return found
}

/**
 * What a record keeps of the entries read from the image, with xorriso's checksum index as written now:
 * a file's index into the array written (checksums.index), or none where no array is written (an
 * independent checker would call a stale index a mismatch; checksum/session-md5.ts).
 */
function foreignEntries (record: RecordPlan, checksums: ChecksumAttributes | undefined): readonly SuspEntry[] | undefined {
  const read = record.node.foreignSystemUse
  const inode = record.node.inode
  const index = checksums?.index !== undefined && inode.kind === 'file' && record.target === undefined ? checksums.index(inode) : undefined
  if (index === undefined) return read !== undefined ? withoutAttributes(read, CHECKSUM_ATTRIBUTES) : undefined
  return withAttributes(read ?? [], CHECKSUM_ATTRIBUTES, [checksumIndexAttribute(index)])
}

function sizeIsoDirectories (
  tree: TreePlan, settings: ImageSettings, links: Map<Inode, number>, allocator: ContinuationAllocator, serials: boolean, checksums?: ChecksumAttributes
): void {
  const systemUseOf = (record: RecordPlan | 'self' | 'parent', dir: DirectoryPlan, identifierLength: number): number => {
    if (settings.rockRidge === undefined) return settings.xa ? XA_RECORD_SIZE : 0
    const inlineMax = (MAX_RECORD - recordLength(identifierLength, 0) - (settings.xa ? XA_RECORD_SIZE : 0)) & ~1
    if (inlineMax < CE_ENTRY_LENGTH) {
      const name = record === 'self' || record === 'parent' ? '.' : record.node.names.iso ?? ''
      throw new InvalidInputError('NAME_TOO_LONG', `ISO9660 name "${name}" leaves no room for Rock Ridge entries in its record`)
    }
    const plan = planSystemUse(rockRidgeFor(record, dir, settings, links, serials, 0, checksums), inlineMax, allocator)
    if (record === 'self') dir.selfSystemUse = plan
    else if (record === 'parent') dir.parentSystemUse = plan
    else record.systemUse = plan
    return (settings.xa ? XA_RECORD_SIZE : 0) + plan.inlineLength + (plan.inlineLength % 2)
  }
  sizeDirectories(tree, systemUseOf)
}

/** Packs each directory's records into sectors (ECMA-119 6.8.1.1: no record spans a sector). */
function sizeDirectories (
  tree: TreePlan, systemUseOf: (record: RecordPlan | 'self' | 'parent', dir: DirectoryPlan, identifierLength: number) => number
): void {
  for (const dir of tree.directories) {
    let sectors = 1
    let used = 0
    const put = (length: number, count: number): void => {
      for (let i = 0; i < count; i++) {
        if (used + length > SECTOR_SIZE) {
          sectors++
          used = 0
        }
        used += length
      }
    }
    put(recordLength(1, systemUseOf('self', dir, 1)), 1)
    put(recordLength(1, systemUseOf('parent', dir, 1)), 1)
    for (const record of dir.records) {
      record.length = recordLength(record.identifier.length, systemUseOf(record, dir, record.identifier.length))
      if (record.length > 255) throw new InvalidInputError('NAME_TOO_LONG', `record for "${record.node.names.iso ?? record.node.names.joliet}" would exceed 255 bytes`)
      // Multi-extent files take one record per section; sized from the data before it is placed.
      put(record.length, record.target !== undefined ? 1 : Math.max(1, Math.ceil((record.node.inode.compressed?.raw ?? record.node.inode.data).size / MAX_SECTION)))
    }
    dir.size = sectors * SECTOR_SIZE
  }
}

function placeDirectories (tree: TreePlan, start: number): number {
  let next = start
  for (const dir of tree.directories) {
    dir.extent = next
    next += dir.size / SECTOR_SIZE
  }
  return next
}

export function pathTablePlan (tree: TreePlan, lba: number): PathTablePlan {
  const size = tree.directories.reduce((sum, d) => sum + pathTableRecordLength(d.identifier.length), 0)
  const sectors = Math.max(1, Math.ceil(size / SECTOR_SIZE))
  return { size, lLba: lba, mLba: lba + sectors, sectors }
}

/** The catalog's shape (entry counts) for sizing; contents come at write time. */
export function toCatalogShape (boot: BootConfiguration): Parameters<typeof bootCatalogSize>[0] {
  return {
    validation: boot.validation,
    defaultEntry: { ...boot.defaultImage.entry },
    sections: boot.sections.map(s => ({ platform: s.platform, idString: s.idString, entries: s.images.map(i => ({ ...i.entry })) }))
  }
}

/** Where the volume's primary descriptor goes (the first set's; isomd5sum reads that one). */
export function primaryLbaOf (layout: Layout): number {
  return treeSets(layout)[0].primaryLba
}
