import * as fs from 'node:fs'
import * as path from 'node:path'
import { dropCaches, leastOf, MiB, record, seconds, sh, withFuseiso, withIsomount } from './harness'
import { walkBenchmarks } from './walk'

/*
 * npm run bench -- --scale: a 10^6-file image (1,000 directories x 1,000 small files, mastered by xorriso,
 * about 2.2 GB) that must behave like a small one: a read-write mount answers its first `ls -l` as fast as
 * fuseiso does, and a commit costs what the change costs. Built once and cached (the tree is removed once
 * the image is made); never part of npm test or CI.
 */

export interface ScaleCorpus {
  dir: string
  /** xorriso -as mkisofs -R -J of 1,000 x 1,000 files. */
  image: string
  /** The same kind of image with 10 files: the peer of the 1-byte edit. */
  small: string
  /** A directory of the large image (1,000 entries) and a file in it. */
  directory: string
  file: string
}

/** ISOMOUNT_BENCH_SCALE_DIRS makes a smaller image for a quick look (the issue's rows are for 1,000). */
const DIRECTORIES = Number(process.env.ISOMOUNT_BENCH_SCALE_DIRS ?? 1000)
const FILES = 1000

export function scaleCorpus (benchDir: string): ScaleCorpus {
  const dir = path.join(benchDir, DIRECTORIES === 1000 ? 'scale' : `scale-${DIRECTORIES}`)
  const image = path.join(dir, 'million.iso')
  const small = path.join(dir, 'ten.iso')
  const done = path.join(dir, '.complete')
  const middle = Math.floor(DIRECTORIES / 2)
  const directory = `d${String(middle).padStart(4, '0')}`
  const corpus = { dir, image, small, directory, file: `${directory}/f${String(middle * FILES + 123).padStart(7, '0')}.txt` }
  if (fs.existsSync(done)) return corpus
  console.log(`building the 10^6-file image in ${dir} (once; several minutes)...`)
  fs.rmSync(dir, { recursive: true, force: true })
  const tree = path.join(dir, 'tree')
  let seed = 4242
  const random = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed }
  const content = Buffer.alloc(2048)
  for (let i = 0; i < content.length; i++) content[i] = 32 + (random() % 95)
  for (let d = 0; d < DIRECTORIES; d++) {
    const sub = path.join(tree, `d${String(d).padStart(4, '0')}`)
    fs.mkdirSync(sub, { recursive: true })
    for (let f = 0; f < FILES; f++) {
      const number = d * FILES + f
      // 1 to 2,048 bytes: one sector of data each, about 2 GB in all.
      fs.writeFileSync(path.join(sub, `f${String(number).padStart(7, '0')}.txt`), content.subarray(0, 1 + random() % 2048))
    }
  }
  sh(`xorriso -as mkisofs -quiet -R -J -o '${image}' '${tree}' 2>/dev/null`)
  fs.rmSync(tree, { recursive: true, force: true })
  const smallTree = path.join(dir, 'ten')
  fs.mkdirSync(path.join(smallTree, directory), { recursive: true })
  for (let f = 0; f < 10; f++) fs.writeFileSync(path.join(smallTree, directory, `f${String(middle * FILES + 123 + f).padStart(7, '0')}.txt`), content.subarray(0, 1000))
  sh(`xorriso -as mkisofs -quiet -R -J -o '${small}' '${smallTree}' 2>/dev/null`)
  fs.rmSync(smallTree, { recursive: true, force: true })
  fs.writeFileSync(done, '')
  return corpus
}

export async function scaleBenchmarks (s: ScaleCorpus, scratchDir: string): Promise<void> {
  const image = path.join(scratchDir, 'million.iso')
  const small = path.join(scratchDir, 'ten.iso')
  sh(`cp --sparse=always '${s.image}' '${image}' && cp '${s.small}' '${small}' && sync '${image}' '${small}'`)
  const what = `${DIRECTORIES} dirs x ${FILES} files`

  // The first `ls -l` of a 1,000-entry directory right after the mount command returns.
  const ours = await withIsomount(image, ['commit=never'], async mnt => await seconds(() => sh(`ls -l '${path.join(mnt, s.directory)}' > /dev/null`)))
  const fuseiso = await withFuseiso(image, async mnt => await seconds(() => sh(`ls -l '${path.join(mnt, s.directory)}' > /dev/null`)))
  record({ section: 'scale', what: `mount command (read-write), ${what}`, ours: ours.mountSeconds, peer: fuseiso.mountSeconds, peerName: 'fuseiso', unit: 's', target: '≤ 0.5 s', met: ours.mountSeconds <= 0.5 })
  record({
    section: 'scale', what: 'ls -l of 1,000 entries right after a rw mount', ours: ours.result, peer: fuseiso.result, peerName: 'fuseiso', unit: 's',
    target: '≤ 1.0× fuseiso', met: ours.result <= fuseiso.result
  })

  // A user's first walks over a fresh read-write mount (no directory parsed yet), against fuseiso's.
  const walks = async (mnt: string): Promise<{ find: number, tar: number }> => ({
    find: await seconds(() => sh(`find '${mnt}' | wc -l`)),
    tar: await seconds(() => sh(`tar cf - -C '${mnt}' . | wc -c`))
  })
  dropCaches()
  const ourWalks = await withIsomount(image, ['commit=never'], walks)
  dropCaches()
  const peerWalks = await withFuseiso(image, walks)
  record({ section: 'scale', what: `find, fresh rw mount, ${what}`, ours: ourWalks.result.find, peer: peerWalks.result.find, peerName: 'fuseiso', unit: 's', target: '≤ 1× fuseiso', met: ourWalks.result.find <= peerWalks.result.find })
  record({ section: 'scale', what: 'tar cf - | wc -c after that find', ours: ourWalks.result.tar, peer: peerWalks.result.tar, peerName: 'fuseiso', unit: 's', target: '≤ 1× fuseiso', met: ourWalks.result.tar <= peerWalks.result.tar })
  record({ section: 'scale', what: 'daemon peak RSS after find + tar', ours: ourWalks.peakRssMiB, peer: peerWalks.peakRssMiB, peerName: 'fuseiso', unit: 'MiB', target: '≤ 400 MB', met: ourWalks.peakRssMiB * MiB <= 400e6 })
  walkBenchmarks('scale', image, what, 1)

  // Commits, each timed as `isomount -u` (the commit and the unmount), the least of two.
  let n = 0
  const edit = async (target: string): Promise<number> => await leastOf(2, async () => {
    const byte = String.fromCharCode(65 + (n++ % 26))
    return (await withIsomount(target, [], mnt => sh(`printf ${byte} | dd of='${path.join(mnt, s.file)}' bs=1 seek=10 conv=notrunc status=none`))).unmountSeconds
  })
  const add = async (target: string): Promise<number> => await leastOf(2, async () =>
    (await withIsomount(target, [], mnt => sh(`echo added > '${path.join(mnt, s.directory, `added-${n++}.txt`)}'`))).unmountSeconds)
  const smallEdit = await edit(small)
  const largeEdit = await edit(image)
  const largeAdd = await add(image)
  record({
    section: 'scale', what: `1-byte edit, commit: ${what} vs 10 files`, ours: largeEdit, peer: smallEdit, peerName: '10-file image', unit: 's',
    target: '≤ 2×', met: largeEdit <= 2 * smallEdit
  })
  record({
    section: 'scale', what: `one file added, commit, ${what}`, ours: largeAdd, peer: largeEdit, peerName: '1-byte edit', unit: 's',
    target: '≤ 2× the 1-byte edit', met: largeAdd <= 2 * largeEdit
  })
  fs.rmSync(image)
  fs.rmSync(small)
}
