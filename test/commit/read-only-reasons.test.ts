import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { forceUnmount, isMounted, ISOMOUNT, ISOTOOL, mountImage, waitFor } from '../helpers/mount'
import { recordOf, shrinkEntry, suspEntry } from '../read/patch'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { sha256 } from '../helpers/tree'
import { patchDescriptor } from '../helpers/udf'

/*
 * Issue 11's first step: an image that also holds a UDF file system is never committed with a stale or
 * dropped UDF tree. Where the UDF tree cannot be written again (here a genisoimage -udf image whose
 * descriptors say UDF 3.00, a revision isomount does not write; test/commit/udf-commit.test.ts has the bridges
 * it does keep), it reads as before; a commit or a write of it is refused, a read-write mount becomes
 * read-only and says why before the mount command returns, and `isotool info` says the same. The UDF side
 * is checked by 7-Zip, which reads UDF first (as Windows does).
 */

const dir = scratch(t, 'read-only-reasons')
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': 'alpha\n', docs: { 'b.txt': 'beta\n' } })
const udfImage = genisoimage(path.join(dir, 'udf.iso'), ['-udf', '-R', '-J'], src)
// The logical volume descriptors (main at 35, reserve at 51) say 3.00 in their domain identifier's suffix:
// a revision after the last OSTA published (2.60), which no writer here knows how to keep.
for (const lba of [35, 51]) patchDescriptor(udfImage, lba * 2048, 512, bytes => bytes.writeUInt16LE(0x0300, 216 + 24))
const plainImage = genisoimage(path.join(dir, 'plain.iso'), ['-R', '-J'], src)

function udfListing (image: string): string[] {
  const out = run('7z', ['l', '-tudf', '-slt', image]).stdout
  return out.split('\n').filter(l => l.startsWith('Path = ') && !l.endsWith(image)).map(l => l.slice(7)).sort()
}

t.test('the library refuses to commit or write an image with a UDF tree, and leaves it as it was', async t => {
  const before = sha256(fs.readFileSync(udfImage))
  const image = await IsoImage.open(udfImage)
  t.same(image.readOnlyReasons.map(r => r.code), ['UDF'], 'the UDF file system is found at open')
  await image.addFile('/autounattend.xml', Buffer.from('<unattend/>\n'))
  await t.rejects(image.commit(), { code: 'READ_ONLY', message: /UDF/ }, 'commit refused, naming UDF')
  await t.rejects(image.write(path.join(dir, 'copy.iso')), { code: 'READ_ONLY' }, 'a remaster to a new file refused too (it would drop UDF)')
  await image.close()
  t.equal(sha256(fs.readFileSync(udfImage)), before, 'the image is byte for byte as it was')
  t.notOk(fs.existsSync(path.join(dir, 'copy.iso')), 'no half-written copy')
  t.same(udfListing(udfImage), ['a.txt', 'docs', 'docs/b.txt'], '7-Zip still reads the UDF tree')
})

t.test('a plain image has no reason to be read-only', async t => {
  const image = await IsoImage.open(plainImage)
  t.same(image.readOnlyReasons, [])
  await image.close()
})

t.test('a read-write mount of a UDF image is read-only and says why before the command returns', async t => {
  const before = sha256(fs.readFileSync(udfImage))
  const mounted = mountImage(t, udfImage)
  t.equal(mounted.result.status, 0, 'the mount succeeds')
  t.match(mounted.result.stderr, /mounted read-only: .*UDF file system.*cannot update/, 'stderr says read-only and why')
  t.match(mounted.result.stderr, /isotool extract/, 'and what the user can do')
  t.equal(fs.readFileSync(path.join(mounted.mountpoint, 'a.txt'), 'utf8'), 'alpha\n', 'files read')
  t.throws(() => fs.writeFileSync(path.join(mounted.mountpoint, 'autounattend.xml'), 'x'), { code: 'EROFS' }, 'a new file: EROFS')
  t.throws(() => fs.appendFileSync(path.join(mounted.mountpoint, 'a.txt'), 'x'), { code: 'EROFS' }, 'a change: EROFS')
  t.equal(mounted.unmount().status, 0)
  t.equal(sha256(fs.readFileSync(udfImage)), before, 'the image is untouched')
  t.notOk(fs.existsSync(path.join(dir, '.udf.iso.isomount-lock')), 'the read-only mount left no lock behind')
})

t.test('isotool info has a Writable line with the same reason', async t => {
  const udf = run(process.execPath, [ISOTOOL, 'info', udfImage]).stdout
  t.match(udf, /^Writable: +no: .*UDF file system/m)
  const json = JSON.parse(run(process.execPath, [ISOTOOL, 'info', '--json', udfImage]).stdout) as { writable: { writable: boolean, code: string } }
  t.same({ writable: json.writable.writable, code: json.writable.code }, { writable: false, code: 'UDF' })
  t.match(run(process.execPath, [ISOTOOL, 'info', plainImage]).stdout, /^Writable: +yes$/m)
})

t.test('a directory read with an irregular record refuses changes inside it (said once on the daemon\'s stderr); the rest stays writable', async t => {
  const image = path.join(dir, 'irregular.iso')
  fs.copyFileSync(plainImage, image)
  const bytes = fs.readFileSync(image)
  // A Rock Ridge PX entry cut short in a subdirectory: read with a warning, so that directory is never written back.
  const record = await recordOf(image, '/docs/b.txt')
  shrinkEntry(bytes, suspEntry(bytes, record, 'PX'), 8)
  fs.writeFileSync(image, bytes)
  const mountpoint = path.join(dir, 'irregular-mnt')
  fs.mkdirSync(mountpoint)
  const daemon = spawn(process.execPath, [ISOMOUNT, '-f', image, mountpoint], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  daemon.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  const exited = new Promise<void>(resolve => daemon.once('exit', () => resolve()))
  t.teardown(async () => { await forceUnmount(mountpoint) })
  await waitFor(() => isMounted(mountpoint), 30_000, 'the mount')
  t.throws(() => fs.writeFileSync(path.join(mountpoint, 'docs/new.txt'), 'x'), { code: 'EROFS' }, 'a new file in that directory: EROFS')
  t.throws(() => fs.writeFileSync(path.join(mountpoint, 'docs/other.txt'), 'x'), { code: 'EROFS' }, 'again')
  t.throws(() => fs.appendFileSync(path.join(mountpoint, 'docs/b.txt'), 'x'), { code: 'EROFS' }, 'a change of a file in it: EROFS')
  await waitFor(() => /stays read-only/.test(stderr), 10_000, 'the warning')
  t.equal(stderr.match(/stays read-only/g)?.length, 1, 'said once')
  t.match(stderr, /PX/, 'naming what was irregular')
  t.match(stderr, /\/docs/, 'and where')
  fs.writeFileSync(path.join(mountpoint, 'top.txt'), 'top\n')
  t.equal(run(process.execPath, [ISOMOUNT, '-u', mountpoint], { allowFailure: true }).status, 0, 'a change elsewhere is committed')
  await exited
  t.equal(run('bsdtar', ['-xOf', image, 'top.txt']).stdout, 'top\n', 'bsdtar reads it')
  t.equal(run('bsdtar', ['-xOf', image, 'docs/b.txt']).stdout, 'beta\n', 'and the irregular directory as it was')
})
