import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Writable } from 'node:stream'
import { logger } from '../../log'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { checkFreeSpace, syncDirectory, temporaryPrefix } from '../io/durable-file'
import type { Node } from '../model/node'
import { loadAll } from '../read/load-all'
import { planLayout, type Layout, type WriteContent } from './layout'
import { serializeImage, type WriteProgress } from './serialize'
import type { ImageSettings } from './settings'
import { FdSink, StreamSink } from './sink'

const log = logger('write')

export interface WriteOptions {
  onProgress?: (progress: WriteProgress) => void
  /**
   * Called with the new file's descriptor once every byte is written, before it is made durable and
   * renamed into place (path targets only): a commit writes the image's implantisomd5 sum there.
   */
  finish?: (fd: number) => Promise<void>
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
  // Read and write: a commit reads the new image back for its implantisomd5 sum (options.finish).
  const fd = fs.openSync(temp, 'wx+', replaced !== undefined ? 0o600 : 0o666)
  try {
    await serializeImage(layout, content, new FdSink(fd), options.onProgress)
    if (options.finish !== undefined) {
      await options.finish(fd)
      fs.fsyncSync(fd)
    }
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

