import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { isoinfoNames, isovfyErrors } from '../helpers/readers'
import { PYTHON, run, scratch, writeTree } from '../helpers/tools'

/*
 * `isotool mkisofs` flags one by one, each image set against genisoimage's for the same tree and flags
 * (as isoinfo reads both), or where genisoimage has no such flag against xorriso or pycdlib-genisoimage,
 * and read by pycdlib and isovfy.
 */

const dir = scratch(t, 'mkisofs-flags')
const isotool = path.join(__dirname, '../../../bin/isotool')

function ours (out: string, args: string[], ...sources: string[]): { stdout: string, stderr: string } {
  const r = run(process.execPath, [isotool, 'mkisofs', ...args, '-o', out, ...sources], { cwd: dir })
  return { stdout: r.stdout, stderr: r.stderr }
}

function oursStatus (args: string[]): { status: number, stderr: string, stdout: string } {
  const r = run(process.execPath, [isotool, 'mkisofs', ...args], { allowFailure: true, cwd: dir })
  return { status: r.status, stderr: r.stderr, stdout: r.stdout }
}

/** genisoimage run from the scratch directory, so relative source paths are spelled the same for both. */
function theirs (out: string, args: string[], ...sources: string[]): string {
  run('genisoimage', ['-quiet', ...args, '-o', out, ...sources], { cwd: dir })
  return out
}

/**
 * isoinfo -l per namespace: every record's permissions, links, owner, size, flags and name (dates and
 * extents left out). Not the root's "..": genisoimage gives it the link count of the host directory,
 * whatever was left out of it ("." has the count of what is in the image), and we give both the latter.
 */
function listing (iso: string, ns: '' | '-R' | '-J'): string[] {
  const args = ['-l', '-i', iso]
  if (ns !== '') args.unshift(ns)
  let dir = ''
  const lines: string[] = []
  for (const l of run('isoinfo', args).stdout.split('\n')) {
    if (l.trim() === '') continue
    const header = /^Directory listing of (.*)$/.exec(l)
    if (header !== null) dir = header[1]
    if (dir === '/' && /\]\s+\.\.\s*$/.test(l)) continue
    lines.push(l.replace(/\s+[A-Z][a-z]{2}\s+\d+\s+\d{4}\s+\[\s*\d+\s+([0-9a-f]{2})\]/, ' [$1]').replace(/\s+$/, ''))
  }
  return lines
}

const src = path.join(dir, 'src')
writeTree(src, {
  'readme.txt': 'readme\n',
  'notes.md': 'notes\n',
  'keep.c': 'int main;\n',
  'skip.o': 'object\n',
  build: { 'out.o': 'object\n', 'log.txt': 'log\n' },
  docs: { 'guide.txt': 'guide\n', private: { 'secret.txt': 'secret\n' } }
})

t.test('-hide, -hide-joliet, -hidden, -m, -x, -exclude-list: what genisoimage leaves out, and where', async t => {
  fs.writeFileSync(path.join(dir, 'exclude.list'), 'skip.o\nsrc/docs/private\n')
  const cases: string[][] = [
    ['-hide', '*.o'],
    ['-hide', 'build'],
    ['-hide', 'src/docs/guide.txt'],
    // genisoimage matches the host path as the argument spells it, not the path in the image.
    ['-hide', '/docs/guide.txt'],
    ['-hide-joliet', 'docs/private'],
    ['-hide-joliet', 'src/docs/private'],
    ['-hide', 'readme.txt', '-hide-joliet', 'notes.md'],
    ['-hidden', '*.md'],
    ['-hidden', 'docs'],
    ['-m', '*.o'],
    ['-m', 'build'],
    ['-m', 'src/docs/private'],
    ['-x', 'src/build'],
    ['-exclude-list', 'exclude.list']
  ]
  for (const [i, flags] of cases.entries()) {
    const iso = path.join(dir, `select-${i}.iso`)
    ours(iso, ['-quiet', '-R', '-J', ...flags], 'src')
    const reference = theirs(path.join(dir, `select-${i}-g.iso`), ['-R', '-J', ...flags], 'src')
    for (const ns of ['', '-R', '-J'] as const) {
      // Listings with the ECMA-119 flags byte: -hidden sets the existence bit (9.1.6, bit 0).
      t.same(listing(iso, ns), listing(reference, ns), `${flags.join(' ')}: isoinfo ${ns || '(ISO9660)'} -l as for genisoimage's image`)
    }
  }
  const hidden = listing(path.join(dir, 'select-7.iso'), '').find(l => /NOTES\.MD/.test(l))
  t.match(hidden, /\[01\]/, '-hidden sets the existence bit')
  const joliet = isoinfoNames(path.join(dir, 'select-5.iso'), '-J')
  t.notOk(joliet.some(n => n.startsWith('docs/private')), '-hide-joliet src/docs/private: not in Joliet')
  t.ok(isoinfoNames(path.join(dir, 'select-5.iso'), '-R').includes('docs/private/secret.txt'), 'but in Rock Ridge')
  t.ok(isoinfoNames(path.join(dir, 'select-4.iso'), '-J').includes('docs/private/secret.txt'), '-hide-joliet docs/private matches neither name nor host path: still in Joliet, as in genisoimage\'s image')
})

t.test('-graft-points and -path-list place sources as genisoimage places them', async t => {
  fs.writeFileSync(path.join(dir, 'paths.list'), 'manual/=src/docs\nsrc/keep.c\ntop/renamed.txt=src/readme.txt\n')
  const cases: Array<{ flags: string[], sources: string[] }> = [
    { flags: ['-graft-points'], sources: ['manual/=src/docs', 'a/b/c/log.txt=src/build/log.txt', 'src/notes.md'] },
    { flags: ['-graft-points', '-path-list', 'paths.list'], sources: [] },
    { flags: ['-graft-points'], sources: ['with\\=equals.txt=src/readme.txt'] }
  ]
  for (const [i, c] of cases.entries()) {
    const iso = path.join(dir, `graft-${i}.iso`)
    ours(iso, ['-quiet', '-R', '-J', ...c.flags], ...c.sources)
    const reference = theirs(path.join(dir, `graft-${i}-g.iso`), ['-R', '-J', ...c.flags], ...c.sources)
    for (const ns of ['', '-R', '-J'] as const) {
      t.same(isoinfoNames(iso, ns), isoinfoNames(reference, ns), `${[...c.flags, ...c.sources].join(' ')}: isoinfo ${ns || '(ISO9660)'} names as genisoimage's`)
    }
    t.match(isovfyErrors(iso), /No errors found/, 'isovfy finds no error')
  }
})

t.test('the root and graft directories take the attributes genisoimage gives them', { skip: process.getuid?.() !== 0 ? 'needs root to chown the source directories' : false }, async t => {
  const s1 = path.join(dir, 'root-s1')
  const s2 = path.join(dir, 'root-s2')
  writeTree(s1, { 'a.txt': 'a\n' })
  writeTree(s2, { 'b.txt': 'b\n' })
  fs.writeFileSync(path.join(dir, 'root-file.txt'), 'f\n')
  fs.chmodSync(s1, 0o750)
  fs.chownSync(s1, 1234, 567)
  fs.utimesSync(s1, new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z'))
  fs.chmodSync(s2, 0o700)
  fs.chownSync(s2, 42, 43)
  fs.utimesSync(s2, new Date('2012-02-02T00:00:00Z'), new Date('2012-02-02T00:00:00Z'))
  /** isoinfo -R's line for "." of the root: mode, links, uid, gid (octal, as isoinfo prints them), date. */
  const rootLine = (iso: string): string => {
    const line = run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n').find(l => /\]\s+\.\s*$/.test(l)) ?? ''
    return line.replace(/\s+\[.*$/, '').replace(/\s+/g, ' ')
  }
  for (const [i, [flag, ...sources]] of [
    ['-R', 'root-s1'],
    ['-r', 'root-s1'],
    ['-R', 'root-s1', 'root-s2'],
    ['-R', 'root-s2', 'root-s1'],
    ['-R', 'root-file.txt', 'root-s1']
  ].entries()) {
    const iso = path.join(dir, `root-${i}.iso`)
    ours(iso, ['-quiet', flag], ...sources)
    t.equal(rootLine(iso), rootLine(theirs(path.join(dir, `root-${i}-g.iso`), [flag], ...sources)), `${flag} ${sources.join(' ')}: the root's mode, owner and date as genisoimage records them`)
  }
  t.match(rootLine(path.join(dir, 'root-0.iso')), /^drwxr-x--- \d+ 2322 1067 \d+ Jan 1 2010$/, 'the source directory\'s 0750, 1234:567, 2010 (isoinfo prints ids in octal)')
  t.match(rootLine(path.join(dir, 'root-1.iso')), /^dr-xr-xr-x \d+ 0 0 \d+ Jan 1 2010$/, '-r: 0555 and 0:0')

  // A graft point's target takes its source's mode and owner; directories only the graft names get
  // genisoimage's 0555 and the caller's ids. (genisoimage dates the target now, xorriso as the source:
  // we date it as xorriso does.)
  const iso = path.join(dir, 'graft-attrs.iso')
  ours(iso, ['-quiet', '-R', '-graft-points'], 'x/y=root-s1')
  const reference = theirs(path.join(dir, 'graft-attrs-g.iso'), ['-R', '-graft-points'], 'x/y=root-s1')
  t.same(listing(iso, '-R'), listing(reference, '-R'),
    'isoinfo -R -l: every directory\'s mode and owner as genisoimage records them')
  const xorriso = run('xorriso', ['-indev', iso, '-find', '/x/y', '-maxdepth', '0', '-exec', 'lsdl']).stdout
  t.match(xorriso, /^drwxr-x---\s+\d+\s+1234\s+567\s+\d+\s+Jan\s+1\s+2010\s+'\/x\/y'/m, 'xorriso: /x/y is 0750 1234:567 of 2010, the source directory')
})

t.test('hard links given as separate arguments share one file, as genisoimage makes them', async t => {
  const a = path.join(dir, 'link-a.txt')
  fs.writeFileSync(a, 'shared data\n')
  fs.linkSync(a, path.join(dir, 'link-b.txt'))
  const iso = path.join(dir, 'links.iso')
  ours(iso, ['-quiet', '-R'], 'link-a.txt', 'link-b.txt')
  const reference = theirs(path.join(dir, 'links-g.iso'), ['-R'], 'link-a.txt', 'link-b.txt')
  t.same(listing(iso, '-R'), listing(reference, '-R'), 'isoinfo -R -l: both with link count 2, as genisoimage writes them')
  const extents = run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n').filter(l => /link-[ab]\.txt/.test(l)).map(l => /\[\s*(\d+)/.exec(l)?.[1])
  t.equal(extents.length, 2, 'two records')
  t.equal(extents[0], extents[1], 'pointing at one extent')
})

t.test('volume identification flags as isoinfo -d reads them', async t => {
  const flags = ['-V', 'THE_VOLUME', '-sysid', 'THE_SYSTEM', '-A', 'THE APPLICATION', '-p', 'THE PREPARER', '-P', 'THE PUBLISHER',
    '-volset', 'THE SET', '-volset-size', '1', '-volset-seqno', '1', '-copyright', 'COPYING.TXT', '-abstract', 'ABSTRACT.TXT', '-biblio', 'BIBLIO.TXT']
  const iso = path.join(dir, 'ids.iso')
  ours(iso, ['-quiet', ...flags], 'src')
  const info = (image: string): string[] => run('isoinfo', ['-d', '-i', image]).stdout.split('\n').filter(l => !/^Volume size/.test(l))
  t.same(info(iso), info(theirs(path.join(dir, 'ids-g.iso'), flags, 'src')), 'every identifier isoinfo -d prints, as genisoimage records them')
  // genisoimage refuses a set of more than one volume ("not yet supported"); the fields hold it.
  ours(iso, ['-quiet', '-volset-size', '3', '-volset-seqno', '2'], 'src')
  const set = run('isoinfo', ['-d', '-i', iso]).stdout
  t.match(set, /Volume set size is: 3\nVolume set sequence number is: 2/, '-volset-size 3 -volset-seqno 2 are recorded')
  const pvd = run(PYTHON, ['-c', 'import pycdlib,sys\ni=pycdlib.PyCdlib();i.open(sys.argv[1]);print(i.pvd.set_size,i.pvd.seqnum)', iso]).stdout.trim()
  t.equal(pvd, '3 2', 'pycdlib reads them too')
  t.equal(oursStatus(['-volset-seqno', '0', '-o', 'x.iso', 'src']).status, 2, '-volset-seqno 0 exits 2')
})

t.test('-input-charset utf-8: non-ASCII identifiers written as genisoimage writes them, too long refused', async t => {
  const bytesAt = (iso: string, sector: number, offset: number, length: number): string => fs.readFileSync(iso).subarray(sector * 2048 + offset, sector * 2048 + offset + length).toString('hex')
  const flags = ['-input-charset', 'utf-8', '-J', '-V', '名前', '-A', 'Ünïcode app', '-p', 'préparer']
  const iso = path.join(dir, 'utf8.iso')
  ours(iso, ['-quiet', ...flags], 'src')
  const reference = theirs(path.join(dir, 'utf8-g.iso'), flags, 'src')
  t.equal(bytesAt(iso, 16, 40, 32), bytesAt(reference, 16, 40, 32), 'PVD volume id: the UTF-8 bytes genisoimage writes (e5908d e5898d, then spaces)')
  t.equal(bytesAt(iso, 16, 40, 6), Buffer.from('名前').toString('hex'), '(which are UTF-8)')
  t.equal(bytesAt(iso, 16, 574, 128), bytesAt(reference, 16, 574, 128), 'application id as genisoimage writes it')
  t.equal(bytesAt(iso, 16, 446, 128), bytesAt(reference, 16, 446, 128), 'preparer id as genisoimage writes it')
  t.equal(bytesAt(iso, 17, 40, 32), bytesAt(reference, 17, 40, 32), 'Joliet volume id: UCS-2, as genisoimage writes it')
  t.match(run('isoinfo', ['-d', '-i', iso]).stdout, /Volume id: 名前/, 'isoinfo -d prints the name')

  const tooLong = oursStatus(['-quiet', '-V', '名'.repeat(11), '-o', 'long.iso', 'src'])
  t.equal(tooLong.status, 2, 'a volume id of 33 UTF-8 bytes exits 2')
  t.match(tooLong.stderr, /33 bytes.*32/, 'saying how long it is and what fits')
  t.not(run('genisoimage', ['-quiet', '-V', '名'.repeat(11), '-o', path.join(dir, 'long-g.iso'), 'src'], { cwd: dir, allowFailure: true }).status, 0, '(genisoimage refuses it too)')
  t.notOk(fs.existsSync(path.join(dir, 'long.iso')), 'no image is left behind')
  const charset = oursStatus(['-quiet', '-input-charset', 'cp437', '-o', 'cp.iso', 'src'])
  t.equal(charset.status, 2, '-input-charset cp437 exits 2: file names are taken as UTF-8 only')
  t.match(charset.stderr, /-input-charset cp437/, 'naming the option')
})

t.test('-print-size, -v, -quiet', async t => {
  const sized = oursStatus(['-quiet', '-R', '-J', '-print-size', 'src'])
  t.equal(sized.status, 0, '-print-size exits 0')
  const iso = path.join(dir, 'sized.iso')
  const written = ours(iso, ['-quiet', '-R', '-J'], 'src')
  t.equal(Number(sized.stdout.trim()), fs.statSync(iso).size / 2048, '-print-size prints the sectors the image then has')
  t.equal(written.stderr, '', '-quiet: nothing on stderr')
  t.equal(written.stdout, '', 'and nothing on stdout')
  const verbose = ours(path.join(dir, 'verbose.iso'), ['-v', '-R', '-J'], 'src')
  t.match(verbose.stderr, new RegExp(`^${fs.statSync(iso).size / 2048} extents written`, 'm'), '-v: the extents written')
})

t.test('-rrip110 and -rrip112 write the Rock Ridge versions xorriso and pycdlib-genisoimage write', async t => {
  /** pycdlib's reading: the version it infers, the ER identifier, whether PX carries a serial number. */
  const rockRidge = (iso: string): string => run(PYTHON, ['-c', `
import pycdlib, sys
i = pycdlib.PyCdlib(); i.open(sys.argv[1])
dot = next(c for c in i.list_children(rr_path='/') if c.is_dot())
er = dot.rock_ridge.dr_entries.er_record or dot.rock_ridge.ce_entries.er_record
f = i.get_record(rr_path='/readme.txt')
print(f.rock_ridge.rr_version, er.ext_id.decode(), f.rock_ridge.dr_entries.rr_record is not None)
`, iso]).stdout.trim()
  const v110 = path.join(dir, 'rrip110.iso')
  ours(v110, ['-quiet', '-R', '-rrip110'], 'src')
  const v112 = path.join(dir, 'rrip112.iso')
  ours(v112, ['-quiet', '-R', '-rrip112'], 'src')
  const old = path.join(dir, 'old-rr-x.iso')
  run('xorriso', ['-compliance', 'old_rr', '-outdev', old, '-map', src, '/', '-commit'])
  const fresh = path.join(dir, 'new-rr-x.iso')
  run('xorriso', ['-compliance', 'new_rr', '-outdev', fresh, '-map', src, '/', '-commit'])
  const pycdlibGenisoimage = path.join(dir, 'rrip110-p.iso')
  run('pycdlib-genisoimage', ['-quiet', '-R', '-rrip110', '-o', pycdlibGenisoimage, src])
  t.equal(rockRidge(v110), rockRidge(old), '1.10: RRIP_1991A, a 36-byte PX, no RR entry, as xorriso -compliance old_rr')
  t.equal(rockRidge(v110), rockRidge(pycdlibGenisoimage), '(and as pycdlib-genisoimage -rrip110)')
  t.equal(rockRidge(v112), rockRidge(fresh), '1.12: IEEE_1282 and PX with the file serial number, as xorriso -compliance new_rr')
  t.equal(rockRidge(v112), '1.12 IEEE_1282 False', '(pycdlib: version 1.12)')
  const plain = path.join(dir, 'rrip109.iso')
  ours(plain, ['-quiet', '-R'], 'src')
  t.equal(rockRidge(plain), rockRidge(theirs(path.join(dir, 'rrip109-g.iso'), ['-R'], 'src')), 'no flag: 1.09 with RR entries, as genisoimage -R')
})

t.test('an option isotool does not know is refused by name; what it cannot write is refused saying why', async t => {
  const unknown = oursStatus(['-quiet', '-no-such-option', '-o', 'unsupported.iso', 'src'])
  t.equal(unknown.status, 2, 'an unknown option: exit 2')
  t.match(unknown.stderr, /unsupported option -no-such-option\b/, 'named in the message')
  for (const [flag, why] of [['-dvd-video', /DVD-Video ordering/], ['-hfs', /HFS/], ['-z', /zisofs/]] as const) {
    const r = oursStatus(['-quiet', flag, '-o', 'unsupported.iso', 'src'])
    t.equal(r.status, 2, `${flag}: exit 2`)
    t.match(r.stderr, new RegExp(`^isotool: ${flag}: `, 'm'), `${flag}: named in the message`)
    t.match(r.stderr, why, `${flag}: saying why`)
  }
  t.notOk(fs.existsSync(path.join(dir, 'unsupported.iso')), 'no image is written')
})
