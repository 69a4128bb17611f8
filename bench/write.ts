import * as fs from 'node:fs'
import * as path from 'node:path'
import { IsoImage } from '../src'
import type { Corpus } from './corpus'
import { ISOTOOL, measured, MiB, record, seconds, sh } from './harness'

/** Mastering: isotool mkisofs against genisoimage and xorriso; many additions against pycdlib. */
export async function writeBenchmarks (c: Corpus, scratchDir: string): Promise<void> {
  const out = path.join(scratchDir, 'mkisofs.iso')
  const flags = `-quiet -R -J -joliet-long -iso-level 3 -o '${out}' '${c.tree}'`
  // Equal footing: every tool reads the tree from the page cache (the first one would otherwise pay for
  // reading it from disk and warm it for the others), and every image counts as made when it is on disk
  // (ours fsyncs before returning; genisoimage does not, so its sync is timed with it).
  const warm = (): void => { sh(`tar cf - -C '${c.tree}' . | cat > /dev/null`) }
  const durable = `&& sync '${out}'`
  warm()
  const ours = measured(`node '${ISOTOOL}' mkisofs ${flags} ${durable}`)
  fs.rmSync(out)
  warm()
  const genisoimage = measured(`genisoimage ${flags} ${durable}`)
  fs.rmSync(out)
  warm()
  const xorriso = measured(`xorriso -as mkisofs ${flags} ${durable}`)
  fs.rmSync(out)
  const what = `mkisofs -R -J, ${c.smallFiles} files + 2 large`
  record({ section: 'write', what, ours: ours.seconds, peer: xorriso.seconds, peerName: 'xorriso', unit: 's', target: '≤ 1× xorriso', met: ours.seconds <= xorriso.seconds })
  record({ section: 'write', what, ours: ours.seconds, peer: genisoimage.seconds, peerName: 'genisoimage', unit: 's' })

  // Large files only: against cat copying the same bytes (and syncing, as mkisofs does).
  const largeDir = path.join(c.tree, 'large')
  warm()
  const oursLarge = measured(`node '${ISOTOOL}' mkisofs -quiet -R -J -iso-level 3 -o '${out}' '${largeDir}'`)
  fs.rmSync(out)
  warm()
  const cat = measured(`cat ${c.large.map(l => `'${path.join(c.tree, l)}'`).join(' ')} > '${out}' && sync '${out}'`)
  fs.rmSync(out)
  record({
    section: 'write', what: `mkisofs of 2 × ${c.largeBytes / MiB} MiB: vs cat + sync`, ours: oursLarge.seconds, peer: cat.seconds, peerName: 'cat', unit: 's',
    target: '≤ 1.2× cat', met: oursLarge.seconds <= 1.2 * cat.seconds
  })
  const peakRss = Math.max(ours.maxRssMiB, oursLarge.maxRssMiB)
  record({ section: 'write', what: 'mkisofs peak RSS', ours: peakRss, peer: xorriso.maxRssMiB, peerName: 'xorriso', unit: 'MiB', target: '≤ 300 MB', met: peakRss * 2 ** 20 <= 300e6 })

  // 20,000 files added to one directory and written: our library against pycdlib's add_fp.
  const many = 20_000
  const target = path.join(scratchDir, 'many.iso')
  const ourAdds = await seconds(async () => {
    const image = IsoImage.create({ interchangeLevel: 3, rockRidge: true, joliet: true })
    await image.addDirectory('/many')
    for (let i = 0; i < many; i++) await image.addFile(`/many/file-number-${i}.txt`, Buffer.from(`${i}\n`))
    await image.write(target)
  })
  fs.rmSync(target)
  const pycdlib = measured(`/usr/bin/python3 -c '
import io, sys, pycdlib
iso = pycdlib.PyCdlib(); iso.new(interchange_level=3, rock_ridge="1.09", joliet=3)
iso.add_directory("/MANY", rr_name="many", joliet_path="/many")
for i in range(${many}):
    data = ("%d\\n" % i).encode()
    iso.add_fp(io.BytesIO(data), len(data), "/MANY/F%d.;1" % i, rr_name="file-number-%d.txt" % i, joliet_path="/many/file-number-%d.txt" % i)
iso.write(sys.argv[1]); iso.close()' '${target}'`)
  fs.rmSync(target)
  record({ section: 'write', what: `${many} files added to one directory + write`, ours: ourAdds, peer: pycdlib.seconds, peerName: 'pycdlib', unit: 's', target: '≥ 20× faster', met: pycdlib.seconds >= 20 * ourAdds })
}
