import { FileByteSource } from '../io/byte-source'
import type { BootConfiguration } from '../model/boot'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource, ZisofsSource } from '../model/data-source'
import { OverlayData } from '../model/overlay-data'
import { Region } from '../model/payload'
import { treeSets, writtenForeignEntries } from '../write/layout'
import type { CommitResult } from './commit'

/**
 * After a commit the model reads from where things now are: changed and new files from their new
 * extents (their overlays and temporary files are dropped), every record and directory from its new place
 * (for the next commit, which patches and rewrites them there). After a remaster that is a new file,
 * opened here; the old one is closed. Returns the source to read the image from.
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
  const remastered = result.mode === 'remaster'
  // Content written where it was: the same extent, its new size.
  for (const inode of changes.data) {
    const overlay = inode.data
    if (!(overlay instanceof OverlayData) || !(overlay.base instanceof ImageExtentsSource)) continue
    if (layout === undefined || remastered || !layout.fixed.has(inode)) continue
    inode.data = new ImageExtentsSource(source, [{ ...overlay.base.sections[0], length: overlay.size }])
    overlay.dispose()
  }
  if (layout === undefined) return source
  for (const [holder, sections] of layout.placed) {
    if (layout.fixed.has(holder) && !remastered) continue
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
  // The checksum indexes written now (isofs.cx) are the ones a check or the next commit must read.
  if (layout.sessionMd5 !== undefined) for (const [node, entries] of writtenForeignEntries(layout)) node.foreignSystemUse = entries.length > 0 ? [...entries] : undefined
  // Where each directory written now is, per tree (the volume's own set; a partition's set mirrors it).
  const [own] = treeSets(layout)
  for (const tree of ['iso', 'joliet'] as const) {
    for (const plan of own[tree]?.directories ?? []) {
      const dir = plan.node.dir
      if (dir === undefined) continue
      // In the object the tree loader shares (a directory not yet read would be read from there).
      dir.extents ??= {}
      dir.extents[tree] = { extent: plan.extent, size: plan.size }
      if (tree === 'iso' || plan.node.names.iso === undefined) plan.node.inode.recordedDirectorySize = plan.size
    }
  }
  return source
}
