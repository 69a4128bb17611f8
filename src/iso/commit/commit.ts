import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import { logger } from '../../log'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ChangeSet } from '../model/change-set'
import type { Node } from '../model/node'
import { checkFreeSpace } from '../io/durable-file'
import { writeImage } from '../write/master'
import { planLayout, primaryLbaOf, type Layout, type WriteContent } from '../write/layout'
import type { ImplantedMd5 } from '../codec/isomd5sum'
import { FileByteSource } from '../io/byte-source'
import type { PartialLayout } from '../write/partial-layout'
import type { RecordedMd5 } from '../write/session-md5'
import type { Patch } from './journal'
import type { ImageSettings } from '../write/settings'
import { pathOf } from '../write/tree-plan'
import { applyAppend, planAppend } from './append'
import type { CommitContext } from './context'
import { applyDelta } from './delta-apply'
import { planDelta, type DeltaPlan } from './delta-plan'
import {
  checksumNotes, hasSessionMd5, implantPatch, mediaChecksumsOf, recordedMd5Of, sessionMd5Keeping, sessionMd5Patches, type MediaChecksums, type ReadImage,
  type SessionMd5Keeping
} from './media-checksums'

const log = logger('commit')

export type CommitMode = 'auto' | 'inplace' | 'append' | 'remaster'

export interface CommitOptions {
  /**
   * inplace: only what fits where it is (fails otherwise); append: what changed, in place where it fits and
   * after the image's end where it does not; remaster: a new image; auto (default): append, or remaster
   * when appending would leave more than `maxDeadShare` of the image dead.
   */
  mode?: CommitMode
  /** auto: remaster rather than append when more than this share of the image would be dead (0.5). */
  maxDeadShare?: number
  onProgress?: (progress: CommitProgress) => void
}

export interface CommitProgress {
  mode: 'inplace' | 'append' | 'remaster'
  /** Set while the image is read back for its checksums, implantisomd5's or xorriso's (the bytes are then bytes read). */
  phase?: 'checksum'
  bytesWritten: number
  totalBytes: number
}

export interface CommitResult {
  /** What was done: inplace when nothing had to go after the image's end. */
  mode: 'unchanged' | 'inplace' | 'append' | 'remaster'
  bytesWritten: number
  /** Where everything went: what a rebase of the model needs. */
  layout?: Layout
  /** Why the cheaper ways were not taken (a whole tree written, a remaster). */
  reasons: string[]
  /** What happened to the image's media checksums (implantisomd5's and xorriso's rewritten, or dropped and why), if it had any. */
  notes?: string[]
}

export interface CommitInput {
  context: CommitContext
  root: Node
  settings: ImageSettings
  changes: ChangeSet
  /** What is written besides the tree; `whole`: for a whole-tree write (every directory loaded, guessed sizes settled). */
  content: (whole: boolean) => Promise<WriteContent>
  /** Loads the whole tree and fails unless it was read without a single irregularity (a whole-tree write needs it). */
  wholeTree: () => Promise<void>
}

/** Below this share of the image, what a commit appends and leaves dead is not worth counting the dead space for. */
const DEAD_SPACE_CHECK = 1 / 8

/**
 * Writes the changes into the image. Normally only what changed (delta-plan.ts): in place where it fits,
 * the rest after the image's end, the commit point through the journal. What that cannot do is written as
 * a whole new tree after the image (append.ts); a forced or worthwhile remaster writes a new image. A
 * forced mode that cannot be done fails with the reason. On any failure the image is as it was before.
 */
export async function commitChanges (input: CommitInput, options: CommitOptions = {}): Promise<CommitResult> {
  const mode = options.mode ?? 'auto'
  const reasons: string[] = []
  const progress: Progress = (m, phase) => (written, total) => options.onProgress?.({ mode: m, phase, bytesWritten: written, totalBytes: total })
  const { context, root, settings, changes } = input
  const checksums = await mediaChecksumsOf(context)
  const keeping = sessionMd5Keeping(context, checksums, settings)
  const done = (result: CommitResult): CommitResult => ({ ...result, notes: checksumNotes(checksums, keeping) })
  // What a whole tree is written with: xorriso's session MD5s, when they are kept (appends extend the session).
  const wholeContent = async (session: 'extend' | 'new'): Promise<WriteContent> => {
    const whole = await input.content(true)
    if (keeping === undefined || !('request' in keeping)) return whole
    return { ...whole, sessionMd5: { ...keeping.request, start: session === 'new' ? 0 : keeping.request.start } }
  }

  if (mode !== 'remaster') {
    let content = await input.content(false)
    // xorriso's session MD5s are written with a whole tree (media-checksums.ts): a change in place would
    // leave the session and tree tags wrong, and a new file has no room in the checksum array.
    let delta: Awaited<ReturnType<typeof planDelta>> = hasSessionMd5(checksums)
      ? { reason: 'the image carries xorriso session MD5s (-md5 on), which only a whole tree is written with' }
      : await planDelta({ context, root, settings, content, changes })
    if ('layout' in delta && delta.layout.appends) {
      if (mode === 'inplace') throw new InvalidInputError('UNSUPPORTED', `cannot commit in place: ${whyAppended(delta.layout)}`)
      if (mode === 'auto' && worthCounting(delta, context)) {
        // A large change: count the dead space the image would have, which needs the whole tree.
        const dead = await deadShareAfter(input)
        const limit = options.maxDeadShare ?? 0.5
        if (dead !== undefined && dead > limit && !hasOtherLinks(context.path)) {
          reasons.push(`append: ${Math.round(dead * 100)}% of the image would be dead space`)
          return done(await remaster(input, reasons, progress, checksums, keeping))
        }
        // The whole tree is loaded now and guessed sizes are settled: plan again with them.
        content = await input.content(true)
        delta = await planDelta({ context, root, settings, content, changes })
      }
    }
    if ('layout' in delta) {
      if (mode === 'inplace' && delta.layout.appends) throw new InvalidInputError('UNSUPPORTED', `cannot commit in place: ${whyAppended(delta.layout)}`)
      return done(await commitDelta(input, delta, content, reasons, progress, checksums))
    }
    reasons.push(`only what changed: ${delta.reason}`)
    if (mode === 'inplace') throw new InvalidInputError('UNSUPPORTED', `cannot commit in place: ${delta.reason}`)
    await input.wholeTree()
    content = await wholeContent('extend')
    const plan = await planAppend(context, settings, root, content)
    if ('layout' in plan) {
      const limit = options.maxDeadShare ?? 0.5
      if (mode === 'append' || plan.deadShare <= limit || hasOtherLinks(context.path)) {
        const bytes = (plan.layout.totalSectors - plan.layout.bodyStartLba) * SECTOR_SIZE
        await checkFreeSpace(path.dirname(context.path), bytes)
        log('append (whole tree): %d bytes after LBA %d (dead share %s)', bytes, plan.layout.bodyStartLba, plan.deadShare.toFixed(2))
        const recorded = keeping !== undefined && 'request' in keeping ? recordedMd5Of(context, plan.layout, content, keeping.array) : undefined
        const written = await applyAppend(context, plan, content, progress('append'), checksums, progress('append', 'checksum'), recorded)
        return done({ mode: 'append', bytesWritten: written, layout: plan.layout, reasons })
      }
      reasons.push(`append: ${Math.round(plan.deadShare * 100)}% of the image would be dead space`)
    } else {
      reasons.push(`append: ${plan.reason}`)
      if (mode === 'append') throw new InvalidInputError('UNSUPPORTED', `cannot commit by appending: ${plan.reason}`)
    }
  }
  return done(await remaster(input, reasons, progress, checksums, keeping))
}

type Progress = (mode: CommitProgress['mode'], phase?: 'checksum') => (written: number, total: number) => void

async function commitDelta (
  input: CommitInput, delta: DeltaPlan, content: WriteContent, reasons: string[], progress: Progress, checksums: MediaChecksums
): Promise<CommitResult> {
  const { context } = input
  const layout = delta.layout
  const appended = (layout.totalSectors - layout.bodyStartLba) * SECTOR_SIZE
  const inPlace = delta.patches.reduce((sum, p) => sum + p.bytes.length, 0) +
    [...layout.dirty.iso.values(), ...layout.dirty.joliet.values()].reduce((sum, d) => sum + d.size, 0)
  // The appended bytes, and the journal holding what is written in place (twice that, with its fingerprints).
  await checkFreeSpace(path.dirname(context.path), Math.max(0, appended) + 2 * inPlace + 64 * 1024)
  const mode = layout.appends ? 'append' : 'inplace'
  log('%s: %d directories written, %d bytes appended after LBA %d, %d patches', mode,
    layout.dirty.iso.size + layout.dirty.joliet.size, Math.max(0, appended), layout.bodyStartLba, delta.patches.length)
  const written = await applyDelta(context, delta, content, progress(mode), checksums.implanted, progress(mode, 'checksum'))
  return { mode, bytesWritten: written, layout, reasons }
}

async function remaster (
  input: CommitInput, reasons: string[], progress: Progress, checksums: MediaChecksums, keeping: SessionMd5Keeping | undefined
): Promise<CommitResult> {
  await input.wholeTree()
  const { layout, content, finish } = newImage(input.root, input.settings, await input.content(true), input.context, checksums, keeping, progress('remaster', 'checksum'))
  log('remaster: %d bytes', layout.totalSectors * SECTOR_SIZE)
  // writeImage checks free space, writes a temporary file beside the image, fsyncs and renames it over.
  const result = await writeImage(layout, content, input.context.path, { onProgress: p => progress('remaster')(p.bytesWritten, p.totalBytes), finish })
  return { mode: 'remaster', bytesWritten: result.bytes, layout, reasons }
}

/**
 * A new image written whole (a remaster, IsoImage.write to a path) from one that was read: laid out with
 * xorriso's session MD5s from 0 when they are kept, and what writes its checksums before it is renamed.
 */
export function newImage (
  root: Node, settings: ImageSettings, content: WriteContent, read: ReadImage, checksums: MediaChecksums, keeping: SessionMd5Keeping | undefined,
  onProgress?: (done: number, total: number) => void
): { layout: Layout, content: WriteContent, finish?: (fd: number) => Promise<void> } {
  const keep = keeping !== undefined && 'request' in keeping ? keeping : undefined
  const written = keep !== undefined ? { ...content, sessionMd5: { ...keep.request, start: 0 } } : content
  const layout = planLayout(root, settings, written)
  const recorded = keep !== undefined ? recordedMd5Of(read, layout, written, keep.array) : undefined
  return { layout, content: written, finish: finishChecksums(layout, { implanted: checksums.implanted, recorded }, onProgress) }
}

/**
 * For a new image written whole: its checksums, written into it before it is made durable: xorriso's
 * session MD5s where the layout places them (`recorded`: files' sums taken over), then implantisomd5's
 * (never both: media-checksums.ts). Undefined when it has none.
 */
export function finishChecksums (
  layout: Layout, sums: { implanted?: ImplantedMd5, recorded?: RecordedMd5 }, onProgress?: (done: number, total: number) => void
): ((fd: number) => Promise<void>) | undefined {
  if (sums.implanted === undefined && layout.sessionMd5 === undefined) return undefined
  return async fd => {
    const write = (patches: Patch[]): void => { for (const p of patches) fs.writeSync(fd, p.bytes, 0, p.bytes.length, p.offset) }
    if (layout.sessionMd5 !== undefined) write(await sessionMd5Patches(layout, await FileByteSource.fromFd(fd), sums.recorded ?? (() => undefined), onProgress))
    if (sums.implanted !== undefined) write([await implantPatch(await FileByteSource.fromFd(fd), primaryLbaOf(layout), sums.implanted, onProgress)])
  }
}

/** What this commit appends and leaves dead is a fair share of the image: worth counting the dead space. */
function worthCounting (delta: DeltaPlan, context: CommitContext): boolean {
  const oldSectors = Math.ceil(context.source.size / SECTOR_SIZE)
  const appended = delta.layout.totalSectors - delta.layout.bodyStartLba
  return (appended + delta.freedSectors) >= oldSectors * DEAD_SPACE_CHECK
}

/**
 * The share of the image no tree would refer to after an append, counted over the whole tree (as an
 * append of the whole tree would leave it); undefined when the whole tree cannot be written (not fully
 * understood), so that no remaster is tried.
 */
async function deadShareAfter (input: CommitInput): Promise<number | undefined> {
  try {
    await input.wholeTree()
  } catch {
    return undefined
  }
  const plan = await planAppend(input.context, input.settings, input.root, await input.content(true))
  return 'layout' in plan ? plan.deadShare : undefined
}

/** A remaster renames a new file over the image: other hard links to it would keep the old version. */
function hasOtherLinks (imagePath: string): boolean {
  return fs.statSync(imagePath).nlink > 1
}

/** Why a delta commit appends (what an in-place commit refuses). */
function whyAppended (layout: PartialLayout): string {
  for (const tree of ['iso', 'joliet'] as const) {
    for (const [node, plan] of layout.dirty[tree]) {
      if (plan.extent >= layout.bodyStartLba) {
        return node.dir?.extents?.[tree] === undefined
          ? `directory ${pathOf(node)} is new`
          : `directory ${pathOf(node)} no longer fits its extent (entries were added or renamed)`
      }
    }
  }
  for (const tree of ['iso', 'joliet'] as const) {
    const table = layout[tree]?.pathTable
    if (table !== undefined && table.lLba >= layout.bodyStartLba) return 'the path table grew past its sectors'
  }
  if (layout.continuation.sectors > 0) return 'Rock Ridge entries need a new continuation area'
  return 'file data is new, or does not fit the extent it has'
}
