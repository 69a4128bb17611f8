import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { isoinfoNames } from '../helpers/readers'
import { genisoimage, PYTHON, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'
import { recordOf, SECTOR } from './patch'

/*
 * Less common things images carry, each made by a tool that writes it and read back against that tool's
 * or another reader's view: hidden and associated files, version suffixes, Joliet levels 1 and 2, an
 * image opened by file descriptor, El Torito ID strings, selection criteria and extension entries.
 */

const dir = scratch(t, 'features')

/** isoinfo -l: name -> ECMA-119 file flags (9.1.6) of the plain tree's root directory. */
function isoinfoFlags (iso: string): Record<string, number> {
  const flags: Record<string, number> = {}
  for (const line of run('isoinfo', ['-l', '-i', iso]).stdout.split('\n')) {
    const m = /\[\s*\d+\s+([0-9a-f]{2})\]\s\s(.*?)\s*$/.exec(line)
    if (m !== null && m[2] !== '.' && m[2] !== '..') flags[m[2]] = parseInt(m[1], 16)
  }
  return flags
}

async function names (image: IsoImage, namespace: 'rockridge' | 'joliet' | 'iso9660', options = {}): Promise<string[]> {
  const view = image.view(namespace, options)
  return [...(await view.entries(image.root)).keys()].sort()
}

t.test('hidden (existence bit) and hidden-from-a-tree files, as genisoimage -hidden/-hide/-hide-joliet make them', async t => {
  const src = path.join(dir, 'hide-src')
  writeTree(src, { 'shown.txt': 's\n', 'hidden.txt': 'h\n', 'noiso.txt': 'n\n', 'nojoliet.txt': 'j\n' })
  const iso = genisoimage(path.join(dir, 'hide.iso'), ['-R', '-J', '-hidden', 'hidden.txt', '-hide', 'noiso.txt', '-hide-joliet', 'nojoliet.txt'], src)
  const flags = isoinfoFlags(iso)
  t.equal(flags['HIDDEN.TXT;1'] & 1, 1, 'isoinfo: the existence bit is set on hidden.txt')
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  // Linux shows hidden files unless mounted with "hide"; a file -hide removed from the ISO9660 tree has
  // no Rock Ridge name either, and -hide-joliet leaves it out of Joliet only.
  t.same(await names(image, 'rockridge'), ['hidden.txt', 'nojoliet.txt', 'shown.txt'], 'Rock Ridge: hidden shown, -hide removed')
  t.same(await names(image, 'rockridge', { hideHidden: true }), ['nojoliet.txt', 'shown.txt'], 'hideHidden leaves the hidden file out')
  t.same(await names(image, 'iso9660'), isoinfoNames(iso, '').sort().map(n => n.toUpperCase()), 'ISO9660 names as isoinfo -l')
  t.same(await names(image, 'joliet'), isoinfoNames(iso, '-J'), 'Joliet names as isoinfo -J -l')
  t.same(await names(image, 'joliet'), ['hidden.txt', 'noiso.txt', 'shown.txt'], 'Joliet: -hide-joliet removed')
  t.equal((await image.readFile('/noiso.txt', 'joliet')).toString(), 'n\n', 'a Joliet-only file reads')
  t.same(image.warnings, [])
})

t.test('associated files (ECMA-119 9.1.6 bit 2) are hidden unless asked for, as Linux without showassoc', async t => {
  const src = path.join(dir, 'assoc-src')
  writeTree(src, { 'data.txt': 'd\n', 'fork.txt': 'f\n' })
  const base = genisoimage(path.join(dir, 'assoc-base.iso'), ['-R'], src)
  const bytes = fs.readFileSync(base)
  const { at } = await recordOf(base, '/fork.txt')
  bytes[at + 25] |= 0x04
  const iso = path.join(dir, 'assoc.iso')
  fs.writeFileSync(iso, bytes)
  t.equal(isoinfoFlags(iso)['FORK.TXT;1'], 0x04, 'isoinfo: the associated bit is set')
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  t.same(await names(image, 'rockridge'), ['data.txt'], 'not shown by default')
  t.same(await names(image, 'rockridge', { showAssociated: true }), ['data.txt', 'fork.txt'], 'shown with showAssociated')
})

t.test('version suffixes: ";1" stripped from ISO9660 names, absent with -N, any version read', async t => {
  const src = path.join(dir, 'version-src')
  writeTree(src, { 'a.txt': 'a\n', noext: 'n\n' })
  for (const [label, args] of [['with versions', []], ['-N (no versions)', ['-N']]] as const) {
    const iso = genisoimage(path.join(dir, `version-${label.replace(/\W+/g, '')}.iso`), [...args], src)
    const listed = Object.keys(isoinfoFlags(iso)).sort()
    t.same(listed, label === 'with versions' ? ['A.TXT;1', 'NOEXT.;1'] : ['A.TXT', 'NOEXT.'], `${label}: isoinfo -l lists them so`)
    const image = await IsoImage.open(iso)
    t.same(await names(image, 'iso9660'), ['A.TXT', 'NOEXT'], `${label}: the ISO9660 view drops the version and the lone dot`)
    await image.close()
  }
  // A second version of a file (";2"), written by hand: still its name without the version.
  const iso = genisoimage(path.join(dir, 'version2-base.iso'), [], src)
  const bytes = fs.readFileSync(iso)
  const at = bytes.indexOf(Buffer.from('A.TXT;1'))
  bytes.write('2', at + 6, 'latin1')
  const file = path.join(dir, 'version2.iso')
  fs.writeFileSync(file, bytes)
  t.ok(Object.keys(isoinfoFlags(file)).includes('A.TXT;2'), 'isoinfo lists A.TXT;2')
  const image = await IsoImage.open(file)
  t.teardown(() => image.close())
  t.equal((await image.readFile('/A.TXT', 'iso9660')).toString(), 'a\n', 'read as A.TXT')
  t.equal((await image.lookup('/A.TXT', 'iso9660')).names.iso, 'A.TXT;2', 'the recorded identifier is kept')
})

t.test('Joliet levels 1 and 2 (pycdlib writes them; genisoimage only level 3)', async t => {
  for (const level of [1, 2, 3]) {
    const iso = path.join(dir, `joliet${level}.iso`)
    run(PYTHON, ['-c', `
import io, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.new(joliet=int(sys.argv[2]))
iso.add_fp(io.BytesIO(b'hello\\n'), 6, '/HELLO.TXT;1', joliet_path='/Hello World.txt')
iso.add_directory('/SUB', joliet_path='/Sub Dir')
iso.add_fp(io.BytesIO(b'inner\\n'), 6, '/SUB/INNER.TXT;1', joliet_path='/Sub Dir/inner.txt')
iso.write(sys.argv[1])`, iso, String(level)])
    const d = run('isoinfo', ['-d', '-i', iso]).stdout
    t.match(d, new RegExp(`Joliet with UCS level ${level} found`), `isoinfo -d: level ${level}`)
    const image = await IsoImage.open(iso)
    t.equal(image.extensions.joliet?.level, level, `level ${level} detected`)
    t.same(image.namespaces, ['joliet', 'iso9660'], `level ${level}: Joliet is the default namespace without Rock Ridge`)
    const list: string[] = []
    for await (const { path: p } of image.walk('/', 'joliet')) list.push(p.slice(1))
    t.same(list.sort(), isoinfoNames(iso, '-J'), `level ${level}: Joliet names as isoinfo -J -l`)
    t.equal((await image.readFile('/Sub Dir/inner.txt', 'joliet')).toString(), 'inner\n', `level ${level}: reads through Joliet`)
    t.same(image.warnings, [], `level ${level}: no warnings`)
    await image.close()
  }
})

t.test('an image opened by file descriptor reads, and its descriptor stays the caller\'s', async t => {
  const src = path.join(dir, 'fd-src')
  writeTree(src, { 'hello.txt': 'hello\n', sub: { 'x.bin': Buffer.alloc(100000, 3) } })
  const iso = xorrisoMkisofs(path.join(dir, 'fd.iso'), ['-R', '-J'], src)
  const fd = fs.openSync(iso, 'r')
  t.teardown(() => { try { fs.closeSync(fd) } catch {} })
  const image = await IsoImage.open(fd)
  t.equal(image.path, undefined, 'no path')
  t.equal((await image.readFile('/hello.txt')).toString(), 'hello\n', 'a file reads')
  t.same(await image.readFile('/sub/x.bin'), Buffer.alloc(100000, 3), 'a larger file reads')
  t.same(image.namespaces, ['rockridge', 'joliet', 'iso9660'])
  await image.close()
  t.doesNotThrow(() => fs.fstatSync(fd), 'close() leaves the caller\'s descriptor open')
  const again = await IsoImage.open(fd)
  t.equal((await again.readFile('/hello.txt')).toString(), 'hello\n', 'and it can be opened again')
  await again.close()
  await t.rejects(again.commit(), { code: 'UNSUPPORTED' }, 'commit needs a path')
})

t.test('El Torito ID strings, selection criteria and extension entries (xorriso -eltorito-id/-selcrit)', async t => {
  const src = path.join(dir, 'eltorito-src')
  writeTree(src, { 'a.bin': Buffer.alloc(2048, 0xa1), 'b.bin': Buffer.alloc(4096, 0xb2) })
  const criteria = '01' + Array.from({ length: 19 }, (_, i) => (i + 2).toString(16).padStart(2, '0')).join('')
  const iso = xorrisoMkisofs(path.join(dir, 'eltorito.iso'), ['-R', '-b', 'a.bin', '-no-emul-boot', '-c', 'boot.cat',
    '-eltorito-alt-boot', '-eltorito-id', 'SectionId', '-b', 'b.bin', '-no-emul-boot', '-eltorito-selcrit', criteria], src)
  const bytes = fs.readFileSync(iso)
  const catalog = bytes.readUInt32LE(17 * SECTOR + 71) * SECTOR
  // The catalog as the bytes have it (El Torito 2.3, 2.4): section header at 64, its entry at 96.
  t.equal(bytes[catalog + 64], 0x91, 'xorriso wrote one final section header')
  t.equal(bytes.toString('latin1', catalog + 68, catalog + 77), 'SectionId', 'with the ID string')
  t.equal(bytes.subarray(catalog + 96 + 12, catalog + 96 + 32).toString('hex'), criteria, 'and the selection criteria')
  const image = await IsoImage.open(iso)
  const section = image.elTorito?.catalog.sections[0]
  t.equal(section?.idString.toString('latin1').replace(/\0+$/, ''), 'SectionId', 'section ID string')
  t.equal(section?.entries[0].selectionCriteriaType, 1, 'selection criteria type')
  t.equal(section?.entries[0].selectionCriteria.toString('hex'), criteria.slice(2), 'selection criteria bytes')
  t.same(image.elTorito?.images.map(i => [i.loadLba, i.sectorCount]), xorrisoBootReport(iso).images.map(i => [i.lba, i.sectors]), 'entries as xorriso reports them')
  await image.close()

  // No tool at hand writes extension entries (2.5): add one after the section entry, with its flag.
  const extended = Buffer.from(bytes)
  extended[catalog + 96 + 1] |= 0x20
  extended[catalog + 128] = 0x44
  extended[catalog + 129] = 0
  extended.write('vendor-unique-extension-bytes!', catalog + 130, 'latin1')
  const file = path.join(dir, 'eltorito-ext.iso')
  fs.writeFileSync(file, extended)
  const opened = await IsoImage.open(file)
  t.teardown(() => opened.close())
  const entry = opened.elTorito?.catalog.sections[0].entries[0]
  t.same(entry?.extensions.map(e => e.toString('latin1')), ['vendor-unique-extension-bytes!'], 'the extension entry\'s 30 bytes')
  t.equal(entry?.media, 0, 'the "extension follows" bit is not part of the media type')
  t.same(opened.warnings, [])
  t.same(xorrisoBootReport(file).images.length, 2, 'xorriso still reads both entries')
  // Written by the library, the entry keeps its criteria and its extension.
  const copy = path.join(dir, 'eltorito-copy.iso')
  await opened.write(copy)
  const copied = fs.readFileSync(copy)
  const copyCatalog = copied.readUInt32LE(17 * SECTOR + 71) * SECTOR
  t.equal(copied.subarray(copyCatalog + 96 + 12, copyCatalog + 96 + 32).toString('hex'), criteria, 'the copy keeps the selection criteria')
  t.equal(copied[copyCatalog + 96 + 1] & 0x20, 0x20, 'and says an extension follows')
  t.equal(copied.toString('latin1', copyCatalog + 130, copyCatalog + 160), 'vendor-unique-extension-bytes!', 'and has it')
  t.equal(xorrisoBootReport(copy).images.length, 2, 'xorriso reads the copy\'s two entries')
})
