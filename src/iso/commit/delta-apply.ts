import * as fs from 'node:fs'
import { InternalError } from '../../errors'
import { serializePathTable } from '../codec/path-table'
import { SECTOR_SIZE, serializeDescriptor } from '../codec/volume-descriptor'
import { continuationRegion, isoDirectory, jolietDirectory } from '../write/directory-writer'
import { copyPlaced } from '../write/copy-engine'
import { bootCatalog, bootPatches } from '../write/el-torito-writer'
import { treeSets, type WriteContent } from '../write/layout'
import type { TreeName } from '../write/partial-layout'
import { SectorWriter } from '../write/sector-writer'
import { serializeHead } from '../write/serialize'
import { FdSink } from '../write/sink'
import { buildTrailer } from '../write/system-area-writer'
import { volumeDescriptors } from '../write/volume-descriptors'
import type { DirectoryPlan } from '../write/tree-plan'
import type { CommitContext } from './context'
import type { DeltaPlan } from './delta-plan'
import { applyJournaled, coalescePatches, journalPending, JournaledByteSource, type Patch } from './journal'
import { implantPatch } from './media-checksums'
import type { ImplantedMd5 } from '../codec/isomd5sum'
import { FileByteSource } from '../io/byte-source'

/*
 * Writing a delta plan (delta-plan.ts). What goes after the image's end is written first and made durable
 * (fsync): directories that moved, continuation areas, path tables that grew, new and moved data, appended
 * partitions moved after it, the backup GPT. Nothing the image's tree reaches has changed yet. Then every
 * byte that changes in place (directories rewritten in their extents, patched records, path tables, the
 * boot catalog, file data, and the descriptors and system area) goes through one journal: the commit point,
 * completed or undone whatever happens (journal.ts). A failure before it leaves the image as it was (the
 * appended bytes are cut off again).
 */

/** Writes the plan; returns the bytes written into the image (appended and patched). */
export async function applyDelta (
  context: CommitContext, plan: DeltaPlan, content: WriteContent, onProgress: (written: number, total: number) => void,
  implanted?: ImplantedMd5, onChecksumProgress?: (done: number, total: number) => void
): Promise<number> {
  const { layout } = plan
  const start = layout.bodyStartLba * SECTOR_SIZE
  const total = layout.totalSectors * SECTOR_SIZE
  const inPlace: Patch[] = [...plan.patches]
  const fd = fs.openSync(context.path, 'r+')
  try {
    const originalSize = fs.fstatSync(fd).size
    const out = layout.appends ? new SectorWriter(new FdSink(fd, start), total, p => onProgress(p.bytesWritten - start, total - start), start) : undefined
    const put = async (lba: number, bytes: Buffer): Promise<void> => {
      if (lba >= layout.bodyStartLba) {
        if (out === undefined) throw new InternalError('a delta plan appends without saying so')
        await out.put(lba, bytes)
      } else {
        inPlace.push({ offset: lba * SECTOR_SIZE, bytes })
      }
    }
    try {
      const [set] = treeSets(layout)
      const areas: Parameters<typeof isoDirectory>[3] = []
      for (const dir of byExtent(layout.dirty.iso)) await put(dir.extent, isoDirectory(layout, set, dir, areas))
      if (layout.continuation.sectors > 0) await put(layout.continuation.lba, continuationRegion(set, areas))
      for (const dir of byExtent(layout.dirty.joliet)) await put(dir.extent, jolietDirectory(layout, set, dir))
      for (const tree of ['iso', 'joliet'] as TreeName[]) {
        const records = layout.pathTableRecords[tree]
        const table = layout[tree]?.pathTable
        if (records === undefined || table === undefined) continue
        const little = serializePathTable(records, 'L')
        if (plan.oldPathTables[tree]?.equals(little) === true) continue
        await put(table.lLba, little)
        await put(table.mLba, serializePathTable(records, 'M'))
      }
      if (plan.catalog && content.boot !== undefined && layout.bootCatalog !== undefined) {
        await put(layout.bootCatalog.lba, bootCatalog(layout, content.boot))
      }
      checkNoOverlap(inPlace)
      if (out !== undefined) {
        await copyPlaced(layout, await bootPatches(layout, content), out)
        const trailer = buildTrailer(layout, content)
        if (trailer !== undefined) await out.put(trailer.lba, trailer.bytes)
        await out.finish()
      }
    } catch (err) {
      if (out !== undefined) dropAppended(fd, originalSize)
      throw err
    }
    if (plan.descriptors) inPlace.push(head(context, plan, content))
    if (implanted !== undefined) {
      // The image's implantisomd5 sum, over its final bytes: the appended ones are durable, the rest are
      // the patches. Written by the same journal (media-checksums.ts); it sorts after the descriptors it lies in.
      try {
        const final = new JournaledByteSource(await FileByteSource.fromFd(fd), inPlace)
        inPlace.push(await implantPatch(final, layout.primaryLba, implanted, onChecksumProgress))
      } catch (err) {
        if (out !== undefined) dropAppended(fd, originalSize)
        throw err
      }
    }
    const patches = coalescePatches(inPlace)
    if (patches.length === 0) return total > start ? total - start : 0
    try {
      applyJournaled(context.path, fd, patches)
    } catch (err) {
      // No journal left means the image's bytes before its old end are as they were.
      if (out !== undefined && !journalPending(context.path)) dropAppended(fd, originalSize)
      throw err
    }
    return Math.max(0, total - start) + patches.reduce((sum, p) => sum + p.bytes.length, 0)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * The commit point's first sectors: with something appended, the system area and descriptors as a whole
 * append writes them; otherwise (the volume did not grow) the descriptors alone. The old set's descriptors
 * beyond the new terminator are cleared.
 */
function head (context: CommitContext, plan: DeltaPlan, content: WriteContent): Patch {
  const { layout } = plan
  const oldEnd = (context.descriptors.terminatorLba + 1) * SECTOR_SIZE
  if (layout.appends) {
    const bytes = serializeHead(layout, content)
    const span = Buffer.alloc(Math.max(bytes.length, oldEnd))
    bytes.copy(span)
    return { offset: 0, bytes: span }
  }
  const first = layout.primaryLba
  const span = Buffer.alloc(Math.max((layout.terminatorLba + 1) * SECTOR_SIZE, oldEnd) - first * SECTOR_SIZE)
  for (const d of volumeDescriptors(layout, content)) serializeDescriptor(d.descriptor).copy(span, (d.lba - first) * SECTOR_SIZE)
  return { offset: first * SECTOR_SIZE, bytes: span }
}

function byExtent (plans: ReadonlyMap<unknown, DirectoryPlan>): DirectoryPlan[] {
  return [...plans.values()].sort((a, b) => a.extent - b.extent)
}

/** The plan writes each in-place byte once: two patches of one range would mean it lost track of a sector. */
function checkNoOverlap (patches: readonly Patch[]): void {
  const sorted = [...patches].sort((a, b) => a.offset - b.offset)
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]
    if (sorted[i].offset < before.offset + before.bytes.length) {
      throw new InternalError(`a commit would write bytes ${sorted[i].offset}-${before.offset + before.bytes.length} twice`)
    }
  }
}

/** Nothing before the old end was touched: drop what was appended, so the file is as it was. */
function dropAppended (fd: number, originalSize: number): void {
  try { fs.ftruncateSync(fd, originalSize) } catch { /* the image reads as before either way */ }
}
