import * as fs from 'node:fs'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { WarningLog } from '../codec/diagnostics'
import { ImageExtentsSource } from '../model/data-source'
import { readDescriptorSet } from '../read/descriptors'
import type { Node } from '../model/node'
import { Region } from '../model/payload'
import { descriptorSequence, planLayout, primaryLbaOf, type FileSectionPlan, type Layout, type Placed, type WriteContent } from '../write/layout'
import { SectorWriter } from '../write/sector-writer'
import { serializeBody, serializeHead } from '../write/serialize'
import { payloadsOf } from '../write/system-area-writer'
import type { ImageSettings } from '../write/settings'
import { FdSink } from '../write/sink'
import type { CommitContext } from './context'
import { applyJournaled, journalPending, JournaledByteSource, writeAll, type Patch } from './journal'
import { implantPatch, sessionMd5Patches, tagErasures, tagLbas, type MediaChecksums } from './media-checksums'
import type { RecordedMd5 } from '../write/session-md5'
import { FileByteSource, readExactly, type ByteSource } from '../io/byte-source'

/*
 * Append ("growing", as xorriso calls it): new and changed file data and a complete new directory tree go
 * after the current end of the image; unchanged files stay where they are and the new tree points at
 * them. Only once all of that is on disk (fsync) are the system area and volume descriptors rewritten,
 * through the journal: the commit point. Until then the old tree is intact and the image reads as before.
 *
 * Appended partitions (an EFI System Partition after the volume, as Ubuntu's and Debian's images have)
 * cannot stay where they are: the grown volume would cover them, and the partition describing the volume
 * would overlap theirs. So they are copied after the new data, byte for byte, and every entry pointing at
 * them (MBR, GPT, APM, El Torito) follows; the backup GPT goes to the new end. The old copies become dead
 * space inside the volume, reclaimed by the next remaster. Hidden boot images inside the volume stay put.
 */

export interface AppendPlan {
  layout: Layout
  /** Share of the grown image no tree refers to any more (old trees, replaced data). */
  deadShare: number
}

export async function planAppend (context: CommitContext, settings: ImageSettings, root: Node, content: WriteContent): Promise<AppendPlan | { reason: string }> {
  // Its descriptors, anchor and partition are at fixed places before the data: rewriting them in an
  // appended session would not be the one atomic step an append's commit point is.
  if (settings.udf !== undefined) return { reason: 'the image has a UDF file system, whose structures at sectors 32-257 an append cannot rewrite atomically' }
  const { source, descriptors } = context
  const fixed = new Map<Placed, FileSectionPlan[]>()
  const keep = (holder: Placed): void => {
    if (holder instanceof Region && holder.place === 'appended') return
    const data = holder instanceof Region ? holder.data : holder.compressed?.raw ?? holder.data
    if (!(data instanceof ImageExtentsSource) || data.image !== source) return
    // Interleaved sections (ECMA-119 6.4.3) cannot be described again by our records: rewrite those.
    if (data.sections.some(s => s.unitSize !== 0 && s.gapSize !== 0)) return
    fixed.set(holder, data.sections.map(s => ({ lba: s.lba, length: s.length })))
  }
  walk(root, node => keep(node.inode))
  for (const payload of payloadsOf(content)) keep(payload.holder)
  if (content.boot !== undefined) fixed.delete(content.boot.catalog)

  let startLba = Math.ceil(source.size / SECTOR_SIZE)
  const session = content.sessionMd5 !== undefined && content.sessionMd5.start > 0 ? await nextSessionStart(source, content.sessionMd5.start, fixed) : undefined
  if (content.sessionMd5 !== undefined && session !== undefined) {
    // A new session, where xorriso would start it: its descriptors copied at its start + 16, its
    // superblock tag after them, then the body. Only it is summed; the sessions before keep their tags.
    content = { ...content, sessionMd5: { ...content.sessionMd5, start: session, newSession: true } }
    startLba = session + descriptorSequence(settings, content).terminatorLba + 2
  }
  const layout = planLayout(root, settings, content, { fixed, startLba })
  if (layout.terminatorLba > descriptors.terminatorLba) {
    return { reason: `the new descriptor set needs ${layout.terminatorLba - 15} sectors where the image has ${descriptors.terminatorLba - 15}` }
  }
  if (layout.mirror !== undefined) {
    // The partition's descriptor set (xorriso -partition_offset) is rewritten in place too: it must fit.
    const old = await readDescriptorSet(source, new WarningLog(false), layout.mirror.base).catch(() => undefined)
    if (old === undefined || layout.mirror.terminatorLba > old.terminatorLba) {
      return { reason: 'the partition\'s descriptor set (xorriso -partition_offset) would not fit where the image has it' }
    }
  }
  if (layout.totalSectors > 0xffffffff) return { reason: 'the image would exceed 2^32 sectors' }
  const keptSectors = [...fixed.values()].flat().reduce((sum, s) => sum + Math.ceil(s.length / SECTOR_SIZE), 0)
  const live = keptSectors + (layout.totalSectors - startLba) + descriptors.terminatorLba + 1
  return { layout, deadShare: Math.max(0, 1 - live / layout.totalSectors) }
}

export async function applyAppend (
  context: CommitContext, plan: AppendPlan, content: WriteContent, onProgress: (written: number, total: number) => void,
  checksums?: MediaChecksums, onChecksumProgress?: (done: number, total: number) => void, recorded?: RecordedMd5
): Promise<number> {
  const { layout } = plan
  const fd = fs.openSync(context.path, 'r+')
  try {
    const originalSize = fs.fstatSync(fd).size
    const start = layout.bodyStartLba * SECTOR_SIZE
    const total = layout.totalSectors * SECTOR_SIZE
    try {
      const out = new SectorWriter(new FdSink(fd, start), total, p => onProgress(p.bytesWritten - start, total - start), start)
      await serializeBody(layout, content, out)
      await out.finish()
    } catch (err) {
      dropAppended(fd, originalSize, start)
      throw err
    }
    // The commit point: descriptors (and the hybrid MBR/GPT), with the old set's descriptors beyond the new
    // terminator cleared, through the journal, so that even a torn write of these sectors is completed or
    // undone. The appended body is not truncated after this point: a journal left by a failure refers to it.
    const head = serializeHead(layout, content)
    const span = Buffer.alloc(Math.max(head.length, (context.descriptors.terminatorLba + 1) * SECTOR_SIZE))
    head.copy(span)
    // xorriso's tags of the old session would no longer match: cleared in the same write, or overwritten
    // by the new ones. After a new session, the old one is as it was: only its relocated tag at 16 goes.
    const old = checksums !== undefined && layout.sessionMd5?.newSession === true
      ? { ...checksums, sessionTags: checksums.sessionTags.filter(t => t.tag.type === 'relocated-superblock') }
      : checksums
    const patches: Patch[] = [{ offset: 0, bytes: span }, ...(old !== undefined ? tagErasures(old, span.length, tagLbas(layout)) : [])]
    if (layout.sessionMd5 !== undefined) {
      try {
        // What lies after the old end is written now and made durable with the body; what lies before it
        // (the superblock tag and copy, the relocated tag) goes with the descriptors, through the journal.
        const final = new JournaledByteSource(await FileByteSource.fromFd(fd), patches)
        for (const patch of await sessionMd5Patches(layout, final, recorded ?? (() => undefined), onChecksumProgress)) {
          if (patch.offset >= start) writeAll(fd, patch.bytes, patch.offset)
          else patches.push(patch)
        }
        fs.fsyncSync(fd)
      } catch (err) {
        dropAppended(fd, originalSize, start)
        throw err
      }
    }
    if (checksums?.implanted !== undefined) {
      try {
        // Every other byte of the new image is final now (the body is durable, the head is `patches`).
        const final = new JournaledByteSource(await FileByteSource.fromFd(fd), patches)
        const field = await implantPatch(final, primaryLbaOf(layout), checksums.implanted, onChecksumProgress)
        field.bytes.copy(span, field.offset)
      } catch (err) {
        dropAppended(fd, originalSize, start)
        throw err
      }
    }
    try {
      applyJournaled(context.path, fd, patches)
    } catch (err) {
      // No journal left means the old descriptors are in place (or were never touched): as before.
      if (!journalPending(context.path)) dropAppended(fd, originalSize, start)
      throw err
    }
    return total - start
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Where xorriso starts the session after the one at `current` (libisoburn's emulated table of contents on
 * a file finds each session at the multiple of 32 sectors after the previous one's end, as that session's
 * own primary descriptor gives its size: it found none elsewhere), when the image has nothing from there
 * on but zeros (xorriso's padding) and no data `fixed` keeps there; undefined otherwise (the session is
 * extended instead).
 */
async function nextSessionStart (source: ByteSource, current: number, fixed: Map<Placed, FileSectionPlan[]>): Promise<number | undefined> {
  const pvd = await readExactly(source, (current + 16) * SECTOR_SIZE, SECTOR_SIZE, { structure: 'session primary volume descriptor', lba: current + 16 })
  if (pvd[0] !== 1) return undefined
  const start = Math.ceil((current + pvd.readUInt32LE(80)) / 32) * 32
  const end = Math.ceil(source.size / SECTOR_SIZE)
  if ([...fixed.values()].flat().some(s => s.lba + Math.ceil(s.length / SECTOR_SIZE) > start)) return undefined
  const buf = Buffer.alloc(64 * 1024)
  for (let at = start * SECTOR_SIZE; at < end * SECTOR_SIZE;) {
    const n = await source.read(buf, 0, Math.min(buf.length, end * SECTOR_SIZE - at), at)
    if (n <= 0) break
    if (!buf.subarray(0, n).equals(Buffer.alloc(n))) return undefined
    at += n
  }
  return start
}

/** Nothing the old image holds was touched: drop what was appended, so the file is as it was. */
function dropAppended (fd: number, originalSize: number, start: number): void {
  try {
    fs.ftruncateSync(fd, originalSize)
    // A new xorriso session starts in the old one's padding (nextSessionStart): zeros again.
    if (start < originalSize) writeAll(fd, Buffer.alloc(originalSize - start), start)
  } catch { /* the image reads as before either way */ }
}

function walk (root: Node, visit: (node: Node) => void): void {
  const stack: Node[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    for (const child of node.dir?.peek() ?? []) {
      visit(child)
      if (child.dir !== undefined) stack.push(child)
    }
  }
}
