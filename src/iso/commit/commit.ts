import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import { logger } from '../../log'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { Node } from '../model/node'
import type { ChangeSet } from '../model/change-set'
import { checkFreeSpace, writeImage } from '../write/master'
import { planLayout, type Layout, type WriteContent } from '../write/layout'
import type { ImageSettings } from '../write/settings'
import { applyAppend, planAppend } from './append'
import type { CommitContext } from './context'
import { applyInPlace, planInPlace } from './in-place'

const log = logger('commit')

export type CommitMode = 'auto' | 'inplace' | 'append' | 'remaster'

export interface CommitOptions {
  mode?: CommitMode
  /** auto: remaster rather than append when more than this share of the image would be dead (0.5). */
  maxDeadShare?: number
  onProgress?: (progress: CommitProgress) => void
}

export interface CommitProgress {
  mode: 'inplace' | 'append' | 'remaster'
  bytesWritten: number
  totalBytes: number
}

export interface CommitResult {
  mode: 'unchanged' | 'inplace' | 'append' | 'remaster'
  bytesWritten: number
  /** Where everything went (append and remaster): what a rebase of the model needs. */
  layout?: Layout
  /** Why in place (and, for remaster, append) was not possible. */
  reasons: string[]
}

export interface CommitInput {
  context: CommitContext
  root: Node
  settings: ImageSettings
  content: WriteContent
  changes: ChangeSet
}

/**
 * Writes the changes into the image, choosing (mode auto) in place when every change fits, else append
 * unless that would leave more than `maxDeadShare` of the image dead, else remaster. A forced mode that
 * cannot be done fails with the reason. On any failure the image is as it was before the commit.
 */
export async function commitChanges (input: CommitInput, options: CommitOptions = {}): Promise<CommitResult> {
  const mode = options.mode ?? 'auto'
  const reasons: string[] = []
  const progress = (m: CommitProgress['mode']) => (written: number, total: number) => options.onProgress?.({ mode: m, bytesWritten: written, totalBytes: total })
  const { context, root, settings, content, changes } = input

  if (mode === 'auto' || mode === 'inplace') {
    const plan = await planInPlace(context, root, settings, changes, content)
    if ('patches' in plan) {
      const bytes = plan.patches.reduce((sum, p) => sum + p.bytes.length, 0)
      await checkFreeSpace(path.dirname(context.path), bytes) // the journal holds them all
      log('in place: %d patches, %d bytes', plan.patches.length, bytes)
      progress('inplace')(0, bytes)
      const written = applyInPlace(context, plan.patches)
      progress('inplace')(written, written)
      return { mode: 'inplace', bytesWritten: written, reasons }
    }
    reasons.push(`in place: ${plan.reason}`)
    if (mode === 'inplace') throw new InvalidInputError('UNSUPPORTED', `cannot commit in place: ${plan.reason}`)
  }

  if (mode === 'auto' || mode === 'append') {
    const plan = await planAppend(context, settings, root, content)
    if ('layout' in plan) {
      const limit = options.maxDeadShare ?? 0.5
      // A remaster renames a new file over the image: other hard links to it would keep the old version.
      const linked = fs.statSync(context.path).nlink > 1
      if (mode === 'append' || plan.deadShare <= limit || linked) {
        const bytes = (plan.layout.totalSectors - plan.layout.bodyStartLba) * SECTOR_SIZE
        await checkFreeSpace(path.dirname(context.path), bytes)
        log('append: %d bytes after LBA %d (dead share %s)', bytes, plan.layout.bodyStartLba, plan.deadShare.toFixed(2))
        const written = await applyAppend(context, plan, content, progress('append'))
        return { mode: 'append', bytesWritten: written, layout: plan.layout, reasons }
      }
      reasons.push(`append: ${Math.round(plan.deadShare * 100)}% of the image would be dead space`)
    } else {
      reasons.push(`append: ${plan.reason}`)
      if (mode === 'append') throw new InvalidInputError('UNSUPPORTED', `cannot commit by appending: ${plan.reason}`)
    }
  }

  const layout = planLayout(root, settings, content)
  log('remaster: %d bytes', layout.totalSectors * SECTOR_SIZE)
  // writeImage checks free space, writes a temporary file beside the image, fsyncs and renames it over.
  const result = await writeImage(layout, content, context.path, {
    onProgress: p => progress('remaster')(p.bytesWritten, p.totalBytes)
  })
  return { mode: 'remaster', bytesWritten: result.bytes, layout, reasons }
}
