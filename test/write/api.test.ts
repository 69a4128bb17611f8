import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { IsoImage } from '../../src'
import { extractWithXorriso, isoinfoNames, isovfyErrors, pycdlibListing, xorrisoListing } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { sha256, snapshot } from '../helpers/tree'
import { expectInvalid } from '../helpers/expect'

/*
 * Images made through the library API (pycdlib's guide, feature by feature), checked by readers nobody
 * here wrote: isoinfo -d for the volume identity, xorriso's listing for Rock Ridge attributes, isoinfo and
 * pycdlib for each namespace's names, isovfy for structure.
 */

const dir = scratch(t, 'api')

/** isoinfo -l of the plain tree: ECMA-119 file flags (9.1.6) per path. */
function isoFlags (iso: string): Record<string, number> {
  const flags: Record<string, number> = {}
  let current = ''
  for (const line of run('isoinfo', ['-l', '-i', iso]).stdout.split('\n')) {
    const header = /^Directory listing of (.*)$/.exec(line)
    if (header !== null) current = header[1]
    const m = /\[\s*\d+\s+([0-9a-f]{2})\]\s\s(.*?)\s*$/.exec(line)
    if (m !== null && m[2] !== '.' && m[2] !== '..') flags[path.posix.join(current, m[2])] = parseInt(m[1], 16)
  }
  return flags
}

t.test('volume identity at every interchange level, as isoinfo -d reads it', async t => {
  for (const level of [1, 2, 3, 4] as const) {
    const image = IsoImage.create({
      interchangeLevel: level,
      volume: {
        volumeId: `LEVEL_${level}`, systemId: 'LINUX', publisherId: 'THE PUBLISHER', preparerId: 'THE PREPARER',
        applicationId: 'ISOMOUNT TESTS', volumeSetId: 'THE SET', copyrightFileId: 'COPYING.TXT',
        abstractFileId: 'ABSTRACT.TXT', bibliographicFileId: 'BIBLIO.TXT', volumeSetSize: 1, volumeSequenceNumber: 1
      }
    })
    await image.addFile('/COPYING.TXT;1', Buffer.from('copyright\n'), { namespace: 'iso9660' })
    const iso = path.join(dir, `level${level}.iso`)
    await image.write(iso)
    const info = run('isoinfo', ['-d', '-i', iso]).stdout
    for (const [label, value] of [
      ['Volume id', `LEVEL_${level}`], ['System id', 'LINUX'], ['Publisher id', 'THE PUBLISHER'], ['Data preparer id', 'THE PREPARER'],
      ['Application id', 'ISOMOUNT TESTS'], ['Volume set id', 'THE SET'], ['Copyright File id', 'COPYING.TXT'],
      ['Abstract File id', 'ABSTRACT.TXT'], ['Bibliographic File id', 'BIBLIO.TXT']
    ]) t.match(info, new RegExp(`${label}: ${value}\\s*\\n`), `level ${level}: ${label}`)
    t.match(isovfyErrors(iso), /No errors found/, `level ${level}: isovfy finds no error`)
    // Level 4 is ISO 9660:1999: an enhanced volume descriptor (version 2) follows the primary.
    const descriptor = Buffer.alloc(7)
    const fd = fs.openSync(iso, 'r')
    fs.readSync(fd, descriptor, 0, 7, 17 * 2048)
    fs.closeSync(fd)
    t.equal(descriptor[0] === 2 && descriptor[6] === 2, level === 4, `level ${level}: an enhanced descriptor exactly at level 4`)
  }
})

t.test('entries of every kind, their attributes and their names in each namespace', async t => {
  const hostFile = path.join(dir, 'host.bin')
  fs.writeFileSync(hostFile, Buffer.alloc(5000, 0x68))
  const image = IsoImage.create({ interchangeLevel: 3, rockRidge: '1.12', joliet: 3, volume: { volumeId: 'ENTRIES' } })
  const when = Date.UTC(2020, 0, 2, 3, 4, 5)
  await image.addDirectory('/dir', { mode: 0o750, uid: 12, gid: 34, mtimeMs: when })
  await image.addFile('/dir/from-buffer.txt', Buffer.from('from a buffer\n'), { mode: 0o640, uid: 1000, gid: 100, mtimeMs: when })
  await image.addFile('/dir/from-host.bin', hostFile, { mtimeMs: when })
  await image.addFile('/dir/from-stream.txt', { stream: Readable.from([Buffer.from('from '), Buffer.from('a stream\n')]), size: 14 }, { mtimeMs: when })
  await image.addSymlink('/dir/link', 'from-buffer.txt', { mtimeMs: when })
  await image.addSpecial('/null', 'char-device', { rdev: (1 << 8) | 3, mtimeMs: when })
  await image.addSpecial('/sda', 'block-device', { rdev: 8 << 8, mtimeMs: when })
  await image.addSpecial('/fifo', 'fifo', { mtimeMs: when })
  await image.link('/dir/from-buffer.txt', '/hard-link.txt')
  await image.addFile('/joliet-only.txt', Buffer.from('joliet only\n'), { iso: false, namespace: 'joliet' })
  await image.addFile('/not-in-joliet.txt', Buffer.from('not in joliet\n'), { mtimeMs: when })
  await image.remove('/not-in-joliet.txt', { namespace: 'joliet', only: true })
  await image.addFile('/hidden.txt', Buffer.from('hidden\n'), { hidden: true, mtimeMs: when })
  await image.addFile('/renamed-from.txt', Buffer.from('moved\n'), { mtimeMs: when })
  await image.rename('/renamed-from.txt', '/dir/renamed-to.txt')
  await image.addFile('/removed.txt', Buffer.from('gone\n'))
  await image.remove('/removed.txt')
  await image.addDirectory('/empty-removed')
  await image.remove('/empty-removed')
  await image.setAttributes('/dir/from-host.bin', { mode: 0o600, uid: 7, gid: 8 })
  const iso = path.join(dir, 'entries.iso')
  await image.write(iso)

  // isovfy counts every record with a flag other than "directory" as a problem, the hidden bit included
  // (it does so for genisoimage -hidden too): that line is the only one it may print.
  const verdict = isovfyErrors(iso).split('\n').filter(l => /^\s*\d+:/.test(l))
  t.equal(verdict.length, 1, 'isovfy notes one record')
  t.match(verdict[0], /Flags=\(1\)/, 'the hidden one')
  t.same(xorrisoListing(iso), {
    '/': 'drwxr-xr-x 0:0 0 ' + xorrisoListing(iso)['/'].split(' ').slice(3).join(' '),
    '/dir': 'drwxr-x--- 12:34 0 Jan 2 2020',
    '/dir/from-buffer.txt': '-rw-r----- 1000:100 14 Jan 2 2020',
    '/dir/from-host.bin': '-rw------- 7:8 5000 Jan 2 2020',
    '/dir/from-stream.txt': '-rw-r--r-- 0:0 14 Jan 2 2020',
    '/dir/link': 'lrwxrwxrwx 0:0 0 Jan 2 2020 -> from-buffer.txt',
    '/dir/renamed-to.txt': '-rw-r--r-- 0:0 6 Jan 2 2020',
    '/fifo': 'prw-r--r-- 0:0 0 Jan 2 2020',
    '/hard-link.txt': '-rw-r----- 1000:100 14 Jan 2 2020',
    '/hidden.txt': '-rw-r--r-- 0:0 7 Jan 2 2020',
    '/not-in-joliet.txt': '-rw-r--r-- 0:0 14 Jan 2 2020',
    '/null': 'crw-r--r-- 0:0 1,3 Jan 2 2020',
    '/sda': 'brw-r--r-- 0:0 8,0 Jan 2 2020'
  }, 'xorriso lists every Rock Ridge entry with its type, mode, owner, size or device, date and target')
  const extracted = snapshot(extractWithXorriso(iso, path.join(dir, 'entries-x')), { skip: /^(null|sda|fifo)$/ })
  t.equal(extracted['dir/from-host.bin'].sha256, sha256(fs.readFileSync(hostFile)), 'the host file\'s content')
  t.equal(fs.readFileSync(path.join(dir, 'entries-x/dir/from-stream.txt'), 'utf8'), 'from a stream\n', 'the stream\'s content')

  t.same(isoinfoNames(iso, '-J'), [
    'dir', 'dir/from-buffer.txt', 'dir/from-host.bin', 'dir/from-stream.txt', 'dir/link', 'dir/renamed-to.txt',
    'fifo', 'hard-link.txt', 'hidden.txt', 'joliet-only.txt', 'null', 'sda'
  ], 'Joliet: everything but the entry removed from it, plus the Joliet-only file')
  t.same(isoinfoNames(iso, ''), [
    'DIR', 'DIR/FROM_BUFFER.TXT', 'DIR/FROM_HOST.BIN', 'DIR/FROM_STREAM.TXT', 'DIR/LINK', 'DIR/RENAMED_TO.TXT',
    'FIFO', 'HARD_LINK.TXT', 'HIDDEN.TXT', 'NOT_IN_JOLIET.TXT', 'NULL', 'SDA'
  ].sort(), 'ISO9660: generated level-3 names (upper case, - to _), no Joliet-only file')
  t.equal(isoFlags(iso)['/HIDDEN.TXT;1'] & 1, 1, 'the hidden file has the existence bit (ECMA-119 9.1.6)')
  t.equal(isoFlags(iso)['/SDA;1'] & 1, 0, 'other files do not')
  const joliet = pycdlibListing(iso, 'joliet')
  t.equal(joliet['joliet-only.txt']?.sha256, sha256(Buffer.from('joliet only\n')), 'pycdlib reads the Joliet-only file')
  t.equal(joliet['dir/from-buffer.txt']?.sha256, joliet['hard-link.txt']?.sha256, 'hard links share their data in Joliet')
})

t.test('modifying a file in place and remastering an opened genisoimage image keeps the rest', async t => {
  const src = path.join(dir, 'remaster-src')
  writeTree(src, { 'keep.txt': 'kept\n', sub: { 'change.bin': Buffer.alloc(10_000, 1), 'drop.txt': 'dropped\n' }, link: { symlink: 'keep.txt' } })
  const original = genisoimage(path.join(dir, 'remaster-in.iso'), ['-R', '-J', '-V', 'REMASTER'], src)
  const image = await IsoImage.open(original)
  const data = image.editableData(await image.lookup('/sub/change.bin'))
  await data.write(Buffer.from('PATCH'), 0, 5, 4096)
  await image.remove('/sub/drop.txt')
  await image.addFile('/sub/new.txt', Buffer.from('new\n'))
  const out = path.join(dir, 'remaster-out.iso')
  await image.write(out)
  await image.close()
  const expected = Buffer.alloc(10_000, 1)
  expected.write('PATCH', 4096)
  const tree = snapshot(extractWithXorriso(out, path.join(dir, 'remaster-x')))
  t.same(tree, {
    'keep.txt': { type: 'file', size: 5, sha256: sha256(Buffer.from('kept\n')) },
    link: { type: 'symlink', target: 'keep.txt' },
    sub: { type: 'dir' },
    'sub/change.bin': { type: 'file', size: 10_000, sha256: sha256(expected) },
    'sub/new.txt': { type: 'file', size: 4, sha256: sha256(Buffer.from('new\n')) }
  }, 'xorriso extracts the edited tree')
  t.match(run('isoinfo', ['-d', '-i', out]).stdout, /Volume id: REMASTER/, 'the volume id survives')
  t.same(isoinfoNames(out, '-J'), ['keep.txt', 'link', 'sub', 'sub/change.bin', 'sub/new.txt'], 'the Joliet tree follows the edits')
  t.match(isovfyErrors(out), /No errors found/, 'isovfy finds no error')
})

t.test('the same input and SOURCE_DATE_EPOCH give the same bytes', async t => {
  const src = path.join(dir, 'repro-src')
  writeTree(src, { 'a.txt': 'a\n', b: { 'c.txt': 'c\n' } })
  const isotool = path.join(__dirname, '../../../bin/isotool')
  const make = (name: string, epoch: string): string => {
    const out = path.join(dir, name)
    run(process.execPath, [isotool, 'mkisofs', '-R', '-J', '-o', out, src], { env: { ...process.env, SOURCE_DATE_EPOCH: epoch } })
    return sha256(fs.readFileSync(out))
  }
  const first = make('repro1.iso', '1600000000')
  // Reading the sources moves their atime; times after the epoch are clamped to it, so it does not matter.
  const a = path.join(src, 'a.txt')
  fs.utimesSync(a, new Date(Date.now() + 5000), fs.statSync(a).mtime)
  t.equal(make('repro2.iso', '1600000000'), first, 'byte-identical, though a source\'s atime moved')
  t.not(make('repro3.iso', '1700000000'), first, 'another epoch, other dates')
})

t.test('bad input is an InvalidInputError naming the rule', async t => {
  const level1 = IsoImage.create({ interchangeLevel: 1 })
  await expectInvalid(t, async () => await level1.addFile('/LONGERTHAN8.TXT;1', Buffer.from('x'), { namespace: 'iso9660' }), 'BAD_NAME', /level 1 allows 8 characters/, 'a 9-character level-1 name')
  await expectInvalid(t, async () => await level1.addFile('/lower.txt;1', Buffer.from('x'), { namespace: 'iso9660' }), 'BAD_NAME', /d-characters/, 'lower case at level 1')
  await expectInvalid(t, async () => await level1.addFile('/NO/SUCH/DIR.TXT;1', Buffer.from('x'), { namespace: 'iso9660' }), 'NOT_FOUND', /NO/, 'a missing parent')
  await expectInvalid(t, async () => await level1.addFile('/../ESCAPE.TXT;1', Buffer.from('x'), { namespace: 'iso9660' }), 'BAD_PATH', /\.\./, 'a path leaving the tree')
  await level1.addFile('/TWICE.TXT;1', Buffer.from('x'), { namespace: 'iso9660' })
  await expectInvalid(t, async () => await level1.addFile('/TWICE.TXT;1', Buffer.from('y'), { namespace: 'iso9660' }), 'EXISTS', /TWICE/, 'a name taken')
  await expectInvalid(t, async () => await level1.addSymlink('/LINK', 'x'), 'UNSUPPORTED', /Rock Ridge/, 'a symlink without Rock Ridge')
  const huge = { stream: Readable.from([]), size: 4 * 2 ** 30 }
  await expectInvalid(t, async () => await level1.addFile('/HUGE.BIN;1', huge, { namespace: 'iso9660' }), 'TOO_LARGE', /level 3/, 'a 4 GiB file below level 3')
  const rr = IsoImage.create({ rockRidge: true, joliet: true })
  await expectInvalid(t, async () => await rr.addFile(`/${'n'.repeat(256)}`, Buffer.from('x')), 'NAME_TOO_LONG', /255/, 'a 256-byte Rock Ridge name')
  await expectInvalid(t, async () => await rr.addFile(`/${'j'.repeat(65)}`, Buffer.from('x'), { namespace: 'joliet' }), 'NAME_TOO_LONG', /64/, 'a 65-character Joliet name')
  await expectInvalid(t, async () => await rr.addFile('/a:b', Buffer.from('x'), { namespace: 'joliet' }), 'BAD_NAME', /Joliet forbids/, 'a colon in a Joliet name')
  await expectInvalid(t, async () => await rr.remove('/missing'), 'NOT_FOUND', /missing/, 'removing what is not there')
  await rr.addDirectory('/full')
  await rr.addFile('/full/x', Buffer.from('x'))
  await expectInvalid(t, async () => await rr.remove('/full'), 'NOT_EMPTY', /full|empty/, 'removing a directory that is not empty')
})
