import type { ChangeSet } from '../model/change-set'
import type { Inode } from '../model/inode'
import type { Node } from '../model/node'
import { inTree, type PartialLayout, type TreeName } from '../write/partial-layout'
import type { ImageSettings } from '../write/settings'
import type { RecordFacts, RecordPatcher } from './record-patcher'

/*
 * Which records a commit that writes only some directories patches where they are (record-patcher.ts
 * patches them): those that point at a directory written elsewhere or whose attributes changed, and those
 * of changed files in directories not written.
 */

/**
 * The records that describe a directory written elsewhere, or whose attributes changed: its record in its
 * parent, its "." (when not written), the ".." of each subdirectory; and the ".." of a directory that moved.
 * What cannot be patched (`rewrite`) gets its directory written instead. A directory whose entries' records
 * are patched must have been read without irregularity (`touched`); "." and ".." are checked for what they
 * are where they are patched (record-patcher.ts), and say nothing of the entries read with the directory.
 */
export async function patchDirectoryRecords (
  layout: PartialLayout, changes: ChangeSet, names: ReadonlyMap<Inode, Node[]>, root: Node, settings: ImageSettings,
  patcher: RecordPatcher, touched: Set<Node>, rewrite: Set<Node>
): Promise<void> {
  for (const tree of treesOf(settings)) {
    const written = layout.dirty[tree]
    const factsOf = (node: Node): RecordFacts | undefined => {
      const plan = written.get(node)
      const place = plan ?? node.dir?.extents?.[tree]
      if (place === undefined) return undefined
      return { extent: place.extent, dataLength: place.size, inode: node.inode, links: node.inode.nlink, rockRidge: tree === 'iso' && settings.rockRidge !== undefined }
    }
    const patchOrRewrite = async (dir: Node, patch: () => Promise<string | undefined>): Promise<void> => {
      if ((await patch()) !== undefined) rewrite.add(dir)
    }
    const followed = new Set<Node>(written.keys())
    for (const inode of changes.attributes) {
      if (inode.kind !== 'directory') continue
      for (const node of names.get(inode) ?? []) if (inTree(tree, node, root)) followed.add(node)
    }
    for (const dir of followed) {
      const facts = factsOf(dir)
      if (facts === undefined) continue
      const parent = dir.parent
      if (parent !== undefined && !written.has(parent)) {
        const location = dir.origin?.[tree]
        touched.add(parent)
        if (location === undefined) rewrite.add(parent)
        else await patchOrRewrite(parent, async () => await patcher.patch(location, facts))
      }
      if (!written.has(dir)) {
        const place = dir.dir?.extents?.[tree]
        if (place !== undefined) await patchOrRewrite(dir, async () => await patcher.patchSelfOrParent(place.extent, 0, facts))
      }
      await dir.dir?.complete()
      for (const child of dir.dir?.peek() ?? []) {
        if (child.dir === undefined || written.has(child) || !inTree(tree, child, root)) continue
        const place = child.dir.extents?.[tree]
        if (place === undefined) continue // written: closeOver added it
        await patchOrRewrite(child, async () => await patcher.patchSelfOrParent(place.extent, 1, facts))
      }
    }
    for (const dir of changes.moved.keys()) {
      if (!attached(dir, root) || written.has(dir) || !inTree(tree, dir, root) || followed.has(dir.parent as Node)) continue
      const place = dir.dir?.extents?.[tree]
      const facts = factsOf(dir.parent as Node)
      if (place === undefined || facts === undefined) continue
      await patchOrRewrite(dir, async () => await patcher.patchSelfOrParent(place.extent, 1, facts))
    }
  }
}

/** The records of changed files in directories not written: size, date, PX, TF, and the extent of data that moved. */
export async function patchFileRecords (
  layout: PartialLayout, names: ReadonlyMap<Inode, Node[]>, dirty: ReadonlySet<Node>, settings: ImageSettings,
  patcher: RecordPatcher, touched: Set<Node>, rewrite: Set<Node>
): Promise<void> {
  for (const [inode, nodes] of names) {
    if (inode.kind === 'directory') continue
    const sections = layout.placed.get(inode)
    const moved = sections !== undefined && !layout.fixed.has(inode)
    for (const node of nodes) {
      const parent = node.parent
      if (parent === undefined || dirty.has(parent)) continue
      touched.add(parent)
      // Another number of sections means another number of records (ECMA-119 6.5.1): written anew.
      if (moved && sections.length !== 1) {
        rewrite.add(parent)
        continue
      }
      for (const tree of treesOf(settings)) {
        const location = node.origin?.[tree]
        const named = tree === 'iso' ? node.names.iso : node.names.joliet
        if (named === undefined) continue
        if (location === undefined) {
          rewrite.add(parent)
          continue
        }
        const why = await patcher.patch(location, {
          extent: moved ? (sections[0].length > 0 ? sections[0].lba : 0) : undefined,
          dataLength: (inode.compressed?.raw ?? inode.data).size,
          inode,
          links: inode.nlink,
          rockRidge: tree === 'iso' && settings.rockRidge !== undefined
        })
        if (why !== undefined) rewrite.add(parent)
      }
    }
  }
}

export function treesOf (settings: ImageSettings): TreeName[] {
  return settings.joliet !== undefined ? ['iso', 'joliet'] : ['iso']
}

/** Whether a node is still in the tree (an edit may have removed it, or a directory above it). */
export function attached (node: Node, root: Node): boolean {
  let n: Node | undefined = node
  while (n !== undefined && n !== root) n = n.parent
  return n === root
}
