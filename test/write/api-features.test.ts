import * as fs from 'node:fs'
import * as path from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { IsoImage } from '../../src'
import { importHostTree } from '../../src/iso/edit/host-import'
import { ISOLINUX } from '../helpers/boot'
import { extractWith7z, extractWithXorriso, isoinfoNames, isovfyErrors, pycdlibListing } from '../helpers/readers'
import { genisoimage, PYTHON, run, scratch, writeTree, type TreeSpec } from '../helpers/tools'
import { contentOnly, sha256, snapshot } from '../helpers/tree'
import { xorrisoBootReport } from '../helpers/xorriso-report'
import { expectInvalid } from '../helpers/expect'

/*
 * Library features of the pycdlib guide not covered elsewhere, each image read by tools nobody here
 * wrote (pycdlib, isoinfo, xorriso, 7z, dumpet, isovfy) and, where genisoimage can make the same image,
 * set against genisoimage's.
 */

const dir = scratch(t, 'api-features')

/** Runs a pycdlib snippet over `iso` (bound as `i`) and returns what it prints. */
function pycdlib (iso: string, body: string): string {
  return run(PYTHON, ['-c', `import pycdlib, sys\ni = pycdlib.PyCdlib()\ni.open(sys.argv[1])\n${body}`, iso]).stdout.trim()
}

t.test('an entry added by its ISO9660 name has a Joliet name without the version', async t => {
  const image = IsoImage.create({ rockRidge: true, joliet: true })
  await image.addFile('/FOO.TXT;1', Buffer.from('foo\n'), { namespace: 'iso9660' })
  await image.addDirectory('/DIR', { namespace: 'iso9660' })
  const iso = path.join(dir, 'iso-named.iso')
  await image.write(iso)
  t.same(isoinfoNames(iso, '-J'), ['DIR', 'FOO.TXT'], 'isoinfo -J: FOO.TXT (not FOO.TXT_1)')
  t.same(isoinfoNames(iso, '-R'), ['DIR', 'FOO.TXT'], 'isoinfo -R: the Rock Ridge name the same')
  t.same(Object.keys(pycdlibListing(iso, 'joliet')).sort(), ['DIR', 'FOO.TXT'], 'pycdlib reads the same Joliet names')
})

t.test('Joliet names are cut at 64 UTF-16 units, never inside a surrogate pair', async t => {
  const image = IsoImage.create({ rockRidge: true, joliet: true })
  const forty = '😀'.repeat(40) + '.txt'
  const sixty = '😀'.repeat(60) + '.txt'
  const mixed = 'a' + '😀'.repeat(40)
  for (const [name, data] of [[forty, 'forty'], [sixty, 'sixty'], [mixed, 'mixed']]) await image.addFile(`/${name}`, Buffer.from(data))
  const iso = path.join(dir, 'emoji.iso')
  await image.write(iso)
  // pycdlib's strict UTF-16 decoding fails on a lone surrogate; it prints each name's length in units.
  const units = pycdlib(iso, `
for c in i.list_children(joliet_path='/'):
    if c.is_dot() or c.is_dotdot(): continue
    n = c.file_identifier().decode('utf-16-be', 'strict')
    print(len(c.file_identifier()) // 2, n)`).split('\n').map(l => l.split(' '))
  t.equal(units.length, 3, 'three Joliet names')
  for (const [count] of units) t.ok(Number(count) <= 64, `a name of ${count} UTF-16 units (at most 64)`)
  t.ok(units.some(([count, n]) => count === '63' && n === mixed.slice(0, 63)), '"a" + 40 emoji is cut to 63 units: the 32nd emoji would be split')
  const by7z = snapshot(extractWith7z(iso, path.join(dir, 'emoji-7z')))
  t.same(Object.values(by7z).map(e => e.sha256).sort(), ['forty', 'sixty', 'mixed'].map(s => sha256(Buffer.from(s))).sort(), '7z extracts all three from the Joliet tree')
  t.same(isoinfoNames(iso, '-R').sort(), [forty, mixed, sixty].sort(), 'Rock Ridge keeps the whole names')

  const long = IsoImage.create({ joliet: true, jolietLong: true })
  // As a host name: a name given as a Joliet name is validated, not cut (NAME_TOO_LONG).
  await long.addFile('/' + '😀'.repeat(60) + '.txt', Buffer.from('long'), { hostName: true })
  const longIso = path.join(dir, 'emoji-long.iso')
  await long.write(longIso)
  t.equal(pycdlib(longIso, `
for c in i.list_children(joliet_path='/'):
    if not (c.is_dot() or c.is_dotdot()): print(len(c.file_identifier()) // 2, len(c.file_identifier().decode('utf-16-be', 'strict')))`), '102 51',
  'the long form: cut to 102 units, 51 whole emoji (the 52nd would be split at 103)')
})

t.test('uid and gid must fit Rock Ridge\'s 32 bits', async t => {
  const image = IsoImage.create({ rockRidge: true })
  await expectInvalid(t, async () => await image.addFile('/u', Buffer.from('u'), { uid: 2 ** 33 }), 'BAD_ARGUMENT', /uid 8589934592.*4294967295/, 'uid 2^33')
  await expectInvalid(t, async () => await image.addFile('/g', Buffer.from('g'), { gid: -1 }), 'BAD_ARGUMENT', /gid -1/, 'gid -1')
  await expectInvalid(t, async () => await image.addFile('/f', Buffer.from('f'), { uid: 1.5 }), 'BAD_ARGUMENT', /uid 1\.5/, 'a fractional uid')
  await image.addFile('/max', Buffer.from('m'), { uid: 0xffffffff, gid: 0xfffffffe })
  await expectInvalid(t, async () => await image.setAttributes('/max', { uid: 2 ** 32 }), 'BAD_ARGUMENT', /uid 4294967296/, 'setAttributes uid 2^32')
  const iso = path.join(dir, 'ids.iso')
  await image.write(iso)
  t.match(run('xorriso', ['-indev', iso, '-find', '/max', '-exec', 'lsdl']).stdout, /^-rw-r--r--\s+1\s+4294967295\s+4294967294\s/m, 'xorriso reads the largest ids')
})

t.test('XA, Joliet levels 1 and 2, Joliet volume id, expiration and effective dates', async t => {
  const when = { createdMs: Date.UTC(2001, 0, 2, 3, 4, 5), modifiedMs: Date.UTC(2002, 1, 3, 4, 5, 6), expiresMs: Date.UTC(2030, 5, 7, 8, 9, 10), effectiveMs: Date.UTC(2003, 6, 8, 9, 10, 11) }
  for (const level of [1, 2, 3] as const) {
    const image = IsoImage.create({ rockRidge: true, joliet: level, volume: { volumeId: 'FEATURES', jolietVolumeId: 'Jöliet Vølume', ...when } })
    await image.addDirectory('/sub')
    await image.addFile('/sub/file.txt', Buffer.from('x\n'))
    const iso = path.join(dir, `joliet${level}.iso`)
    await image.write(iso)
    t.match(run('isoinfo', ['-d', '-i', iso]).stdout, new RegExp(`Joliet with UCS level ${level} found`), `level ${level}: isoinfo -d reads the Joliet level`)
    const escape = { 1: '%/@', 2: '%/C', 3: '%/E' }[level]
    t.equal(pycdlib(iso, 'print(i.joliet_vd.escape_sequences[:3].decode())'), escape, `level ${level}: escape sequence ${escape} (Joliet 1995, 5.2)`)
    t.equal(pycdlib(iso, 'print(i.joliet_vd.volume_identifier.decode("utf-16-be").rstrip())'), 'Jöliet Vølume', `level ${level}: the Joliet volume id, in UCS-2`)
    t.match(isovfyErrors(iso), /No errors found/, `level ${level}: isovfy finds no error`)
  }
  const iso = path.join(dir, 'joliet3.iso')
  t.equal(pycdlib(iso, `
d = i.pvd.volume_expiration_date; e = i.pvd.volume_effective_date
print(d.year, d.month, d.dayofmonth, d.hour, d.minute, d.second, e.year, e.month, e.dayofmonth, e.hour, e.minute, e.second)`),
  '2030 6 7 8 9 10 2003 7 8 9 10 11', 'pycdlib reads the expiration and effective dates (ECMA-119 8.4.28, 8.4.29)')
  const xa = IsoImage.create({ xa: true, rockRidge: true })
  await xa.addDirectory('/sub')
  await xa.addFile('/sub/file.txt', Buffer.from('x\n'))
  const xaIso = path.join(dir, 'xa.iso')
  await xa.write(xaIso)
  t.equal(pycdlib(xaIso, `
print(i.xa, all(c.xa_record is not None for c in i.list_children(iso_path='/SUB')))`), 'True True', 'pycdlib finds the XA signature and an XA record in every directory record')
  const theirs = path.join(dir, 'xa-g.iso')
  const src = path.join(dir, 'xa-src')
  writeTree(src, { sub: { 'file.txt': 'x\n' } })
  run('genisoimage', ['-quiet', '-XA', '-R', '-o', theirs, src])
  t.equal(pycdlib(theirs, 'print(i.xa)'), 'True', '(as pycdlib finds in genisoimage -XA\'s image)')
  // isovfy knows no XA: the XA record before the SUSP entries is "BAD SUSP" to it, in genisoimage's image too.
  const complaints = (file: string): string[] => [...new Set(isovfyErrors(file).match(/\*\*[A-Z ]+/g) ?? [])]
  t.same(complaints(xaIso), complaints(theirs), 'isovfy says of our XA records what it says of genisoimage -XA -R\'s, nothing else')
  t.same(pycdlibListing(xaIso, 'rr'), pycdlibListing(theirs, 'rr'), 'pycdlib reads the Rock Ridge tree behind the XA records, as in genisoimage\'s image')
  // xorriso reads no Rock Ridge behind XA records, genisoimage's or ours: it sees the same ISO9660 tree in both.
  t.same(snapshot(extractWithXorriso(xaIso, path.join(dir, 'xa-x'))), snapshot(extractWithXorriso(theirs, path.join(dir, 'xa-g-x'))), 'xorriso extracts from it what it extracts from genisoimage\'s')
})

t.test('long Joliet names and Rock Ridge 1.10 / 1.12 through the API, as genisoimage and xorriso write them', async t => {
  const src = path.join(dir, 'long-src')
  writeTree(src, { ['x'.repeat(90) + '-ninety-and-more-characters.txt']: 'long\n', ['y'.repeat(70) + '.md']: 'seventy\n', short: { 'a.txt': 'a\n' } })
  const image = IsoImage.create({ rockRidge: true, joliet: true, jolietLong: true })
  await importHostTree(image, src, '/')
  const iso = path.join(dir, 'joliet-long.iso')
  await image.write(iso)
  const theirs = genisoimage(path.join(dir, 'joliet-long-g.iso'), ['-R', '-J', '-joliet-long'], src)
  t.same(isoinfoNames(iso, '-J'), isoinfoNames(theirs, '-J'), 'Joliet names cut at 103 as genisoimage -joliet-long cuts them')

  const rockRidge = (file: string): string => pycdlib(file, `
dot = next(c for c in i.list_children(rr_path='/') if c.is_dot())
er = dot.rock_ridge.dr_entries.er_record or dot.rock_ridge.ce_entries.er_record
f = i.get_record(rr_path='/short')
print(f.rock_ridge.rr_version, er.ext_id.decode(), f.rock_ridge.dr_entries.rr_record is not None)`)
  for (const [version, compliance] of [['1.10', 'old_rr'], ['1.12', 'new_rr']] as const) {
    const ours = IsoImage.create({ rockRidge: version })
    await importHostTree(ours, src, '/')
    const out = path.join(dir, `rr${version}.iso`)
    await ours.write(out)
    const reference = path.join(dir, `rr${version}-x.iso`)
    run('xorriso', ['-compliance', compliance, '-outdev', reference, '-map', src, '/', '-commit'])
    t.equal(rockRidge(out), rockRidge(reference), `Rock Ridge ${version}: pycdlib reads the version, ER and entries of xorriso -compliance ${compliance}`)
    t.same(snapshot(extractWithXorriso(out, path.join(dir, `rr${version}-x`))), snapshot(src), `Rock Ridge ${version}: xorriso extracts the tree`)
  }
})

t.test('setIsoName', async t => {
  const image = IsoImage.create({ rockRidge: true, joliet: true })
  await image.addDirectory('/some directory')
  await image.addFile('/some directory/readme.txt', Buffer.from('r\n'))
  await image.setIsoName('/some directory', 'DOCS')
  await image.setIsoName('/some directory/readme.txt', 'READ_ME.TXT;1')
  await expectInvalid(t, async () => await image.setIsoName('/some directory', 'docs'), 'BAD_NAME', /d-characters/, 'a lower-case ISO9660 name at level 1')
  const iso = path.join(dir, 'set-iso-name.iso')
  await image.write(iso)
  t.same(isoinfoNames(iso, ''), ['DOCS', 'DOCS/READ_ME.TXT'], 'isoinfo: the ISO9660 names set')
  t.same(isoinfoNames(iso, '-R'), ['some directory', 'some directory/readme.txt'], 'the Rock Ridge names unchanged')
  t.same(isoinfoNames(iso, '-J'), ['some directory', 'some directory/readme.txt'], 'the Joliet names unchanged')
  t.match(isovfyErrors(iso), /No errors found/, 'isovfy finds no error')
})

t.test('floppy 1.2 MB and 2.88 MB emulation and the Mac platform, as xorriso and dumpet read them', async t => {
  const image = IsoImage.create({ rockRidge: true })
  await image.addFile('/f12.img', Buffer.alloc(1200 * 1024, 0x12))
  await image.addFile('/f288.img', Buffer.alloc(2880 * 1024, 0x28))
  await image.addFile('/mac.bin', Buffer.alloc(4096, 0x4d))
  await image.addElTorito({ bootFile: '/f12.img', emulation: 'floppy' })
  await image.addElTorito({ bootFile: '/f288.img', emulation: 'floppy' })
  await image.addElTorito({ bootFile: '/mac.bin', emulation: 'none', platform: 'mac' })
  await expectInvalid(t, async () => await image.addElTorito({ bootFile: '/mac.bin', emulation: 'floppy' }), 'BAD_ARGUMENT', /1200, 1440 or 2880 KiB/, 'a floppy image of another size')
  const iso = path.join(dir, 'floppies.iso')
  await image.write(iso)
  const report = xorrisoBootReport(iso)
  t.same(report.images.map(i => [i.platform, i.emulation, i.path]), [['BIOS', 'fd1.2', '/f12.img'], ['BIOS', 'fd2.8', '/f288.img'], ['Mac', 'none', '/mac.bin']], 'xorriso: 1.2 MB and 2.88 MB floppies, a Mac entry')
  const dumpet = run('dumpet', ['-i', iso]).stdout
  t.match(dumpet, /1\.2MB floppy diskette emulation/, 'dumpet: the 1.2 MB floppy')
  t.match(dumpet, /2\.88MB floppy diskette emulation/, 'dumpet: the 2.88 MB floppy')
  t.match(dumpet, /PlatformId: 0x02 \(m68k Macintosh\)/, 'dumpet: a section for the Mac platform (El Torito 2.3: 2)')
})

/** The same image, made again each time (SOURCE_DATE_EPOCH fixes every date it records). */
async function reproducible (): Promise<IsoImage> {
  const image = IsoImage.create({ rockRidge: true, joliet: true, volume: { volumeId: 'REPRO' } })
  await image.addDirectory('/dir')
  await image.addFile('/dir/a.bin', Buffer.alloc(70_000, 0xa1))
  await image.addFile('/isolinux.bin', fs.readFileSync(ISOLINUX.bin))
  await image.addElTorito({ bootFile: '/isolinux.bin', emulation: 'none', loadSize: 4, bootInfoTable: true })
  await image.addIsohybrid({ mbr: fs.readFileSync(ISOLINUX.mbr) })
  return image
}

t.test('estimateSize, onProgress, and writing to a path, an fd and a Writable', async t => {
  const epoch = process.env.SOURCE_DATE_EPOCH
  process.env.SOURCE_DATE_EPOCH = '1600000000'
  t.teardown(() => { if (epoch === undefined) delete process.env.SOURCE_DATE_EPOCH; else process.env.SOURCE_DATE_EPOCH = epoch })

  const byPath = path.join(dir, 'by-path.iso')
  const image = await reproducible()
  const estimate = await image.estimateSize({ paddingSectors: 150 })
  const seen: Array<{ bytesWritten: number, totalBytes: number }> = []
  const result = await image.write(byPath, { paddingSectors: 150, onProgress: p => seen.push({ ...p }) })
  t.equal(estimate, fs.statSync(byPath).size, 'estimateSize is the size written (with padding and the hybrid cylinder alignment)')
  t.equal(result.bytes, estimate, 'write reports the same size')
  t.ok(seen.length > 0, 'onProgress is called')
  t.ok(seen.every((p, i) => i === 0 || p.bytesWritten >= seen[i - 1].bytesWritten), 'bytesWritten never goes back')
  t.ok(seen.every(p => p.totalBytes === estimate && p.bytesWritten <= estimate), 'totalBytes is the size; bytesWritten stays within it')
  t.equal(seen[seen.length - 1].bytesWritten, estimate, 'the last report is the whole image')
  const small = IsoImage.create()
  await small.addFile('/A.TXT;1', Buffer.from('a'), { namespace: 'iso9660' })
  t.equal(await small.estimateSize(), (await small.write(path.join(dir, 'small.iso'))).bytes, 'estimateSize is exact for a plain image too')

  const byFd = path.join(dir, 'by-fd.iso')
  const fd = fs.openSync(byFd, 'w')
  try {
    await (await reproducible()).write(fd, { paddingSectors: 150 })
  } finally {
    fs.closeSync(fd)
  }
  const chunks: Buffer[] = []
  const sink = new Writable({ write (chunk: Buffer, _encoding, done) { chunks.push(Buffer.from(chunk)); done() } })
  await (await reproducible()).write(sink, { paddingSectors: 150 })
  const reference = sha256(fs.readFileSync(byPath))
  t.equal(sha256(fs.readFileSync(byFd)), reference, 'written to an fd: byte-identical')
  t.equal(sha256(Buffer.concat(chunks)), reference, 'written to a Writable: byte-identical')
  t.equal(xorrisoBootReport(byFd).images.length, 1, 'and what was written boots as it should (xorriso reads the entry)')
  t.match(isovfyErrors(byFd), /No errors found/, 'isovfy finds no error')
})

/** Directories `names` nested in one another, `inner` in the last. */
function nested (names: string[], inner: TreeSpec): TreeSpec {
  let spec = inner
  for (let i = names.length - 1; i >= 0; i--) spec = { [names[i]]: spec }
  return spec
}

function deepTree (names: string[], leaf: string): TreeSpec {
  return nested(names, { 'bottom.txt': leaf })
}

const LEVELS = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9', 'd10']

t.test('a deep tree made through the API is relocated as genisoimage relocates it', async t => {
  const src = path.join(dir, 'deep-src')
  writeTree(src, { ...deepTree(LEVELS, 'deep\n'), 'top.txt': 'top\n' })
  const image = IsoImage.create({ rockRidge: true })
  let p = ''
  for (const level of LEVELS) {
    p += `/${level}`
    await image.addDirectory(p)
  }
  await image.addFile(`${p}/bottom.txt`, Buffer.from('deep\n'))
  await image.addFile('/top.txt', Buffer.from('top\n'))
  const iso = path.join(dir, 'deep-api.iso')
  await image.write(iso)
  const theirs = genisoimage(path.join(dir, 'deep-api-g.iso'), ['-R'], src)
  t.same(isoinfoNames(iso, ''), isoinfoNames(theirs, ''), 'isoinfo (ISO9660): the relocated directories in RR_MOVED where genisoimage puts them')
  t.same(contentOnly(snapshot(extractWithXorriso(iso, path.join(dir, 'deep-api-x')), { skip: /^rr_moved/ })), contentOnly(snapshot(src)), 'xorriso follows CL/PL/RE back to the tree')
  t.same(pycdlibListing(iso, 'rr'), pycdlibListing(theirs, 'rr'), 'pycdlib lists what it lists for genisoimage\'s image')
  t.match(isovfyErrors(iso), /No errors found/, 'isovfy finds no error')

  const named = IsoImage.create({ rockRidge: true, relocationDirectory: 'moved_here' })
  await importHostTree(named, src, '/')
  const namedIso = path.join(dir, 'deep-named.iso')
  await named.write(namedIso)
  // Its ISO9660 name is made as any directory's: 8 characters at level 1 (ECMA-119 10.1), as genisoimage cuts it.
  t.ok(isoinfoNames(namedIso, '').some(n => n.startsWith('MOVED_HE/')), 'relocationDirectory names the directory the deep ones move to')
  t.ok(isoinfoNames(namedIso, '-R').some(n => n.startsWith('moved_here')), '(moved_here in Rock Ridge)')
  t.notOk(isoinfoNames(namedIso, '').some(n => /RR_MOVED/.test(n)), 'and there is no RR_MOVED')
  t.same(contentOnly(snapshot(extractWithXorriso(namedIso, path.join(dir, 'deep-named-x')), { skip: /^moved_here/ })), contentOnly(snapshot(src)), 'xorriso reads the tree whole')
})

t.test('remastering moves directories into and out of rr_moved as the new depths ask', async t => {
  const before = path.join(dir, 'move-before')
  writeTree(before, { ...deepTree(LEVELS, 'deep\n'), shallow: { one: { two: { 'file.txt': 'shallow\n' } } } })
  const original = genisoimage(path.join(dir, 'move-in.iso'), ['-R', '-J'], before)
  const image = await IsoImage.open(original)
  // d9 and below come up to the root (out of rr_moved); shallow goes down to depth 8 and below (into it).
  await image.rename('/d1/d2/d3/d4/d5/d6/d7/d8/d9', '/d9')
  await image.rename('/shallow', '/d1/d2/d3/d4/d5/d6/d7/shallow')
  const out = path.join(dir, 'move-out.iso')
  await image.write(out)
  await image.close()

  const after = path.join(dir, 'move-after')
  writeTree(after, {
    ...nested(LEVELS.slice(0, 7), { d8: {}, shallow: { one: { two: { 'file.txt': 'shallow\n' } } } }),
    d9: deepTree(['d10'], 'deep\n')
  })
  const reference = genisoimage(path.join(dir, 'move-reference.iso'), ['-R', '-J'], after)
  t.same(contentOnly(snapshot(extractWithXorriso(out, path.join(dir, 'move-x')), { skip: /^rr_moved/ })), contentOnly(snapshot(after)), 'xorriso extracts the tree as moved')
  t.same(isoinfoNames(out, ''), isoinfoNames(reference, ''), 'isoinfo (ISO9660): rr_moved holds what genisoimage puts there for the moved tree')
  t.same(pycdlibListing(out, 'rr'), pycdlibListing(reference, 'rr'), 'pycdlib lists what it lists for genisoimage\'s image of the moved tree')
  t.same(isoinfoNames(out, '-J'), isoinfoNames(reference, '-J'), 'the Joliet tree (never relocated) follows the moves')
  t.match(isovfyErrors(out), /No errors found/, 'isovfy finds no error')
})
