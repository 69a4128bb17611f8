import * as fs from 'node:fs'
import * as path from 'node:path'
import { bootableBenchmarks } from './bootable'
import { commitBenchmarks } from './commit'
import { benchDir, corpus } from './corpus'
import { rows } from './harness'
import { readBenchmarks } from './read'
import { udfBenchmarks } from './udf'
import { scaleBenchmarks, scaleCorpus } from './scale'
import { sessionMd5Benchmarks } from './session-md5'
import { writeBenchmarks } from './write'

/*
 * npm run bench [-- --quick] [-- --only read,udf,write,commit,bootable,md5,scale] [-- --scale]
 * Every figure is set against a peer measured in the same run (fuseiso, pycdlib, xorriso, genisoimage, cp):
 * these machines are shared and noisy, so ratios mean more than absolute times. Nothing here is asserted
 * by the test suite; the targets are printed as met or not.
 */

const USAGE = `usage: npm run bench [-- --quick] [-- --only read,udf,write,commit,bootable,md5,scale] [-- --scale]
  --quick   5,000 small files and 2 x 128 MiB instead of 50,000 and 2 x 1 GiB
  --only    run only these sections
  --scale   also the 10^6-file image (1,000 dirs x 1,000 files, xorriso; built once, ~2.2 GB, minutes;
            ISOMOUNT_BENCH_SCALE_DIRS=N for N dirs x 1,000 files instead)
The corpus is built once under /var/tmp/isomount-bench (ISOMOUNT_BENCH_DIR to change); results are
printed and saved as results.json beside it.`

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE)
    return
  }
  const quick = args.includes('--quick')
  const onlyAt = args.indexOf('--only')
  const sections = ['read', 'udf', 'write', 'commit', 'bootable', 'md5']
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : sections
  const scale = args.includes('--scale') || only.includes('scale')
  const unknown = only.filter(s => ![...sections, 'scale'].includes(s))
  if (unknown.length > 0) {
    console.error(`unknown section ${unknown.join(', ')}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  const c = corpus(quick)
  const scratchDir = path.join(c.dir, 'scratch')
  fs.rmSync(scratchDir, { recursive: true, force: true })
  fs.mkdirSync(scratchDir)
  try {
    if (only.includes('read')) await readBenchmarks(c)
    if (only.includes('udf')) await udfBenchmarks(c)
    if (only.includes('write')) await writeBenchmarks(c, scratchDir)
    if (only.includes('commit')) await commitBenchmarks(c, scratchDir)
    if (only.includes('bootable')) await bootableBenchmarks(scratchDir)
    if (only.includes('md5')) await sessionMd5Benchmarks(scratchDir)
    if (scale) await scaleBenchmarks(scaleCorpus(benchDir()), scratchDir)
  } finally {
    fs.rmSync(scratchDir, { recursive: true, force: true })
  }
  const out = path.join(c.dir, 'results.json')
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), quick, scale, rows }, null, 2))
  console.log(`results saved in ${out}`)
}

main().catch(err => {
  console.error(`bench: ${(err as Error).message}`)
  process.exitCode = 1
})
