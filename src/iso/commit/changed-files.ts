import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ChangeSet } from '../model/change-set'
import { ImageExtentsSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Node } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import { Region } from '../model/payload'
import type { FileSectionPlan, Placed } from '../write/layout'
import { loadAll } from '../read/load-all'
import type { ImageSettings } from '../write/settings'
import type { CommitContext } from './context'
import type { Patch } from './journal'
import { attached } from './record-updates'

/*
 * The files a commit changed: every name they have (records to patch), and where their data goes (in
 * place where its extent holds it, through the journal; else after the image).
 */

/** More changed file data than this is appended instead: the journal would hold it all twice. */
export const MAX_IN_PLACE_DATA = 64 * 1024 * 1024

/**
 * Every name (node) of each changed inode. Looked for in the directories the changes were made through;
 * a file with more names than found there (its Rock Ridge link count, RRIP 4.1.1), a file of an image
 * that records no link counts, or a directory not found, is looked for in the whole tree, loaded for it.
 */
export async function namesOf (inodes: ReadonlySet<Inode>, changes: ChangeSet, root: Node, settings: ImageSettings): Promise<Map<Inode, Node[]>> {
  const names = new Map<Inode, Node[]>()
  const add = (node: Node): void => {
    const list = names.get(node.inode)
    if (list === undefined) names.set(node.inode, [node])
    else list.push(node)
  }
  if (inodes.has(root.inode)) add(root)
  const byDir = new Map<Node, Set<Inode>>()
  for (const inode of inodes) {
    for (const dir of changes.seenIn.get(inode) ?? []) {
      if (!attached(dir, root)) continue
      const wanted = byDir.get(dir)
      if (wanted === undefined) byDir.set(dir, new Set([inode]))
      else wanted.add(inode)
    }
  }
  for (const [dir, wanted] of byDir) {
    await dir.dir?.complete()
    for (const child of dir.dir?.peek() ?? []) if (wanted.has(child.inode)) add(child)
  }
  const incomplete = [...inodes].some(inode => inode !== root.inode && !allNamesFound(inode, names.get(inode) ?? [], settings))
  if (!incomplete) return names
  await loadAll(root)
  names.clear()
  if (inodes.has(root.inode)) add(root)
  const stack: Node[] = [root]
  while (stack.length > 0) {
    for (const child of (stack.pop() as Node).dir?.peek() ?? []) {
      if (inodes.has(child.inode)) add(child)
      if (child.dir !== undefined) stack.push(child)
    }
  }
  return names
}

function allNamesFound (inode: Inode, found: readonly Node[], settings: ImageSettings): boolean {
  if (inode.kind === 'directory') return found.length > 0
  // Content that never had a record in the image is named only in directories written anew.
  if (!found.some(n => n.origin !== undefined) && !isImageData(inode)) return true
  if (settings.rockRidge === undefined || !inode.posix) return false
  return found.filter(n => n.names.iso !== undefined).length >= inode.nlink
}

function isImageData (inode: Inode): boolean {
  const data = inode.data instanceof OverlayData ? inode.data.base : inode.compressed?.raw ?? inode.data
  return data instanceof ImageExtentsSource
}

/** A changed file's new content where its extent holds it: the bytes that changed, and the file's one section. */
export async function inPlaceData (
  inode: Inode, context: CommitContext, budget: number
): Promise<{ sections: FileSectionPlan[], patches: Patch[], bytes: number } | undefined> {
  const overlay = inode.data
  if (!(overlay instanceof OverlayData) || !(overlay.base instanceof ImageExtentsSource) || overlay.base.image !== context.source) return undefined
  const sections = overlay.base.sections
  if (sections.length !== 1 || sections[0].unitSize !== 0) return undefined
  if (overlay.size > Math.ceil(sections[0].length / SECTOR_SIZE) * SECTOR_SIZE) return undefined
  const patches: Patch[] = []
  let bytes = 0
  for (const [start, end] of overlay.changedRanges()) {
    bytes += end - start
    if (bytes > budget) return undefined
    const changed = Buffer.alloc(end - start)
    await overlay.read(changed, 0, changed.length, start)
    patches.push({ offset: sections[0].lba * SECTOR_SIZE + start, bytes: changed })
  }
  return { sections: [{ lba: sections[0].lba, length: overlay.size }], patches, bytes }
}

/** Where data stays: the image's own extents, unless it changed (then only where written in place). */
export function keptPlace (holder: Placed, context: CommitContext, changes: ChangeSet, inPlace: ReadonlyMap<Inode, FileSectionPlan[]>): FileSectionPlan[] | undefined {
  if (!(holder instanceof Region) && changes.data.has(holder)) return inPlace.get(holder)
  const data = holder instanceof Region ? holder.data : holder.compressed?.raw ?? holder.data
  if (!(data instanceof ImageExtentsSource) || data.image !== context.source) return undefined
  // Interleaved sections (ECMA-119 6.4.3) cannot be described again by our records: rewrite those.
  if (data.sections.some(s => s.unitSize !== 0 && s.gapSize !== 0)) return undefined
  return data.sections.map(s => ({ lba: s.lba, length: s.length }))
}
