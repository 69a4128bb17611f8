import { WarningLog } from '../codec/diagnostics'
import { parseCE, parseSuspEntries } from '../codec/susp'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { xaSkip } from '../codec/xa'
import { readExactly } from '../io/byte-source'
import { NodeFlag, type Node } from '../model/node'
import { parseDirectoryRecords } from '../read/directory-records'
import type { OldContinuation, PartialLayout } from '../write/partial-layout'
import type { ImageSettings } from '../write/settings'
import { pathOf } from '../write/tree-plan'
import type { CommitContext } from './context'

/*
 * Rock Ridge continuation areas (SUSP 5.1) of the image around a commit that writes only some
 * directories: those it can keep where they are, those it would strand, and where to find a directory
 * to move so that libarchive reads the new ones (partial-layout.ts says why).
 */

/** A directory with no subdirectory, found down the first subdirectories from the root (read on the way). */
export async function someLeaf (root: Node): Promise<Node> {
  let node = root
  for (;;) {
    await node.dir?.complete()
    const sub = (node.dir?.peek() ?? []).find(child => child.dir !== undefined && child.names.iso !== undefined && (child.flags & NodeFlag.RELOCATION_DIRECTORY) === 0)
    if (sub === undefined) return node
    node = sub
  }
}

/**
 * The continuation areas (SUSP 5.1) the image has for the records of a directory about to be written, by
 * record ("self", "parent", or the identifier): an area whose bytes do not change is kept where it is.
 */
export async function oldContinuations (dir: Node, context: CommitContext, settings: ImageSettings): Promise<Map<string, OldContinuation>> {
  const found = new Map<string, OldContinuation>()
  const place = dir.dir?.extents?.iso
  if (place === undefined || settings.rockRidge === undefined) return found
  const quiet = new WarningLog(false)
  const where = { structure: 'directory', lba: place.extent }
  const bytes = await readExactly(context.source, place.extent * SECTOR_SIZE, Math.ceil(place.size / SECTOR_SIZE) * SECTOR_SIZE, where)
  for (const { record } of parseDirectoryRecords(bytes, place.extent, quiet, where)) {
    const id = record.identifier
    const key = id.length === 1 && id[0] === 0 ? 'self' : id.length === 1 && id[0] === 1 ? 'parent' : id.toString('latin1')
    if (found.has(key)) continue // the further records of a multi-extent file
    const field = record.systemUse.subarray(xaSkip(record.systemUse))
    const ce = parseSuspEntries(field, quiet, where).find(e => e.signature === 'CE')
    if (ce === undefined) continue
    const area = parseCE(ce, quiet, where)
    if (area.offset + area.length > SECTOR_SIZE || (area.block + 1) * SECTOR_SIZE > context.source.size) continue
    const sector = await readExactly(context.source, area.block * SECTOR_SIZE, SECTOR_SIZE, where)
    found.set(key, { lba: area.block, offset: area.offset, bytes: Buffer.from(sector.subarray(area.offset, area.offset + area.length)) })
  }
  return found
}

/**
 * Whether a directory that moves leaves continuation areas of other records behind it: genisoimage packs
 * the areas of all records right after the last directory, and libarchive reads an area only when its pass
 * reaches it straight after a directory. Moving that directory away would make bsdtar lose every long
 * Rock Ridge name in the image: left to a whole-tree write. (The sector is told by its first bytes: a SUSP
 * entry starts with two capitals, a length and version 1; a directory record with its length and a zero.)
 */
export async function strandedContinuations (
  layout: PartialLayout, context: CommitContext, continuations: ReadonlyMap<Node, Map<string, OldContinuation>>
): Promise<string | undefined> {
  for (const [node, plan] of layout.dirty.iso) {
    const old = node.dir?.extents?.iso
    if (old === undefined || old.extent === plan.extent) continue
    const after = old.extent + Math.ceil(old.size / SECTOR_SIZE)
    // xorriso puts each directory's areas right after it: those are this directory's own, written anew.
    if ([...continuations.get(node)?.values() ?? []].some(area => area.lba === after && area.offset === 0)) continue
    if ((after + 1) * SECTOR_SIZE > context.source.size) continue
    const head = await readExactly(context.source, after * SECTOR_SIZE, 4, { structure: 'sector', lba: after })
    const upper = (b: number): boolean => b >= 0x41 && b <= 0x5a
    if (upper(head[0]) && upper(head[1]) && head[2] >= 4 && head[3] === 1) {
      return `directory ${pathOf(node)} would move away from the Rock Ridge continuation areas that follow it, which libarchive reads only right after a directory`
    }
  }
  return undefined
}
