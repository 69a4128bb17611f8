import * as fs from 'node:fs'
import * as path from 'node:path'
import { MiB, sh } from './harness'

/*
 * The benchmark corpus, built once and cached: many small files in directories of 100 (a source tree),
 * two large files of random data, and the image genisoimage makes of them. Cached under
 * /var/tmp/isomount-bench (not /tmp: it is large and worth keeping between runs).
 */

export interface Corpus {
  dir: string
  /** The source tree. */
  tree: string
  smallFiles: number
  /** The large files, relative to the tree. */
  large: string[]
  largeBytes: number
  /** genisoimage -R -J -iso-level 3 of the tree. */
  image: string
  /** genisoimage -udf -R -iso-level 3 of the same tree: Rock Ridge and UDF over the same data. */
  udfImage: string
}

/** Where corpora are cached: /var/tmp/isomount-bench, or ISOMOUNT_BENCH_DIR. */
export function benchDir (): string {
  return process.env.ISOMOUNT_BENCH_DIR ?? '/var/tmp/isomount-bench'
}

export function corpus (quick: boolean): Corpus {
  const smallFiles = quick ? 5_000 : 50_000
  const largeBytes = (quick ? 128 : 1024) * MiB
  const dir = path.join(benchDir(), quick ? 'quick' : 'full')
  const tree = path.join(dir, 'tree')
  const image = path.join(dir, 'corpus.iso')
  const large = ['large/one.bin', 'large/two.bin']
  const done = path.join(dir, '.complete')
  if (!fs.existsSync(done)) {
    console.log(`building the corpus in ${dir} (${smallFiles} small files, 2 × ${largeBytes / MiB} MiB)...`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(path.join(tree, 'large'), { recursive: true })
    let seed = 12345
    const random = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed }
    for (let i = 0; i < smallFiles; i++) {
      const sub = path.join(tree, `d${Math.floor(i / 100 / 100)}`, `e${Math.floor(i / 100) % 100}`)
      if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true })
      const size = random() % 8192
      const buf = Buffer.alloc(size, i % 251)
      fs.writeFileSync(path.join(sub, `file-with-a-longer-name-${i}.txt`), buf)
    }
    for (const name of large) sh(`head -c ${largeBytes} /dev/urandom > '${path.join(tree, name)}'`)
    sh(`genisoimage -quiet -R -J -joliet-long -iso-level 3 -o '${image}' '${tree}'`)
    fs.writeFileSync(done, '')
  }
  // Built on its own, so that a corpus cached before it existed gains it without being rebuilt.
  const udfImage = path.join(dir, 'corpus-udf.iso')
  if (!fs.existsSync(udfImage)) {
    sh(`genisoimage -quiet -udf -R -iso-level 3 -o '${udfImage}.tmp' '${tree}' && mv '${udfImage}.tmp' '${udfImage}'`)
  }
  return { dir, tree, smallFiles, large, largeBytes, image, udfImage }
}
