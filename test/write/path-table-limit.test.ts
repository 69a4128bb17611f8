import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { isovfyErrors } from '../helpers/readers'
import { run, scratch } from '../helpers/tools'

/*
 * ECMA-119 9.4.6: a path table names each directory's parent by a 16-bit number. A tree of more than
 * 65,535 directories has parents numbered beyond that. genisoimage refuses such a tree ("Unable to generate
 * sane path tables - too many directories"); xorriso records the number's low 16 bits, and readers take
 * the tree from the directory records (Linux, isoinfo, bsdtar, 7z, pycdlib and isovfy all read xorriso's).
 * We record as xorriso does. The edge: /p holds 65,535 subdirectories, numbered 3 to 65,537; the last two,
 * numbered 65,536 and 65,537, have a child each, recorded with parents 0 and 1.
 */

const dir = scratch(t, 'path-table-limit')
const COUNT = 65_535
const name = (i: number): string => `d${String(i).padStart(5, '0')}`

/** The L path table (9.4) of an image as [identifier, parent] pairs, read with Python's struct module. */
function pathTable (image: string): Array<[string, number]> {
  const script = `
import json, struct, sys
f = open(sys.argv[1], 'rb'); f.seek(16 * 2048); pvd = f.read(2048)
size = struct.unpack('<I', pvd[132:136])[0]; lba = struct.unpack('<I', pvd[140:144])[0]
f.seek(lba * 2048); table = f.read(size); out = []; i = 0
while i < len(table):
    n = table[i]; out.append([table[i + 8:i + 8 + n].decode('latin1'), struct.unpack('<H', table[i + 6:i + 8])[0]]); i += 8 + n + (n & 1)
print(json.dumps(out))
`
  return JSON.parse(run('/usr/bin/python3', ['-c', script, image], { maxBuffer: 1 << 28 }).stdout) as Array<[string, number]>
}

t.test('more than 65,535 directories: parent numbers read and written as xorriso records them', async t => {
  // The tree is mastered by xorriso (a library-built one would test the same writer more slowly): our
  // reading of its numbers, and our writing of them when a commit writes the whole tree again.
  const tree = path.join(dir, 'tree')
  for (let i = 0; i < COUNT; i++) fs.mkdirSync(path.join(tree, 'p', name(i)), { recursive: true })
  fs.mkdirSync(path.join(tree, 'p', name(COUNT - 2), 'x'))
  fs.mkdirSync(path.join(tree, 'p', name(COUNT - 1), 'y'))
  const image = path.join(dir, 'xorriso.iso')
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', image, tree])
  fs.rmSync(tree, { recursive: true })
  const table = pathTable(image)
  t.equal(table.length, COUNT + 4, 'xorriso lists every directory')
  t.same(table.slice(-2), [['X', 0], ['Y', 1]], 'xorriso records the parents numbered 65,536 and 65,537 as 0 and 1 (their low 16 bits)')

  const opened = await IsoImage.open(image)
  const [report] = await (opened.origin as NonNullable<typeof opened.origin>).pathTables()
  t.ok(report.consistent, `our path table check reads the numbers back against the tree: ${opened.warnings.join('; ')}`)

  // A commit into it: the image's path table can no longer say which directory each number means, so the
  // commit writes a whole tree (and says why) instead of renumbering the image's own table.
  await opened.addFile(`/p/${name(0)}/new.txt`, Buffer.from('new\n'))
  const result = await opened.commit({ mode: 'append' })
  t.match(result.reasons.join('\n'), /65,535/, `the commit says why it wrote a whole tree: ${result.reasons.join('; ')}`)
  await opened.close()
  const ours = pathTable(image)
  t.equal(ours.length, COUNT + 4, 'our path table lists every directory')
  t.same(ours.slice(-2), table.slice(-2), 'and records the numbers as xorriso does')
  t.equal(run('bsdtar', ['-xOf', image, `p/${name(0)}/new.txt`]).stdout, 'new\n', 'bsdtar reads the committed file')
  t.match(run('bsdtar', ['-tf', image], { maxBuffer: 1 << 28 }).stdout, new RegExp(`p/${name(COUNT - 2)}/x`), 'and the deepest directories')
  const listing = run('xorriso', ['-indev', image, '-find', `/p/${name(COUNT - 1)}`], { allowFailure: true }).stdout
  t.match(listing, new RegExp(`/p/${name(COUNT - 1)}/y`), 'xorriso reads the tree')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no errors')
})
