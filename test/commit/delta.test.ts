import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src'
import { READ_AHEAD_PADDING_SECTORS } from '../../src/iso/write/layout'
import { expectImageEquals, type EqualsOptions } from '../helpers/image-equals'
import { mountImage } from '../helpers/mount'
import { isoinfoNames, isovfyErrors, withFuseiso } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs, type TreeSpec } from '../helpers/tools'
import { contentOnly, pattern, snapshot, type TreeEntry } from '../helpers/tree'

/*
 * Commits that write only what changed (commit/delta-plan.ts): directories written again in their extents
 * or after the image, the records pointing at them patched where they are, path tables renumbered. After
 * every commit, readers nobody here wrote must see the host copy the same script made: xorriso, bsdtar
 * (which reads in one forward pass and so also checks where things lie), 7z, pycdlib, isoinfo, isovfy.
 */

const dir = scratch(t, 'delta')
const T0 = 1580608922
const children: TreeSpec = {}
for (let i = 0; i < 300; i++) children[`sub-${String(i).padStart(3, '0')}`] = { 'f.txt': `child ${i}\n` }
const docs: TreeSpec = {}
for (let i = 0; i < 40; i++) docs[`document-number-${String(i).padStart(2, '0')}.txt`] = `document ${i}\n`
const seed = path.join(dir, 'seed')
writeTree(seed, {
  'a.txt': 'alpha\n',
  'big.bin': pattern(1 << 20, 1),
  bin: { 'tool.sh': { file: '#!/bin/sh\n', mode: 0o755 } },
  docs,
  tree: children
})
run('find', [seed, '-exec', 'touch', '-h', '-d', `@${T0}`, '{}', '+'])
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J', '-joliet-long'], seed)

/** A copy of the base image and of the seed tree. */
function prepare (label: string): { image: string, host: string } {
  const image = path.join(dir, `${label}.iso`)
  fs.copyFileSync(base, image)
  const host = path.join(dir, `${label}-host`)
  run('cp', ['-a', seed, host])
  return { image, host }
}

/** One round: the script through a mount and on the host copy, `isomount -u`, and every reader's view. */
async function round (t: Test, image: string, host: string, script: string, label: string, how: RegExp, options: EqualsOptions = {}): Promise<number> {
  const before = fs.statSync(image).size
  const mounted = mountImage(t, image)
  t.equal(mounted.result.status, 0, `mounted: ${mounted.result.stderr}`)
  run('bash', ['-c', `set -euo pipefail\n${script}`], { cwd: mounted.mountpoint })
  run('bash', ['-c', `set -euo pipefail\n${script}`], { cwd: host })
  const done = mounted.unmount()
  t.equal(done.status, 0, `isomount -u: ${done.stderr}`)
  t.match(done.stdout + done.stderr, how, `${label}: committed as expected`)
  await expectImageEquals(t, image, host, path.join(dir, `check-${label}`), options)
  const hostNames = run('find', ['.', '-mindepth', '1'], { cwd: host }).stdout.trim().split('\n').map(p => p.slice(2))
  t.same(isoinfoNames(image, '-R'), hostNames.sort(), 'isoinfo -R lists the host tree')
  // Joliet holds 64 characters of a name (the image was not made with -joliet-long for what is added).
  const joliet = hostNames.map(p => p.split('/').map(part => part.slice(0, 64)).join('/')).sort()
  t.same(isoinfoNames(image, '-J'), joliet, 'isoinfo -J lists the host tree')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no errors')
  return fs.statSync(image).size - before
}

/** The directory records isoinfo -l lists for ".." in each directory: extent by directory path. */
function parentExtents (image: string): Map<string, { self: number, parent: number }> {
  const out = run('isoinfo', ['-R', '-l', '-i', image]).stdout
  const found = new Map<string, { self: number, parent: number }>()
  let current = ''
  for (const line of out.split('\n')) {
    const header = /^Directory listing of (.*)$/.exec(line)
    if (header !== null) {
      current = header[1]
      found.set(current, { self: -1, parent: -1 })
      continue
    }
    const entry = /\[\s*(\d+)\s+\d+\]\s\s(\.\.?)\s*$/.exec(line)
    if (entry === null) continue
    const place = found.get(current) as { self: number, parent: number }
    if (entry[2] === '.') place.self = Number(entry[1])
    else place.parent = Number(entry[1])
  }
  return found
}

t.test('a commit after a commit after a commit: each writes what changed, and every reader agrees after each', async t => {
  const { image, host } = prepare('rounds')
  const fullTree = fs.statSync(base).size - (1 << 20) // what a whole tree (and the small files) take, roughly
  // A commit that appends ends the volume in mkisofs's padding again (layout.ts says why).
  const padding = READ_AHEAD_PADDING_SECTORS * 2048
  // Files each round writes "now" (in the mount and on the host a second apart, maybe): their mtimes are
  // not compared in that round or any after it.
  const now = [
    ['docs/document-number-03\\.txt', 'docs/added\\.txt'],
    ['big\\.bin', 'fresh/inner/f\\.txt', 'docs/l+'],
    ['a\\.txt', 'bin/a-link']
  ]
  const written = (round: number): RegExp => new RegExp(`^(${now.slice(0, round).flat().join('|')})$`)

  // 1: a byte in place, a new file in a directory, a directory's mode, a file's time.
  let grown = await round(t, image, host, `
printf X | dd of=docs/document-number-03.txt bs=1 seek=2 conv=notrunc status=none
echo added > docs/added.txt
chmod 0700 bin
touch -d '2001-02-03 04:05:06 UTC' a.txt
`, 'first', /committed (in place|by appending)/, { skipMtime: written(1) })
  t.ok(grown < padding + 64 * 1024, `the first commit grew the image by ${grown} bytes (${padding} of padding), not by a tree (${fullTree})`)

  // 2: new directories, a file moved across directories, one removed, one grown past its extent, a name
  // long enough to need a Rock Ridge continuation area.
  grown = await round(t, image, host, `
mkdir -p fresh/inner && echo inner > fresh/inner/f.txt
mv docs/document-number-05.txt bin/
rm docs/document-number-06.txt
truncate -s 2M big.bin
echo long > "docs/$(printf 'l%.0s' $(seq 180))"
`, 'second', /committed by appending/, { skipMtime: written(2), notInJoliet: /l{180}/ })
  t.ok(grown < padding + (2 << 20) + 256 * 1024, `the second commit grew the image by ${grown} bytes: the 2 MiB of big.bin, a few directories and padding`)

  // 3: a directory moved to another parent, an append within a sector, a hard link, a symlink, files
  // removed (a directory rewritten smaller in its extent keeps the extent: sectors without records).
  grown = await round(t, image, host, `
mv tree/sub-010 bin/
echo more >> a.txt
ln a.txt bin/a-link
ln -s ../a.txt docs/sym
rm docs/document-number-1*.txt
`, 'third', /committed (in place|by appending)/, { skipMtime: written(3), notInJoliet: /l{180}/ })
  t.ok(grown < padding + 64 * 1024, `the third commit grew the image by ${grown} bytes (${padding} of padding)`)
  const parents = parentExtents(image)
  t.equal(parents.get('/bin/sub-010/')?.parent, parents.get('/bin/')?.self, 'the moved directory\'s ".." names its new parent')
  const regular = (tree: Record<string, TreeEntry>): Record<string, TreeEntry> =>
    Object.fromEntries(Object.entries(contentOnly(tree)).filter(([, e]) => e.type === 'file' || e.type === 'dir'))
  await withFuseiso(t, image, path.join(dir, 'fuseiso-mnt'), mnt => {
    t.same(regular(snapshot(mnt)), regular(snapshot(host)), 'fuseiso reads every file and directory')
  })
})

t.test('a parent with 300 subdirectories: its nlink patched into every ".."; grown past its extent, it moves with its subtree', async t => {
  const { image, host } = prepare('parent')
  // A subdirectory more: the parent stays where it is, its link count changes in its records and in the ".." of all 300.
  await round(t, image, host, 'mkdir tree/sub-new', 'in-place', /committed (in place|by appending)/)
  const linkCounts = run('bash', ['-c', `isoinfo -R -l -i '${image}' | awk '/^Directory listing of \\/tree\\/sub-/ { d = 1; next } d && / \\.\\.[ ]*$/ { print $2; d = 0 }' | sort | uniq -c`]).stdout.trim()
  t.match(linkCounts, /^\s*301 303$/, 'every subdirectory\'s ".." records the parent\'s 303 links (2 + 301 subdirectories)')

  // Enough entries that it no longer fits: it goes after the image, and every directory below it with it
  // (libarchive drops a directory lying before its parent), parents first.
  const before = parentExtents(image).get('/tree/')?.self
  await round(t, image, host, 'for i in $(seq 1 200); do echo $i > "tree/added-file-with-a-long-name-$i.txt"; done', 'moved', /committed by appending/, {
    skipMtime: /^tree\/added-file/
  })
  const after = parentExtents(image)
  const parent = after.get('/tree/')?.self as number
  t.not(parent, before, 'the parent moved')
  const subdirs = [...after].filter(([p]) => /^\/tree\/sub-/.test(p))
  t.equal(subdirs.length, 301, 'all 301 subdirectories are there')
  t.ok(subdirs.every(([, e]) => e.parent === parent && e.self > parent), 'each lies after it and names it in ".."')
})

t.test('a root grown past its extent takes its first subdirectory\'s: only that one moves, the others stay and are patched', async t => {
  // xorriso's layout, as install images have it: the root, its Rock Ridge continuation area, then the
  // subdirectories in order. 20 subdirectories of 100 files (7 sectors each; the root's 20 records take 2);
  // the 15 files added to the root overflow it.
  const tree: TreeSpec = {}
  for (let i = 0; i < 20; i++) tree[`dir-${String(i).padStart(2, '0')}`] = Object.fromEntries(Array.from({ length: 100 }, (_, j) => [`file-${j}.txt`, `${i}/${j}\n`]))
  const seedRoot = path.join(dir, 'root-seed')
  writeTree(seedRoot, tree)
  run('find', [seedRoot, '-exec', 'touch', '-h', '-d', `@${T0}`, '{}', '+'])
  const image = xorrisoMkisofs(path.join(dir, 'root.iso'), ['-R', '-J'], seedRoot)
  const host = path.join(dir, 'root-host')
  run('cp', ['-a', seedRoot, host])
  const before = parentExtents(image)
  const oldEnd = fs.statSync(image).size / 2048
  const firstSub = [...before].filter(([p]) => p !== '/').sort((a, b) => a[1].self - b[1].self)[0]
  const rootSectors = (): number => Math.ceil(Number(/^d\S*\s+\S+\s+\S+\s+\S+\s+(\d+).*\s\.\s*$/m.exec(run('isoinfo', ['-l', '-i', image]).stdout)?.[1]) / 2048)
  const rootBefore = rootSectors()

  await round(t, image, host, 'for i in $(seq 1 15); do echo $i > "added-to-the-root-with-a-long-name-$i.txt"; done', 'root', /committed by appending/, {
    skipMtime: /^added-to-the-root/
  })
  const after = parentExtents(image)
  const root = after.get('/')?.self as number
  t.ok(rootSectors() > rootBefore, `the root grew from ${rootBefore} sectors to ${rootSectors()}`)
  t.equal(root, firstSub[1].self, `the root took the extent of ${firstSub[0]}, the subdirectory that lay first`)
  t.ok((after.get(firstSub[0])?.self as number) >= oldEnd, `${firstSub[0]} moved after the old image`)
  const stayed = [...after].filter(([p]) => p !== '/' && p !== firstSub[0])
  t.equal(stayed.length, 19, 'the 19 other subdirectories are there')
  t.ok(stayed.every(([p, e]) => e.self === before.get(p)?.self), 'and stayed where they were')
  t.ok([...after].filter(([p]) => p !== '/').every(([, e]) => e.parent === root && e.self > root), 'every subdirectory lies after the root and names it in ".."')
  t.ok(fs.statSync(image).size / 2048 - oldEnd < 300, `a few sectors appended, not a tree (${fs.statSync(image).size / 2048 - oldEnd})`)
})

t.test('library: a commit in one directory of a large tree reads and writes that directory, not the tree', async t => {
  const { image } = prepare('library')
  const edit = await IsoImage.open(image)
  await edit.addFile('/docs/library.txt', Buffer.from('from the library\n'))
  const result = await edit.commit()
  // docs/ (moved with room to grow), its Joliet twin, the descriptors, the journal and the padding: no tree (~700 KiB).
  t.ok(result.bytesWritten < READ_AHEAD_PADDING_SECTORS * 2048 + 128 * 1024, `${result.bytesWritten} bytes written`)
  t.equal((await edit.lookup('/tree')).dir?.loaded, false, 'the commit did not read /tree')
  // The model carries on from the committed image: a second commit from it.
  await edit.editableData(await edit.lookup('/docs/library.txt')).write(Buffer.from('FROM'), 0, 4, 0)
  t.equal((await edit.commit()).mode, 'inplace', 'a change that fits, after a commit: in place')
  await edit.close()
  t.equal(run('bsdtar', ['-xOf', image, 'docs/library.txt']).stdout, 'FROM the library\n', 'bsdtar reads both commits')
  const xorriso = path.join(dir, 'library-x.txt')
  run('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/docs/library.txt', xorriso])
  t.equal(fs.readFileSync(xorriso, 'utf8'), 'FROM the library\n', 'so does xorriso')
})
