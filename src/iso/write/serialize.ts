import { InternalError, InvalidInputError } from '../../errors'
import { BootInfoChecksum, BOOT_INFO_TABLE_OFFSET, serializeBootInfoTable } from '../codec/boot-info-table'
import { recordDateFromMs, volumeDateFromMs, UNSET_VOLUME_DATE } from '../codec/datetime'
import { FileFlags, serializeDirectoryRecord, type DirectoryRecord } from '../codec/directory-record'
import { bootRecordFields, serializeBootCatalog } from '../codec/el-torito'
import { jolietEscapeSequences } from '../codec/joliet'
import { serializePathTable, type PathTableRecord } from '../codec/path-table'
import { encodeText } from '../codec/text'
import { serializeXaRecord, XA_SIGNATURE, XA_SIGNATURE_OFFSET_IN_APPLICATION_USE } from '../codec/xa'
import {
  DescriptorType, SECTOR_SIZE, serializeDescriptor, type VolumeDescriptor
} from '../codec/volume-descriptor'
import { allBootImages, type BootConfiguration } from '../model/boot'
import { ImageExtentsSource, type DataSource, type FileExtents } from '../model/data-source'
import type { Inode } from '../model/inode'
import { readExactly, type ByteSource } from '../io/byte-source'
import { HostFileSource } from '../model/host-sources'
import { NodeFlag, type RecordLocation } from '../model/node'
import { buildSystemArea, buildTrailer } from './hybrid'
import { rockRidgeFor, toCatalogShape, type Layout, type WriteContent } from './layout'
import type { ImageSink } from './sink'
import { renderSystemUse, type SystemUsePlan } from './system-use-plan'
import type { DirectoryPlan, RecordPlan, TreePlan } from './tree-plan'

/*
 * Serialization: walks the layout in LBA order and hands bytes to the sink. Metadata is produced one
 * structure at a time and file data is copied in large chunks, so memory stays bounded whatever the size.
 */

const COPY_CHUNK = 4 * 1024 * 1024
/** Kernel copies go in pieces of this size, each reported as progress. */
const KERNEL_COPY_PIECE = 64 * 1024 * 1024

export interface WriteProgress {
  bytesWritten: number
  totalBytes: number
}

export async function serializeImage (
  layout: Layout, content: WriteContent, sink: ImageSink, onProgress?: (progress: WriteProgress) => void
): Promise<void> {
  const out = new SectorWriter(sink, layout.totalSectors * SECTOR_SIZE, onProgress)
  await out.put(0, await serializeHead(layout, content))
  await serializeBody(layout, content, out)
  await out.finish()
}

/**
 * Sectors 0 to the descriptor set terminator: system area (hybrid MBR/GPT) and volume descriptors. An
 * append commit writes these last, in one write: the moment the new tree becomes the image's tree.
 */
export async function serializeHead (layout: Layout, content: WriteContent): Promise<Buffer> {
  const head = Buffer.alloc((layout.terminatorLba + 1) * SECTOR_SIZE)
  ;(await buildSystemArea(layout, content)).copy(head, 0)
  for (const d of descriptors(layout, content)) serializeDescriptor(d.descriptor).copy(head, d.lba * SECTOR_SIZE)
  return head
}

/** Everything after the descriptors, in LBA order; files in `layout.fixed` are already on disk. */
export async function serializeBody (layout: Layout, content: WriteContent, out: SectorWriter): Promise<void> {
  if (content.boot !== undefined && layout.bootCatalog !== undefined) {
    await out.put(layout.bootCatalog.lba, bootCatalog(layout, content.boot))
  }
  for (const tree of [layout.iso, layout.joliet]) {
    if (tree === undefined) continue
    const records = pathTableRecords(tree)
    await out.put(tree.pathTable.lLba, serializePathTable(records, 'L'))
    await out.put(tree.pathTable.mLba, serializePathTable(records, 'M'))
  }
  const areas: Array<{ sector: number, offset: number, bytes: Buffer }> = []
  for (const dir of layout.iso.directories) await out.put(dir.extent, isoDirectory(layout, dir, areas))
  await out.put(layout.continuation.lba, continuationRegion(layout, areas))
  for (const dir of layout.joliet?.directories ?? []) await out.put(dir.extent, jolietDirectory(layout, dir))
  await copyFiles(layout, content, out)
  const trailer = buildTrailer(layout, content)
  if (trailer !== undefined) await out.put(trailer.lba, trailer.bytes)
}

/** Writes sectors in increasing order from byte `start`, filling gaps with zeros. */
export class SectorWriter {
  private position: number
  private static readonly ZEROS = Buffer.alloc(1024 * 1024)

  constructor (private readonly sink: ImageSink, private readonly total: number, private readonly onProgress?: (p: WriteProgress) => void, start = 0) {
    this.position = start
  }

  async put (lba: number, bytes: Buffer): Promise<void> {
    await this.seek(lba * SECTOR_SIZE)
    await this.write(bytes)
    const tail = bytes.length % SECTOR_SIZE
    if (tail !== 0) await this.write(SectorWriter.ZEROS.subarray(0, SECTOR_SIZE - tail))
  }

  async write (bytes: Buffer, reusable = false): Promise<void> {
    await this.sink.write(bytes, reusable)
    this.position += bytes.length
    this.onProgress?.({ bytesWritten: this.position, totalBytes: this.total })
  }

  /**
   * Appends a source's bytes copied in the kernel, in pieces (so that progress is reported); false, with
   * nothing written, where the sink cannot. Only the first piece can find that out.
   */
  async copyExtents (extents: FileExtents): Promise<boolean> {
    if (this.sink.copyFrom === undefined) return false
    let first = true
    for (const range of extents.ranges) {
      for (let done = 0; done < range.length;) {
        const piece = Math.min(KERNEL_COPY_PIECE, range.length - done)
        if (!await this.sink.copyFrom(extents.fd, range.position + done, piece)) {
          if (first) return false
          throw new InternalError('copying file data in the kernel stopped working half way')
        }
        first = false
        done += piece
        this.position += piece
        this.onProgress?.({ bytesWritten: this.position, totalBytes: this.total })
      }
    }
    return true
  }

  async seek (offset: number): Promise<void> {
    if (offset < this.position) throw new Error(`layout overlap: writing at ${offset} after ${this.position}`)
    while (this.position < offset) await this.write(SectorWriter.ZEROS.subarray(0, Math.min(SectorWriter.ZEROS.length, offset - this.position)))
  }

  async finish (): Promise<void> {
    await this.seek(this.total)
    await this.sink.finish()
  }
}

function descriptors (layout: Layout, content: WriteContent): Array<{ lba: number, descriptor: Parameters<typeof serializeDescriptor>[0] }> {
  const list: Array<{ lba: number, descriptor: Parameters<typeof serializeDescriptor>[0] }> = []
  list.push({ lba: layout.primaryLba, descriptor: volumeDescriptor(layout, layout.iso, 'primary') })
  if (layout.bootRecordLba !== undefined && layout.bootCatalog !== undefined && content.boot !== undefined) {
    list.push({ lba: layout.bootRecordLba, descriptor: { type: 0, version: 1, bootId: Buffer.alloc(32), ...bootRecordFields(layout.bootCatalog.lba) } })
  }
  if (layout.enhancedLba !== undefined) list.push({ lba: layout.enhancedLba, descriptor: volumeDescriptor(layout, layout.iso, 'enhanced') })
  if (layout.jolietLba !== undefined && layout.joliet !== undefined) {
    list.push({ lba: layout.jolietLba, descriptor: volumeDescriptor(layout, layout.joliet, 'joliet') })
  }
  list.push({ lba: layout.terminatorLba, descriptor: { type: DescriptorType.TERMINATOR, version: 1, body: Buffer.alloc(SECTOR_SIZE - 7) } })
  return list
}

/** ECMA-119 8.4 (primary), 8.5 (Joliet supplementary), ISO 9660:1999 8.5 (enhanced: version 2). */
function volumeDescriptor (layout: Layout, tree: Layout['iso'], kind: 'primary' | 'enhanced' | 'joliet'): VolumeDescriptor {
  const v = layout.settings.volume
  // Joliet's descriptor holds UCS-2 (Joliet 1995, 5.2); the others the bytes of UTF-8, as genisoimage and
  // xorriso write non-ASCII identifiers (see settings.ts validateVolume).
  const text = (value: string, size: number): Buffer => kind === 'joliet' ? encodeText(value, size, 'ucs2') : utf8Field(value, size)
  const root = tree.directories[0]
  const date = (ms: number | undefined): ReturnType<typeof volumeDateFromMs> => ms === undefined ? UNSET_VOLUME_DATE : volumeDateFromMs(ms)
  return {
    type: kind === 'primary' ? 1 : 2,
    version: kind === 'enhanced' ? 2 : 1,
    flags: 0,
    systemId: text(v.systemId, 32),
    volumeId: text(kind === 'joliet' ? v.jolietVolumeId ?? v.volumeId : v.volumeId, 32),
    unused72: Buffer.alloc(8),
    volumeSpaceSize: layout.volumeSectors,
    escapeSequences: kind === 'joliet' && layout.settings.joliet !== undefined ? jolietEscapeSequences(layout.settings.joliet.level) : Buffer.alloc(32),
    volumeSetSize: v.volumeSetSize,
    volumeSequenceNumber: v.volumeSequenceNumber,
    logicalBlockSize: SECTOR_SIZE,
    pathTableSize: tree.pathTable.size,
    lPathTable: tree.pathTable.lLba,
    lPathTableOptional: 0,
    mPathTable: tree.pathTable.mLba,
    mPathTableOptional: 0,
    root: directoryRecord(Buffer.from([0]), root.extent, root.size, FileFlags.DIRECTORY, root.node.inode.times.mtimeMs, Buffer.alloc(0)),
    volumeSetId: text(v.volumeSetId, 128),
    publisherId: text(v.publisherId, 128),
    preparerId: text(v.preparerId, 128),
    applicationId: text(v.applicationId, 128),
    copyrightFileId: text(v.copyrightFileId, 37),
    abstractFileId: text(v.abstractFileId, 37),
    bibliographicFileId: text(v.bibliographicFileId, 37),
    created: date(v.createdMs),
    modified: date(v.modifiedMs),
    expires: date(v.expiresMs),
    effective: date(v.effectiveMs),
    fileStructureVersion: kind === 'enhanced' ? 2 : 1,
    reserved882: 0,
    applicationUse: applicationUse(layout, kind),
    reserved1395: Buffer.alloc(SECTOR_SIZE - 1395)
  }
}

/** A space-padded field of UTF-8 bytes; text too long (validated earlier) is cut between characters. */
function utf8Field (value: string, size: number): Buffer {
  const field = Buffer.alloc(size, 0x20)
  let bytes = Buffer.from(value, 'utf8')
  if (bytes.length > size) {
    let end = size
    // Back off continuation bytes (10xxxxxx) so that no character is split.
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
    bytes = bytes.subarray(0, end)
  }
  bytes.copy(field)
  return field
}

function applicationUse (layout: Layout, kind: 'primary' | 'enhanced' | 'joliet'): Buffer {
  const field = Buffer.alloc(512)
  if (layout.settings.xa && kind === 'primary') field.write(XA_SIGNATURE, XA_SIGNATURE_OFFSET_IN_APPLICATION_USE, 'latin1')
  return field
}

function directoryRecord (identifier: Buffer, extent: number, dataLength: number, flags: number, mtimeMs: number, systemUse: Buffer): DirectoryRecord {
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

function pathTableRecords (tree: TreePlan): PathTableRecord[] {
  // Parent numbers are 16-bit (ECMA-119 9.4.6); beyond 65535 directories readers use the directory tree.
  return tree.directories.map(dir => ({
    extendedAttributeLength: 0,
    extent: dir.extent,
    parent: Math.min(dir.parent.number, 0xffff),
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

function isoDirectory (layout: Layout, dir: DirectoryPlan, areas: Array<{ sector: number, offset: number, bytes: Buffer }>): Buffer {
  const out = new DirectoryBuffer(dir.size, dir.extent)
  const systemUse = (record: RecordPlan | 'self' | 'parent', plan: SystemUsePlan | undefined): Buffer => {
    const xa = xaField(layout, typeof record === 'string' || (record.target !== undefined && record.role !== 'placeholder'))
    if (plan === undefined) return xa
    const rendered = renderSystemUse(rockRidgeFor(record, dir, layout.settings, layout.links, layout.serials), plan, layout.continuation.lba)
    rendered.areas.forEach((bytes, i) => areas.push({ sector: plan.areas[i].sector, offset: plan.areas[i].offset, bytes }))
    return evenLength(Buffer.concat([xa, rendered.inline]))
  }
  const self = dir.node.inode
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([0]), dir.extent, dir.size, FileFlags.DIRECTORY, self.times.mtimeMs, systemUse('self', dir.selfSystemUse))))
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([1]), dir.parent.extent, dir.parent.size, FileFlags.DIRECTORY, dir.parent.node.inode.times.mtimeMs, systemUse('parent', dir.parentSystemUse))))
  for (const record of dir.records) {
    const su = systemUse(record, record.systemUse)
    const locations = childRecords(layout, record, su).map(r => out.add(serializeDirectoryRecord(r)))
    if (record.role !== 'relocated') recordWritten(layout, record, 'iso', locations[0])
  }
  return out.bytes
}

/** Where each node's first record went, for a commit to rebase node origins on the new image. */
function recordWritten (layout: Layout, record: RecordPlan, tree: 'iso' | 'joliet', location: RecordLocation): void {
  const origin = layout.written.get(record.node) ?? {}
  origin[tree] = location
  layout.written.set(record.node, origin)
}

function jolietDirectory (layout: Layout, dir: DirectoryPlan): Buffer {
  const out = new DirectoryBuffer(dir.size, dir.extent)
  const xaDirectory = xaField(layout, true)
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([0]), dir.extent, dir.size, FileFlags.DIRECTORY, dir.node.inode.times.mtimeMs, xaDirectory)))
  out.add(serializeDirectoryRecord(directoryRecord(Buffer.from([1]), dir.parent.extent, dir.parent.size, FileFlags.DIRECTORY, dir.parent.node.inode.times.mtimeMs, xaDirectory)))
  for (const record of dir.records) {
    const locations = childRecords(layout, record, xaField(layout, record.target !== undefined)).map(r => out.add(serializeDirectoryRecord(r)))
    recordWritten(layout, record, 'joliet', locations[0])
  }
  return out.bytes
}

/**
 * The XA record every directory record starts its System Use field with on an XA image; attributes as
 * genisoimage -XA records them (0x0d55: readable mode 2 form 1 data; 0x8000 more for directories).
 */
function xaField (layout: Layout, directory = false): Buffer {
  if (!layout.settings.xa) return Buffer.alloc(0)
  return serializeXaRecord({ groupId: 0, userId: 0, attributes: directory ? 0x8d55 : 0x0d55, fileNumber: 0 })
}

/** The record(s) of one entry: directories and placeholders one, files one per file section. */
function childRecords (layout: Layout, record: RecordPlan, systemUse: Buffer): DirectoryRecord[] {
  const node = record.node
  const visibility = node.flags & (NodeFlag.HIDDEN | NodeFlag.ASSOCIATED)
  const mtime = node.inode.times.mtimeMs
  if (record.target !== undefined) {
    const target = record.target
    // RRIP 4.1.5.1: the placeholder is a file record (Linux follows its CL); the relocated one a directory.
    if (record.role === 'placeholder') return [directoryRecord(record.identifier, target.extent, 0, visibility, mtime, systemUse)]
    return [directoryRecord(record.identifier, target.extent, target.size, FileFlags.DIRECTORY | visibility, mtime, systemUse)]
  }
  const inode = node.inode
  const sections = layout.bootCatalog !== undefined && inode === layout.bootCatalog.inode
    ? [{ lba: layout.bootCatalog.lba, length: layout.bootCatalog.size }]
    : layout.files.get(inode) ?? [{ lba: 0, length: 0 }]
  // ECMA-119 6.5.1: every record of a multi-extent file but the last carries the multi-extent flag.
  return sections.map((section, i) => directoryRecord(
    record.identifier, section.lba, section.length, visibility | (i < sections.length - 1 ? FileFlags.MULTI_EXTENT : 0), mtime, systemUse))
}

function continuationRegion (layout: Layout, areas: Array<{ sector: number, offset: number, bytes: Buffer }>): Buffer {
  const region = Buffer.alloc(layout.continuation.sectors * SECTOR_SIZE)
  for (const area of areas) area.bytes.copy(region, area.sector * SECTOR_SIZE + area.offset)
  return region
}

function bootCatalog (layout: Layout, boot: BootConfiguration): Buffer {
  const shape = toCatalogShape(boot)
  const images = allBootImages(boot)
  const entries = [shape.defaultEntry, ...shape.sections.flatMap(s => s.entries)]
  entries.forEach((entry, i) => {
    const image = images[i]
    const sections = layout.files.get(image.inode)
    entry.loadRba = sections?.[0].lba ?? 0
    if (image.autoSectorCount) entry.sectorCount = autoSectorCount(image.entry.media & 0x0f, image.inode.data.size)
  })
  return serializeBootCatalog(shape)
}

/**
 * El Torito 2.2 "Sector Count": emulated boots load one sector (the BIOS reads the rest through the
 * emulated drive); a no-emulation image is loaded whole, in 512-byte units, as mkisofs does by default.
 */
function autoSectorCount (emulation: number, size: number): number {
  if (emulation !== 0) return 1
  return Math.min(0xffff, Math.ceil(size / 512))
}

/** Files up to this size are read whole, ahead of their turn, to hide the latency of opening them. */
const SMALL_FILE = 1024 * 1024
/** How many small files are read ahead at most. */
const READ_AHEAD = 32
/** ... and at most this many bytes read ahead. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024

/**
 * Copies file data in LBA order. Small files are read ahead (many at once: each read waits on the thread
 * pool and the disk, and thousands of files one after the other would spend most of the time waiting);
 * large ones stream in chunks with the next chunk read while the current one is written.
 */
interface FileToCopy {
  inode: Inode
  lba: number
  source: DataSource
}

/**
 * What copyFiles copies in one go: one file, or a run of small files of the image being rewritten that lie
 * back to back both where they are and where they go (a remaster keeps most files in their order). A run
 * is read with one read and written with one write, their sector tails zeroed in between (ECMA-119 leaves
 * them unspecified, and the old image's tails can hold what an in-place shrink cut off): 50,000 small
 * files were 50,000 reads and a gathered write of 100,000 pieces.
 */
type Piece = { file: FileToCopy } | { run: FileToCopy[], image: ByteSource, sourceLba: number, sectors: number }

function piecesOf (files: readonly FileToCopy[], bootTables: ReadonlySet<Inode>): Piece[] {
  const pieces: Piece[] = []
  const sectorsOf = (f: FileToCopy): number => Math.ceil(f.source.size / SECTOR_SIZE)
  const runnable = (f: FileToCopy): ImageExtentsSource | undefined => {
    const s = f.source
    if (!(s instanceof ImageExtentsSource) || s.size > SMALL_FILE || bootTables.has(f.inode) || s.sections.length !== 1) return undefined
    const section = s.sections[0]
    return section.unitSize === 0 || section.gapSize === 0 ? s : undefined
  }
  let current: Extract<Piece, { run: FileToCopy[] }> | undefined
  for (const file of files) {
    const source = runnable(file)
    const last = current?.run[current.run.length - 1]
    if (current !== undefined && last !== undefined && source !== undefined && source.image === current.image &&
        source.lba === current.sourceLba + current.sectors && file.lba === last.lba + sectorsOf(last) &&
        (current.sectors + sectorsOf(file)) * SECTOR_SIZE <= COPY_CHUNK &&
        (source.lba + sectorsOf(file)) * SECTOR_SIZE <= source.image.size) {
      current.run.push(file)
      current.sectors += sectorsOf(file)
      continue
    }
    current = source !== undefined && (source.lba + sectorsOf(file)) * SECTOR_SIZE <= source.image.size
      ? { run: [file], image: source.image, sourceLba: source.lba, sectors: sectorsOf(file) }
      : undefined
    pieces.push(current ?? { file })
  }
  return pieces
}

/** A run's sectors as they go into the new image: read whole, each file's sector tail zeroed. */
async function readRun (piece: Extract<Piece, { run: FileToCopy[] }>): Promise<Buffer> {
  const span = await readExactly(piece.image, piece.sourceLba * SECTOR_SIZE, piece.sectors * SECTOR_SIZE, { structure: 'file data', lba: piece.sourceLba })
  let at = 0
  for (const file of piece.run) {
    const end = at + Math.ceil(file.source.size / SECTOR_SIZE) * SECTOR_SIZE
    span.fill(0, at + file.source.size, end)
    at = end
  }
  return span
}

async function copyFiles (layout: Layout, content: WriteContent, out: SectorWriter): Promise<void> {
  const bootTables = new Set(content.boot !== undefined ? allBootImages(content.boot).filter(i => i.bootInfoTable).map(i => i.inode) : [])
  const files = [...layout.files]
    .filter(([inode, sections]) => sections[0].length > 0 && !layout.fixed.has(inode) && layout.content.has(inode))
    .sort((a, b) => a[1][0].lba - b[1][0].lba)
    .map(([inode, sections]) => ({ inode, lba: sections[0].lba, source: layout.content.get(inode) as DataSource }))
  const pieces = piecesOf(files, bootTables)
  const ahead = new Map<number, { bytes: number, read: Promise<Buffer> }>()
  let aheadBytes = 0
  let copyBuffers: Buffer[] | undefined
  let next = 0
  for (let i = 0; i < pieces.length; i++) {
    // Read ahead a few pieces, and a bounded amount: memory stays flat whatever the files.
    for (; next < pieces.length && next < i + READ_AHEAD && aheadBytes < READ_AHEAD_BYTES; next++) {
      const piece = pieces[next]
      let read: Promise<Buffer> | undefined
      let bytes = 0
      if ('run' in piece) {
        read = readRun(piece)
        bytes = piece.sectors * SECTOR_SIZE
      } else if (piece.file.source.size <= SMALL_FILE) {
        const source = piece.file.source
        read = source instanceof HostFileSource ? Promise.resolve().then(() => source.readSmall()) : readChunk(source, 0, source.size)
        bytes = source.size
      }
      read?.catch(() => {})
      if (read !== undefined) {
        ahead.set(next, { bytes, read })
        aheadBytes += bytes
      }
    }
    const piece = pieces[i]
    const pending = ahead.get(i)
    ahead.delete(i)
    aheadBytes -= pending?.bytes ?? 0
    const read = pending?.read
    if ('run' in piece) {
      await out.seek(piece.run[0].lba * SECTOR_SIZE)
      await out.write(await (read as Promise<Buffer>))
      continue
    }
    const { inode, lba, source } = piece.file
    await out.seek(lba * SECTOR_SIZE)
    // mkisofs patches only files long enough to hold the table.
    const table = bootTables.has(inode) && source.size >= 64 ? await bootInfoTableFor(source, lba, layout.primaryLba) : undefined
    if (read !== undefined) {
      const chunk = await read
      if (table !== undefined) patchBootInfoTable(chunk, 0, table)
      await out.write(chunk)
    } else if (!await copyInKernel(source, table === undefined, out)) {
      // Two buffers taking turns: one is written while the next chunk is read into the other.
      const buffers = copyBuffers ??= [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)]
      let turn = 0
      const readAt = (position: number): Promise<Buffer> => {
        const promise = readChunk(source, position, Math.min(COPY_CHUNK, source.size - position), buffers[turn])
        promise.catch(() => {}) // awaited below; a write failing first must not leave it unhandled
        return promise
      }
      let pending = readAt(0)
      for (let position = 0; position < source.size;) {
        const chunk = await pending
        if (table !== undefined) patchBootInfoTable(chunk, position, table)
        position += chunk.length
        turn ^= 1
        if (position < source.size) pending = readAt(position)
        await out.write(chunk, true)
      }
    }
    const tail = source.size % SECTOR_SIZE
    if (tail !== 0) await out.write(Buffer.alloc(SECTOR_SIZE - tail))
  }
}

/** A large file copied file to file by the kernel (cp's way), where both ends are files and no boot info table is patched in. */
async function copyInKernel (source: DataSource, allowed: boolean, out: SectorWriter): Promise<boolean> {
  const extents = allowed ? source.fileExtents?.() : undefined
  if (extents === undefined) return false
  try {
    return await out.copyExtents(extents)
  } finally {
    extents.release()
  }
}

/** Exactly `length` bytes at `position`: in `into` if given, else in a buffer of their own (the sink keeps it). */
async function readChunk (source: DataSource, position: number, length: number, into?: Buffer): Promise<Buffer> {
  const buf = into !== undefined ? into.subarray(0, length) : Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = await source.read(buf, done, length - done, position + done)
    if (n === 0) throw new InvalidInputError('BAD_ARGUMENT', `file data ended after ${position + done} of ${source.size} bytes (did the source file change while writing?)`)
    done += n
  }
  return buf
}

/** Puts bytes 8-63 of the boot info table where this chunk (at `position` in the file) covers them. */
function patchBootInfoTable (chunk: Buffer, position: number, table: Buffer): void {
  if (position >= BOOT_INFO_TABLE_OFFSET + table.length) return
  const into = Math.max(0, BOOT_INFO_TABLE_OFFSET - position)
  const from = Math.max(0, position - BOOT_INFO_TABLE_OFFSET)
  table.copy(chunk, into, from, Math.min(table.length, from + (chunk.length - into)))
}

/** mkisofs -boot-info-table: PVD LBA, file LBA, length and the checksum of the file from byte 64. */
async function bootInfoTableFor (source: { size: number, read: (b: Buffer, o: number, l: number, p: number) => Promise<number> }, lba: number, primaryLba: number): Promise<Buffer> {
  const checksum = new BootInfoChecksum()
  const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, source.size)))
  for (let position = 0; position < source.size;) {
    const n = await source.read(buf, 0, Math.min(buf.length, source.size - position), position)
    if (n === 0) break
    checksum.update(buf.subarray(0, n), position)
    position += n
  }
  const table = Buffer.alloc(64)
  serializeBootInfoTable({ pvdLba: primaryLba, fileLba: lba, fileLength: source.size, checksum: checksum.digest() }, table)
  return table.subarray(BOOT_INFO_TABLE_OFFSET, 64)
}

function evenLength (bytes: Buffer): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(1)])
}
