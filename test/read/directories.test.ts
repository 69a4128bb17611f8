import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage, statOf } from '../../src'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs, type TreeSpec } from '../helpers/tools'
import { recordOf, SECTOR, writeBoth32 } from './patch'

/*
 * Directories as Linux isofs sees them: st_size is the directory record's data length, and the records
 * of a directory with an extended attribute record start after it. Checked against isoinfo's and
 * xorriso's listings of the same images.
 */

const dir = scratch(t, 'directories')

/** isoinfo -l (-R names): directory path -> the size its record gives (the "." entry of its listing). */
function isoinfoDirectorySizes (iso: string): Record<string, number> {
  const sizes: Record<string, number> = {}
  let current = ''
  for (const line of run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n')) {
    const header = /^Directory listing of (.*?)\/?$/.exec(line)
    if (header !== null) current = header[1] === '' ? '/' : header[1]
    const m = /^d\S+\s+\d+\s+\d+\s+\d+\s+(\d+) .*\]\s\s\.\s*$/.exec(line)
    if (m !== null) sizes[current] = Number(m[1])
  }
  return sizes
}

t.test('a directory\'s size is its record\'s data length, as isoinfo lists it', async t => {
  const wide: TreeSpec = {}
  for (let i = 0; i < 400; i++) wide[`file-with-a-longish-name-${String(i).padStart(4, '0')}.txt`] = `${i}\n`
  const src = path.join(dir, 'sizes-src')
  writeTree(src, { wide, small: { 'x.txt': 'x\n' }, empty: {} })
  for (const [maker, make] of [['genisoimage', genisoimage], ['xorriso', xorrisoMkisofs]] as const) {
    const iso = make(path.join(dir, `sizes-${maker}.iso`), ['-R'], src)
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    const expected = isoinfoDirectorySizes(iso)
    t.ok(expected['/wide'] > 2048, `${maker}: the wide directory takes several sectors (${expected['/wide']} bytes)`)
    for (const p of ['/', '/wide', '/small', '/empty']) t.equal(statOf(await image.lookup(p)).size, expected[p], `${maker}: ${p}`)
    t.equal(statOf(await image.lookup('/wide')).blocks, expected['/wide'] / 512, `${maker}: blocks follow the size`)
  }
})

t.test('a directory with an extended attribute record', async t => {
  const src = path.join(dir, 'xar-src')
  writeTree(src, { 'a.txt': 'a\n', sub: { 'c.txt': 'c\n', deeper: { 'd.txt': 'd\n' } } })
  const base = genisoimage(path.join(dir, 'xar-base.iso'), ['-R'], src)
  const bytes = fs.readFileSync(base)
  // Moves /sub's directory one sector on, behind a one-sector extended attribute record (ECMA-119 9.5),
  // both appended at the end of the image: its record (and its "." record) then name the XAR's LBA and
  // an extended attribute record length of 1, as a writer recording one would.
  const { at } = await recordOf(base, '/sub')
  const oldExtent = bytes.readUInt32LE(at + 2)
  const xar = bytes.length / SECTOR
  const xarSector = Buffer.alloc(SECTOR)
  xarSector.writeUInt16LE(0, 0) // owner and group identification (9.5.1, 9.5.2) left unset
  const moved = Buffer.from(bytes.subarray(oldExtent * SECTOR, (oldExtent + 1) * SECTOR))
  for (const record of [bytes.subarray(at), moved]) {
    record[1] = 1
    writeBoth32(record, 2, xar)
  }
  const image = Buffer.concat([bytes, xarSector, moved])
  writeBoth32(image, 16 * SECTOR + 80, xar + 2) // volume space size
  // The path tables name the directory's extent and XAR length as its record does (9.4.2, 9.4.3).
  for (const [lba, order] of [[image.readUInt32LE(16 * SECTOR + 140), 'L'], [image.readUInt32BE(16 * SECTOR + 148), 'M']] as const) {
    let offset = lba * SECTOR
    for (;;) {
      const length = image[offset]
      if (length === 0) throw new Error('no SUB in the path table')
      if (image.toString('latin1', offset + 8, offset + 8 + length) === 'SUB') {
        image[offset + 1] = 1
        if (order === 'L') image.writeUInt32LE(xar, offset + 2)
        else image.writeUInt32BE(xar, offset + 2)
        break
      }
      offset += 8 + length + (length % 2)
    }
  }
  image.fill(0, oldExtent * SECTOR, (oldExtent + 1) * SECTOR)
  const file = path.join(dir, 'xar.iso')
  fs.writeFileSync(file, image)

  const xorrisoNames = run('xorriso', ['-indev', file, '-ls', '/sub']).stdout.split('\n').filter(l => l.startsWith("'")).map(l => l.slice(1, -1)).sort()
  t.same(xorrisoNames, ['c.txt', 'deeper'], 'xorriso lists the directory behind its XAR')
  const opened = await IsoImage.open(file, { strict: true })
  t.teardown(() => opened.close())
  t.same((await opened.readdir('/sub')).map(e => e.name).sort(), xorrisoNames, 'so does the library (in strict mode: path tables agree)')
  t.equal((await opened.readFile('/sub/deeper/d.txt')).toString(), 'd\n', 'and reads below it')
  t.equal(statOf(await opened.lookup('/sub')).size, 2048, 'its size leaves the XAR out (9.1.4: data length of the file section)')
  t.same(opened.warnings, [])
})
