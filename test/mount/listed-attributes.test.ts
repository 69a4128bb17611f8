import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { isomount, mountImage } from '../helpers/mount'
import { genisoimage, scratch, writeTree } from '../helpers/tools'

/*
 * The patched fuse-native addon answers lookups of entries a listing just returned on the libfuse thread
 * (scripts/build-fuse-native.js, "attributes answered on the libfuse thread"): what it keeps must never
 * outlive a change. Each check lists a directory (the addon keeps its entries), changes something, waits
 * for the kernel's own attribute and entry cache to expire (1 s on a read-write mount, fuse-mount.ts) so
 * that the kernel asks again, and looks: a stale answer would show the old size, mode or name.
 */

const dir = scratch(t, 'listed-attributes')
const src = path.join(dir, 'src')
writeTree(src, { d: { 'a.txt': 'a\n', 'b.txt': 'bb\n', 'c.txt': 'ccc\n', 'e.txt': 'e\n' } })
const image = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J'], src)

/** Longer than the read-write mount's entry and attribute timeouts. */
const expire = async (): Promise<void> => await new Promise(resolve => setTimeout(resolve, 1300))

t.test('attributes kept from a listing never outlive a change', async t => {
  const copy = path.join(dir, 'work.iso')
  fs.copyFileSync(image, copy)
  const { mountpoint, result } = mountImage(t, copy)
  t.equal(result.status, 0, `mounted: ${result.stderr}`)
  const d = path.join(mountpoint, 'd')
  const list = (): string[] => fs.readdirSync(d).sort()

  t.same(list(), ['a.txt', 'b.txt', 'c.txt', 'e.txt'], 'listed')
  t.equal(fs.statSync(path.join(d, 'a.txt')).size, 2, 'a lookup of a listed entry answers')

  list()
  fs.appendFileSync(path.join(d, 'a.txt'), 'more\n')
  await expire()
  t.equal(fs.statSync(path.join(d, 'a.txt')).size, 7, 'a write shows in the size asked for afterwards')

  list()
  fs.chmodSync(path.join(d, 'b.txt'), 0o600)
  await expire()
  t.equal(fs.statSync(path.join(d, 'b.txt')).mode & 0o777, 0o600, 'a chmod shows')

  list()
  fs.renameSync(path.join(d, 'c.txt'), path.join(d, 'renamed.txt'))
  await expire()
  t.throws(() => fs.statSync(path.join(d, 'c.txt')), { code: 'ENOENT' }, 'a renamed entry is gone under its old name')
  t.equal(fs.statSync(path.join(d, 'renamed.txt')).size, 4, 'and there under its new one')

  list()
  fs.unlinkSync(path.join(d, 'e.txt'))
  await expire()
  t.throws(() => fs.statSync(path.join(d, 'e.txt')), { code: 'ENOENT' }, 'a removed entry is gone')

  // A commit while mounted (isomount sync) changes what is shown without a request through the mount.
  list()
  fs.appendFileSync(path.join(d, 'b.txt'), 'x\n')
  const sync = isomount(['sync', mountpoint])
  t.equal(sync.status, 0, `committed while mounted: ${sync.stderr}`)
  list()
  await expire()
  t.equal(fs.statSync(path.join(d, 'b.txt')).size, 5, 'the size after a commit while mounted')
  t.same(list(), ['a.txt', 'b.txt', 'renamed.txt'], 'the listing after it')
})
