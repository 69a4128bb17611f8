import { IsoImage } from '../src'
import type { Namespace } from '../src/iso/namespace'
import type { Corpus } from './corpus'
import { best, dropCaches, record, seconds, sh, withIsomount } from './harness'

/*
 * Reading the corpus through its UDF file system against reading the same image through Rock Ridge:
 * the library's open + walk (metadata only: every entry with its stat), and a read-only mount's find and
 * tar (metadata and all the small files' content). Same image, same run, so the ratio is what UDF costs.
 */

export async function udfBenchmarks (c: Corpus): Promise<void> {
  // The library's work is measured in CPU time (this process's user + system): on a shared machine, wall
  // time mostly measures the neighbours.
  const walk = async (namespace: Namespace): Promise<number> => {
    let least = Infinity
    for (let i = 0; i < 5; i++) {
      const before = process.cpuUsage()
      const image = await IsoImage.open(c.udfImage)
      let entries = 0
      for await (const { node } of image.walk('/', namespace)) {
        entries++
        if (node.inode.size < 0) throw new Error('impossible')
      }
      await image.close()
      const used = process.cpuUsage(before)
      least = Math.min(least, (used.user + used.system) / 1e6)
      if (entries < c.smallFiles) throw new Error(`${namespace}: only ${entries} entries`)
    }
    return least
  }
  // Alternated, so that load on the machine falls on both alike.
  const rr: number[] = []
  const udf: number[] = []
  for (let i = 0; i < 3; i++) {
    rr.push(await walk('rockridge'))
    udf.push(await walk('udf'))
  }
  const rrWalk = Math.min(...rr)
  const udfWalk = Math.min(...udf)
  const files = `${c.smallFiles} files`
  record({ section: 'udf', what: `library open + walk (CPU), ${files}`, ours: udfWalk, peer: rrWalk, peerName: 'Rock Ridge', unit: 's', target: '≤ 1.1× Rock Ridge', met: udfWalk <= 1.1 * rrWalk })

  const work = async (mnt: string): Promise<{ find: number, tar: number }> => {
    const find = await best(3, () => sh(`find '${mnt}' | wc -l`))
    const tar = await seconds(() => sh(`tar cf - -C '${mnt}' --exclude=large . | wc -c`))
    return { find, tar }
  }
  // Two mounts of each, alternated, the best of each kept: one mount's figures say little on a busy machine.
  const mounts: Record<'rockridge' | 'udf', Array<{ find: number, tar: number }>> = { rockridge: [], udf: [] }
  for (let i = 0; i < 2; i++) {
    for (const namespace of ['rockridge', 'udf'] as const) {
      dropCaches()
      mounts[namespace].push((await withIsomount(c.udfImage, ['ro', `namespace=${namespace}`], work)).result)
    }
  }
  const bestOf = (namespace: 'rockridge' | 'udf', key: 'find' | 'tar'): number => Math.min(...mounts[namespace].map(m => m[key]))
  for (const [key, what] of [['find', 'find'], ['tar', 'tar cf - | wc -c']] as const) {
    const ours = bestOf('udf', key)
    const peer = bestOf('rockridge', key)
    record({ section: 'udf', what: `mount: ${what}, ${files}`, ours, peer, peerName: 'Rock Ridge', unit: 's', target: '≤ 1.1× Rock Ridge', met: ours <= 1.1 * peer })
  }
}
