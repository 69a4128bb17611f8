import type { Node } from '../model/node'

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
