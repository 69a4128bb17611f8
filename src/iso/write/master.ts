import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Writable } from 'node:stream'
import { InvalidInputError } from '../../errors'
import { logger } from '../../log'
import { currentPlatform } from '../../platform'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { Node } from '../model/node'
import { planLayout, type Layout, type WriteContent } from './layout'
import { serializeImage, type WriteProgress } from './serialize'
import type { ImageSettings } from './settings'
import { FdSink, StreamSink } from './sink'

const log = logger('write')

export interface WriteOptions {
  onProgress?: (progress: WriteProgress) => void
}

/**
 * Loads every directory of the tree, Joliet names included (a write needs them all), breadth first, a few
 * at a time.
 */
export async function loadAll (root: Node): Promise<void> {
  let level: Node[] = [root]
  while (level.length > 0) {
    const next: Node[] = []
    for (let i = 0; i < level.length; i += 16) {
      // Directory reads are synchronous: between batches, let a mount answer requests waiting meanwhile.
      await new Promise(resolve => setImmediate(resolve))
      const batch = await Promise.all(level.slice(i, i + 16).map(async n => {
        await n.dir?.complete()
        return n.dir?.peek() ?? []
      }))
      for (const entries of batch) for (const e of entries) if (e.dir !== undefined) next.push(e)
    }
    level = next
  }
}

export async function layoutFor (root: Node, settings: ImageSettings, content: WriteContent): Promise<Layout> {
  await loadAll(root)
  return planLayout(root, settings, content)
}

/**
 * Masters the tree into `target`. A path is written as a temporary file in the same directory, made
 * durable (fsync) and renamed over the target only when complete: a failure never leaves a half-written
 * image under the target's name. A descriptor is written from offset 0; a stream in order.
 */
export async function writeImage (
  layout: Layout, content: WriteContent, target: string | number | Writable, options: WriteOptions = {}
): Promise<{ bytes: number }> {
  const bytes = layout.totalSectors * SECTOR_SIZE
  log('writing %d bytes (%d sectors)', bytes, layout.totalSectors)
  if (typeof target === 'number') {
    // A descriptor may hold old bytes: every byte is written, zeros too.
    await serializeImage(layout, content, new FdSink(target, 0, true, false), options.onProgress)
    return { bytes }
  }
  if (typeof target !== 'string') {
    await serializeImage(layout, content, new StreamSink(target), options.onProgress)
    return { bytes }
  }
  const dir = path.dirname(path.resolve(target))
  await checkFreeSpace(dir, bytes)
  const temp = path.join(dir, `${temporaryPrefix(target)}${process.pid}-${Date.now()}.tmp`)
  const replaced = fs.statSync(target, { throwIfNoEntry: false })
  // Replacing an image: readable by the owner only until it has the old one's permissions (an image of mode
  // 0600 must not be readable by others while its new version is written). A new file: 0666 less the
  // umask, as genisoimage's.
  const fd = fs.openSync(temp, 'wx', replaced !== undefined ? 0o600 : 0o666)
  try {
    await serializeImage(layout, content, new FdSink(fd), options.onProgress)
    if (replaced !== undefined) takeOverAttributes(fd, replaced)
    fs.closeSync(fd)
    fs.renameSync(temp, target)
  } catch (err) {
    try { fs.closeSync(fd) } catch { /* already closed */ }
    fs.rmSync(temp, { force: true })
    throw err
  }
  // The new image is in place. If the directory cannot be synced, a crash could still bring back the old
  // name (the old image, intact): a warning, not a failure, since nothing can undo the rename now.
  try {
    syncDirectory(dir)
  } catch (err) {
    log('warning: the rename of %s is not yet durable: %s', target, (err as Error).message)
  }
  return { bytes }
}

/**
 * The new image replaces the old one under its name, so it keeps the old one's mode and (where we may set
 * it) owner, as an editor saving by rename does. Other hard links to the old image keep the old content:
 * a rename cannot change that (commits of such an image append instead: commit.ts).
 */
function takeOverAttributes (fd: number, old: fs.Stats): void {
  try {
    fs.fchownSync(fd, old.uid, old.gid)
  } catch { /* not ours to give away: the image becomes ours, as a copy made by cp would */ }
  fs.fchmodSync(fd, old.mode & 0o7777)
}

function temporaryPrefix (target: string): string {
  return `.${path.basename(target)}.isomount-`
}

/**
 * Removes what a killed writer left beside `target`: temporary images of processes that no longer run.
 * Returns how many. (The target itself was never touched by them: they are renamed over it only whole.)
 */
export function removeStaleTemporaries (target: string): number {
  const dir = path.dirname(path.resolve(target))
  const prefix = temporaryPrefix(target)
  let removed = 0
  for (const name of fs.readdirSync(dir)) {
    const pid = name.startsWith(prefix) && name.endsWith('.tmp') ? Number(name.slice(prefix.length).split('-')[0]) : NaN
    if (!Number.isInteger(pid) || currentPlatform().processStatus(pid) !== undefined) continue
    fs.rmSync(path.join(dir, name), { force: true })
    removed++
  }
  return removed
}

export async function checkFreeSpace (dir: string, bytes: number): Promise<void> {
  const st = await fs.promises.statfs(dir)
  const available = st.bavail * st.bsize
  if (available < bytes) {
    throw new InvalidInputError('NO_SPACE', `${dir} has ${available} bytes free; the image needs ${bytes}`)
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export function syncDirectory (dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
