import { FileByteSource } from '../io/byte-source'
import type { BootConfiguration } from '../model/boot'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource, ZisofsSource } from '../model/data-source'
import { OverlayData } from '../model/overlay-data'
import { Region } from '../model/payload'
import type { CommitResult } from './commit'

/**
 * After a commit the model reads from where things now are: changed and new files from their new
 * extents (their overlays and temporary files are dropped), every record from its new place (for the
 * next in-place commit). After a remaster that is a new file, opened here; the old one is closed.
 * Returns the source to read the image from.
 */
export async function rebaseAfterCommit (
  result: CommitResult, previous: FileByteSource, path: string, changes: ChangeSet, boot: BootConfiguration | undefined
): Promise<FileByteSource> {
  let source = previous
  if (result.mode === 'remaster') {
    source = await FileByteSource.open(path)
    await previous.close()
  } else {
    await source.refresh()
  }
  const layout = result.layout
  if (layout === undefined) {
    // In place: every changed file is where it was, with its new size.
    for (const inode of changes.data) {
      const overlay = inode.data as OverlayData
      const base = overlay.base as ImageExtentsSource
      inode.data = new ImageExtentsSource(source, [{ ...base.sections[0], length: overlay.size }])
      overlay.dispose()
    }
    return source
  }
  for (const [holder, sections] of layout.placed) {
    if (layout.fixed.has(holder) && result.mode !== 'remaster') continue
    const extents = new ImageExtentsSource(source, sections.map(s => ({ lba: s.lba, length: s.length, unitSize: 0, gapSize: 0 })))
    if (holder instanceof Region) {
      holder.data = extents
      continue
    }
    const inode = holder
    if (inode.data instanceof OverlayData) inode.data.dispose()
    if (inode.compressed !== undefined) {
      inode.compressed = { raw: extents, zisofs: inode.compressed.zisofs }
      inode.data = new ZisofsSource(extents, inode.compressed.zisofs.uncompressedSize, extents.lba)
    } else {
      inode.data = extents
    }
  }
  if (boot !== undefined && layout.bootCatalog !== undefined) {
    boot.catalog.data = new ImageExtentsSource(source, [{ lba: layout.bootCatalog.lba, length: layout.bootCatalog.size, unitSize: 0, gapSize: 0 }])
  }
  for (const [node, origin] of layout.written) node.origin = origin
  return source
}
