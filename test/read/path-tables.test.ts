import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoError, IsoImage } from '../../src'
import type { PathTableReport } from '../../src/iso/read/path-tables'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs, type TreeSpec } from '../helpers/tools'
import { SECTOR } from './patch'

/*
 * L and M path tables (ECMA-119 9.4): read as isoinfo -p lists them, cross-checked against the directory
 * records, warned about when they disagree and refused in strict mode; damage never stops the tree.
 */

const dir = scratch(t, 'path-tables')

/** isoinfo -p: the L path table as (parent, extent, name) per record. */
function isoinfoPathTable (iso: string, joliet: boolean): Array<[number, number, string]> {
  const out = run('isoinfo', [...(joliet ? ['-J', '-j', 'iso8859-1'] : []), '-p', '-i', iso], { encoding: 'latin1' }).stdout
  const records: Array<[number, number, string]> = []
  for (const line of out.split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\s+([0-9a-f]+)\s?(.*)$/.exec(line)
    if (m !== null) records.push([Number(m[1]), parseInt(m[2], 16), m[3]])
  }
  return records
}

function ours (report: PathTableReport, kind: 'L' | 'M', joliet: boolean): Array<[number, number, string]> {
  const records = report.tables.find(c => c.kind === kind)?.records ?? []
  return records.map((r, i) => [r.parent, r.extent, i === 0 ? '' : joliet ? Buffer.from(r.identifier).swap16().toString('utf16le') : r.identifier.toString('latin1')])
}

function spec (): TreeSpec {
  let deep: TreeSpec = { 'bottom.txt': 'bottom\n' }
  for (let i = 10; i >= 1; i--) deep = { [`level${i}`]: deep }
  return { deep, a: { b: { 'c.txt': 'c\n' }, e: {} }, 'top.txt': 'top\n', zz: { y: {} } }
}

const src = path.join(dir, 'src')
writeTree(src, spec())
const images = {
  genisoimage: genisoimage(path.join(dir, 'g.iso'), ['-R', '-J'], src),
  xorriso: xorrisoMkisofs(path.join(dir, 'x.iso'), ['-R', '-J'], src)
}

for (const [maker, iso] of Object.entries(images)) {
  t.test(`${maker}: path tables as isoinfo -p reads them, consistent with the tree`, async t => {
    const image = await IsoImage.open(iso, { strict: true })
    t.teardown(() => image.close())
    const reports = await image.origin?.pathTables() ?? []
    t.same(reports.map(r => r.tree), ['primary', 'Joliet'], 'one report per tree')
    for (const report of reports) {
      const joliet = report.tree === 'Joliet'
      t.ok(report.consistent, `${report.tree}: consistent`)
      t.same(ours(report, 'L', joliet), isoinfoPathTable(iso, joliet), `${report.tree}: L table as isoinfo -p lists it`)
      t.same(ours(report, 'M', joliet), ours(report, 'L', joliet), `${report.tree}: M table says the same`)
      t.equal(report.directories, isoinfoPathTable(iso, joliet).length, `${report.tree}: as many directories as records`)
    }
    t.same(image.warnings, [])
  })
}

t.test('images the library writes have consistent path tables', async t => {
  const source = await IsoImage.open(images.xorriso)
  const copy = path.join(dir, 'copy.iso')
  await source.write(copy)
  await source.close()
  const image = await IsoImage.open(copy, { strict: true })
  t.teardown(() => image.close())
  for (const report of await image.origin?.pathTables() ?? []) {
    t.ok(report.consistent, `${report.tree}: consistent`)
    t.same(ours(report, 'L', report.tree === 'Joliet'), isoinfoPathTable(copy, report.tree === 'Joliet'), `${report.tree}: as isoinfo -p lists it`)
  }
})

t.test('damaged path tables: warnings in relaxed mode, refusal in strict mode, the tree reads', async t => {
  const base = fs.readFileSync(images.genisoimage)
  const pvd = 16 * SECTOR
  const lTable = base.readUInt32LE(pvd + 140)
  const mTable = base.readUInt32BE(pvd + 148)
  const cases: Array<{ name: string, patch: (b: Buffer) => void, warnings: RegExp[] }> = [
    {
      name: 'a record whose identifier overruns the table',
      patch: b => { b[lTable * SECTOR] = 255; b[mTable * SECTOR] = 255 },
      warnings: [/^primary L path table at LBA \d+ offset 0, field length of directory identifier: .*not checked$/, /^primary M path table/]
    },
    {
      name: 'a wrong extent in the L table',
      patch: b => { b.writeUInt32LE(b.readUInt32LE(lTable * SECTOR + 10 + 2) + 1, lTable * SECTOR + 10 + 2) },
      warnings: [/^primary L path table at LBA \d+: \/A at extent \d+, its directory record says \d+$/]
    },
    {
      name: 'a parent number that does not precede its record',
      patch: b => { b.writeUInt16BE(200, mTable * SECTOR + 10 + 6) },
      warnings: [/^primary M path table at LBA \d+: record 2 names parent 200/]
    },
    {
      name: 'a table beyond the end of the image',
      patch: b => { b.writeUInt32LE(0x00ffffff, pvd + 140) },
      warnings: [/^primary L path table at LBA 16777215, field location or size: .*does not fit in the image; not checked$/]
    }
  ]
  for (const c of cases) {
    const bytes = Buffer.from(base)
    c.patch(bytes)
    const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.iso`)
    fs.writeFileSync(file, bytes)
    const image = await IsoImage.open(file)
    const entries: string[] = []
    for await (const { path: p } of image.walk('/')) entries.push(p)
    t.ok(entries.includes('/deep/level1/level2/level3/level4/level5/level6/level7/level8/level9/level10/bottom.txt'), `${c.name}: the tree reads`)
    t.same(image.warnings, [], `${c.name}: opening and walking do not read path tables`)
    const reports = await image.origin?.pathTables() ?? []
    t.equal(reports[0].consistent, false, `${c.name}: reported inconsistent`)
    t.equal(reports[1].consistent, true, `${c.name}: the Joliet tables are still fine`)
    for (const w of c.warnings) t.ok(image.warnings.some(m => w.test(m)), `${c.name}: warning ${w} (${image.warnings.join(' | ')})`)
    await image.close()
    let refused: unknown
    try {
      await (await IsoImage.open(file, { strict: true })).close()
    } catch (err) {
      refused = err
    }
    t.ok(refused instanceof IsoError && refused.code === 'IMAGE_STRICT', `${c.name}: strict mode refuses at open`)
  }
})
