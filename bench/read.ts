import * as path from 'node:path'
import type { Corpus } from './corpus'
import { best, dropCaches, MiB, record, seconds, sh, withFuseiso, withIsomount } from './harness'
import { walkBenchmarks } from './walk'

/** Reading: the read-only mount against fuseiso, the library against pycdlib. */
export async function readBenchmarks (c: Corpus): Promise<void> {
  const work = async (mnt: string): Promise<{ findCold: number, find: number, tar: number, readMiBs: number }> => {
    // The first find right after the mount, as a user meets it (no directory parsed yet), then the best of two more.
    const findCold = await seconds(() => sh(`find '${mnt}' | wc -l`))
    const find = await best(2, () => sh(`find '${mnt}' | wc -l`))
    const tar = await seconds(() => sh(`tar cf - -C '${mnt}' --exclude=large . | wc -c`))
    // Cold each time (the image's pages dropped), best of three: one disturbed run says little here.
    const big = path.join(mnt, c.large[0])
    const read = await best(3, () => { dropCaches(); sh(`cat '${big}' > /dev/null`) })
    return { findCold, find, tar, readMiBs: c.largeBytes / MiB / read }
  }
  dropCaches()
  const ours = await withIsomount(c.image, ['ro'], work)
  dropCaches()
  // Read-write mounts cache attributes differently (hard links must agree at once), so the same walk
  // through one: what POSIX semantics cost reading.
  const rw = await withIsomount(c.image, [], async mnt => {
    const find = await best(3, () => sh(`find '${mnt}' | wc -l`))
    const findStat = await best(3, () => sh(`find '${mnt}' -printf '%s\\n' | wc -l`))
    const tar = await seconds(() => sh(`tar cf - -C '${mnt}' --exclude=large . | wc -c`))
    return { find, findStat, tar }
  })
  dropCaches()
  const peer = await withFuseiso(c.image, async mnt => {
    const result = await work(mnt)
    return { ...result, findStat: await best(3, () => sh(`find '${mnt}' -printf '%s\\n' | wc -l`)) }
  })
  const files = `${c.smallFiles} files`
  record({ section: 'mount', what: 'mount command (ro)', ours: ours.mountSeconds, peer: peer.mountSeconds, peerName: 'fuseiso', unit: 's', target: '≤ 0.5 s', met: ours.mountSeconds <= 0.5 })
  record({ section: 'mount', what: `find right after mounting, ${files}`, ours: ours.result.findCold, peer: peer.result.findCold, peerName: 'fuseiso', unit: 's', target: '≤ 1× fuseiso', met: ours.result.findCold <= peer.result.findCold })
  record({ section: 'mount', what: `find, ${files}`, ours: ours.result.find, peer: peer.result.find, peerName: 'fuseiso', unit: 's', target: '≤ 1× fuseiso', met: ours.result.find <= peer.result.find })
  record({ section: 'mount', what: `tar cf - | wc -c, ${files}`, ours: ours.result.tar, peer: peer.result.tar, peerName: 'fuseiso', unit: 's', target: '≤ 1× fuseiso', met: ours.result.tar <= peer.result.tar })
  record({ section: 'mount', what: `find, ${files}, read-write`, ours: rw.result.find, peer: peer.result.find, peerName: 'fuseiso', unit: 's' })
  record({ section: 'mount', what: `find -printf %s (a stat each), read-write`, ours: rw.result.findStat, peer: peer.result.findStat, peerName: 'fuseiso', unit: 's' })
  record({ section: 'mount', what: `tar cf - | wc -c, ${files}, read-write`, ours: rw.result.tar, peer: peer.result.tar, peerName: 'fuseiso', unit: 's' })
  record({
    section: 'mount', what: `sequential read, ${c.largeBytes / MiB} MiB, cold`, ours: ours.result.readMiBs, peer: peer.result.readMiBs, peerName: 'fuseiso', unit: 'MiB/s',
    target: '≥ 2.5× fuseiso', met: ours.result.readMiBs >= 2.5 * peer.result.readMiBs
  })
  record({ section: 'mount', what: 'daemon peak RSS after the above', ours: ours.peakRssMiB, peer: peer.peakRssMiB, peerName: 'fuseiso', unit: 'MiB', target: '≤ 150 MB', met: ours.peakRssMiB * MiB <= 150e6 })

  walkBenchmarks('library', c.image, `${c.smallFiles} files + 2 large`, 3)
}
