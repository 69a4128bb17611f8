import { ISOTOOL, measured, record } from './harness'

/**
 * The library walk as a user meets it: `isotool ls -R` (a process of its own, opening the image and
 * listing every entry) against pycdlib opening it and walking every directory, each the best of `runs`,
 * in time and in peak resident memory.
 */
export function walkBenchmarks (section: string, image: string, what: string, runs = 2): void {
  let ours = { seconds: Infinity, maxRssMiB: Infinity }
  let pycdlib = { seconds: Infinity, maxRssMiB: Infinity }
  const best = (a: typeof ours, b: typeof ours): typeof ours => ({ seconds: Math.min(a.seconds, b.seconds), maxRssMiB: Math.min(a.maxRssMiB, b.maxRssMiB) })
  for (let i = 0; i < runs; i++) {
    ours = best(ours, measured(`node '${ISOTOOL}' ls -R '${image}' > /dev/null`))
    pycdlib = best(pycdlib, measured(`/usr/bin/python3 -c '
import pycdlib, sys
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1]); n = 0
for d, dirs, files in iso.walk(rr_path="/"): n += len(dirs) + len(files)
iso.close()' '${image}'`))
  }
  record({
    section, what: `isotool ls -R (open + walk), ${what}`, ours: ours.seconds, peer: pycdlib.seconds, peerName: 'pycdlib', unit: 's',
    target: '≥ 10× faster', met: pycdlib.seconds >= 10 * ours.seconds
  })
  record({
    section, what: `peak RSS of that walk, ${what}`, ours: ours.maxRssMiB, peer: pycdlib.maxRssMiB, peerName: 'pycdlib', unit: 'MiB',
    target: '≤ 0.5× pycdlib', met: ours.maxRssMiB <= 0.5 * pycdlib.maxRssMiB
  })
}
