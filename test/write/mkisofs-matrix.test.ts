import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { extractWith7z, extractWithBsdtar, extractWithXorriso, isoinfoNames, isovfyErrors, pycdlibListing, withFuseiso } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree, type TreeSpec } from '../helpers/tools'
import { contentOnly, snapshot, type TreeEntry } from '../helpers/tree'

/*
 * `isotool mkisofs` over genisoimage's option matrix. Every image must satisfy readers nobody here wrote:
 * isovfy finds no error; isoinfo lists, per namespace, the very names genisoimage writes for the same
 * tree and flags; xorriso, bsdtar, 7z and pycdlib extract (or list) exactly the source tree, Rock Ridge
 * modes, times and symlinks included where the flags ask for Rock Ridge.
 */

const dir = scratch(t, 'mkisofs-matrix')
const src = path.join(dir, 'src')
const when = new Date('2021-03-04T05:06:07Z')
let deep: TreeSpec = { 'bottom.txt': 'the bottom of a tree ten levels deep\n' }
for (let i = 10; i >= 1; i--) deep = { [`level${i}`]: deep }

const tree: TreeSpec = {
  'readme.txt': { file: 'hello\n', mode: 0o644, mtime: when },
  'empty.dat': '',
  'sector.bin': Buffer.alloc(2048, 0x5a),
  'sector-plus-one.bin': Buffer.alloc(2049, 0xa5),
  'script.sh': { file: '#!/bin/sh\necho hi\n', mode: 0o755, mtime: when },
  'private.key': { file: 'secret', mode: 0o600 },
  'Mixed Case Name With Spaces.txt': 'spaces',
  'ünïcödé-名前.txt': 'utf-8 name',
  ['a-rather-long-file-name-that-needs-rock-ridge-or-joliet-long-to-survive'.repeat(2) + '.txt']: 'long name',
  'many.dots.in.this.name.tar.gz': 'dots',
  'big.bin': Buffer.alloc(300_000, 7),
  docs: {
    'a.txt': 'a', 'b.txt': 'b',
    nested: { 'c.txt': 'c', 'relative-link': { symlink: '../a.txt' } }
  },
  links: {
    absolute: { symlink: '/etc/hostname' },
    dangling: { symlink: 'nowhere/at/all' },
    dir: { symlink: '../docs' }
  },
  crowd: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`member-${String(i).padStart(3, '0')}.txt`, `member ${i}\n`])),
  deep,
  hard: { 'one.txt': 'linked data\n', 'two.txt': { hardlink: 'hard/one.txt' } },
  pipe: { fifo: true }
}
writeTree(src, tree)

/** What a Rock Ridge reader must see; `rational` is what -r makes of modes. */
function expectedRockRidge (options: { rational: boolean }): Record<string, TreeEntry> {
  const entries = snapshot(src, { modes: true, mtimes: true })
  if (!options.rational) return entries
  for (const entry of Object.values(entries)) {
    if (entry.mode === undefined) continue
    // genisoimage -r: everything readable, nothing writable, executable bits spread to all.
    entry.mode = (entry.mode & 0o111) !== 0 || entry.type === 'dir' ? 0o555 : 0o444
  }
  return entries
}

const EMPTY = createHash('sha256').digest('hex')

/**
 * Names and contents as a reader without Rock Ridge sees them: symlinks and fifos are empty files there
 * (genisoimage records them so in Joliet and plain ISO9660, and so do we).
 */
function withoutRockRidge (entries: Record<string, TreeEntry>): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {}
  for (const [p, e] of Object.entries(contentOnly(entries))) {
    out[p] = e.type === 'file' || e.type === 'dir' ? e : { type: 'file', size: 0, sha256: EMPTY, target: undefined }
  }
  return out
}

function isotool (...args: string[]): string {
  return run(process.execPath, [path.join(__dirname, '../../../bin/isotool'), ...args]).stderr
}

interface Case {
  flags: string[]
  rockRidge?: 'plain' | 'rational'
  joliet?: boolean
}

const cases: Case[] = [
  { flags: ['-R', '-J'], rockRidge: 'plain', joliet: true },
  { flags: ['-r', '-J', '-joliet-long'], rockRidge: 'rational', joliet: true },
  { flags: ['-R', '-iso-level', '2'], rockRidge: 'plain' },
  { flags: ['-R', '-J', '-iso-level', '3', '-rrip110'], rockRidge: 'plain', joliet: true },
  { flags: ['-R', '-iso-level', '4', '-rrip112'], rockRidge: 'plain' },
  { flags: ['-J', '-iso-level', '3'], joliet: true },
  { flags: [] }
]

for (const c of cases) {
  t.test(`isotool mkisofs ${c.flags.join(' ') || '(no flags)'}`, async t => {
    const work = scratch(t, 'case')
    const iso = path.join(work, 'ours.iso')
    // Without Rock Ridge a tree deeper than 8 levels cannot be recorded below level 4: genisoimage drops
    // it with a warning, we refuse (tested below); and genisoimage records a fifo as an empty file, which
    // we do not (we leave it out, as symlinks). Those stay out of these images.
    const sourceFlags = c.rockRidge === undefined ? ['-x', path.join(src, 'deep'), '-x', path.join(src, 'pipe')] : []
    isotool('mkisofs', '-quiet', '-V', 'MATRIX', ...c.flags, ...sourceFlags, '-o', iso, src)

    const info = run('isoinfo', ['-d', '-i', iso]).stdout
    t.match(info, /Volume id: MATRIX/, 'isoinfo -d reads the volume id')
    t.equal(/Rock Ridge signatures version \d+ found/.test(info), c.rockRidge !== undefined, 'isoinfo sees Rock Ridge exactly when asked')
    t.equal(/Joliet with UCS level \d+ found/.test(info), c.joliet === true, 'isoinfo sees Joliet exactly when asked')

    // genisoimage has no -rrip110/-rrip112 (xorriso's flags); the version changes no name or content.
    const theirs = genisoimage(path.join(work, 'genisoimage.iso'), [...c.flags.filter(f => !f.startsWith('-rrip')), ...sourceFlags], src)
    // isovfy knows no level 4: for long names there it prints notes, not "No errors found", for genisoimage's
    // image as for ours; what matters is that it finds nothing it calls wrong.
    const verdict = isovfyErrors(iso)
    t.equal(/No errors found/.test(verdict), /No errors found/.test(isovfyErrors(theirs)), 'isovfy judges our image as genisoimage\'s')
    t.notMatch(verdict.replace(/No errors found/g, ''), /error|bad|invalid|mismatch|wrong/i, 'isovfy reports no error')
    {
      // Where 8.3 names collide genisoimage numbers them MEMBE000, MEMBE001, ... and replaces each byte of a
      // non-ASCII character; we number per base (MEMBER00) and replace each character: the same count of
      // names, all distinct.
      const differs = (p: string): boolean => p.startsWith('CROWD/') || /^_/.test(p)
      const ours = isoinfoNames(iso, '')
      const reference = isoinfoNames(theirs, '')
      t.same(ours.filter(p => !differs(p)), reference.filter(p => !differs(p)), 'ISO9660 names as genisoimage writes them')
      t.equal(new Set(ours).size, reference.length, 'as many distinct ISO9660 names as genisoimage writes')
      if (c.rockRidge !== undefined) t.same(isoinfoNames(iso, '-R'), isoinfoNames(theirs, '-R'), 'Rock Ridge names as genisoimage writes them')
      if (c.joliet === true) t.same(isoinfoNames(iso, '-J'), isoinfoNames(theirs, '-J'), 'Joliet names as genisoimage writes them')
    }

    if (c.rockRidge !== undefined) {
      const expected = expectedRockRidge({ rational: c.rockRidge === 'rational' })
      const skipFifo = { skip: /^pipe$/ }
      const byXorriso = snapshot(extractWithXorriso(iso, path.join(work, 'xorriso')), { modes: true, mtimes: true })
      // Below level 4 the tree ten levels deep is relocated (RRIP 4.1.5) into rr_moved, which genisoimage
      // leaves visible: xorriso shows it, empty, for both images.
      const relocated = !c.flags.includes('4')
      t.equal('rr_moved' in byXorriso, relocated, 'rr_moved exactly when the tree needed relocating')
      const reference = snapshot(extractWithXorriso(theirs, path.join(work, 'xorriso-theirs')), { modes: true, mtimes: true })
      t.same(byXorriso.rr_moved, reference.rr_moved, 'rr_moved as genisoimage leaves it')
      delete byXorriso.rr_moved
      t.same(byXorriso, expected, 'xorriso extracts the tree: names, contents, modes, times, symlinks, fifo')
      const byBsdtar = snapshot(extractWithBsdtar(iso, path.join(work, 'bsdtar')), { ...skipFifo, mtimes: true })
      t.same(byBsdtar, snapshot(src, { ...skipFifo, mtimes: true }), 'bsdtar extracts the tree with times and symlinks')
      // pycdlib does not follow CL links: it lists relocated directories under rr_moved, as it does for
      // genisoimage's image of the same tree.
      t.same(pycdlibListing(iso, 'rr'), pycdlibListing(theirs, 'rr'), 'pycdlib lists every Rock Ridge path and content as for genisoimage\'s image')
    }
    if (c.joliet === true) {
      // Joliet has no symlinks or fifos; 7z reads the Joliet tree.
      const by7z = withoutRockRidge(snapshot(extractWith7z(iso, path.join(work, '7z'))))
      // Without Rock Ridge, symlinks and the fifo are left out altogether (genisoimage too).
      const expected = withoutRockRidge(snapshot(src, { skip: c.rockRidge === undefined ? /^pipe$|^deep$|^links\/|relative-link$/ : undefined }))
      // Joliet stops at 64 characters (103 in the long form): the long name is cut there, as genisoimage cuts it.
      const max = c.flags.includes('-joliet-long') ? 103 : 64
      for (const [p, e] of Object.entries(expected)) {
        const cut = p.split('/').map(part => part.slice(0, max)).join('/')
        if (cut === p) continue
        delete expected[p]
        expected[cut] = e
      }
      t.same(by7z, expected, '7z extracts every file of the Joliet tree')
    }
  })
}

t.test('a fuseiso mount reads what isotool mkisofs wrote as it reads genisoimage\'s image', async t => {
  const work = scratch(t, 'fuseiso')
  const iso = path.join(work, 'ours.iso')
  isotool('mkisofs', '-quiet', '-R', '-J', '-o', iso, src)
  const theirs = genisoimage(path.join(work, 'theirs.iso'), ['-R', '-J'], src)
  // fuseiso reads Rock Ridge names but not CL links or fifos: it sees rr_moved and no pipe, for both.
  let reference: Record<string, TreeEntry> = {}
  await withFuseiso(t, theirs, path.join(work, 'mnt-theirs'), mnt => { reference = contentOnly(snapshot(mnt)) })
  t.ok(Object.keys(reference).length > 150, 'fuseiso shows genisoimage\'s tree')
  await withFuseiso(t, iso, path.join(work, 'mnt'), mnt => {
    t.same(contentOnly(snapshot(mnt)), reference, 'fuseiso shows every file and directory with the same content')
  })
})

t.test('a tree too deep for ISO9660 without Rock Ridge is refused, naming the remedy', async t => {
  const work = scratch(t, 'deep')
  const out = path.join(work, 'deep.iso')
  const r = run(process.execPath, [path.join(__dirname, '../../../bin/isotool'), 'mkisofs', '-J', '-o', out, src], { allowFailure: true })
  t.equal(r.status, 1, 'exit status 1')
  t.match(r.stderr, /deeper than the 8 levels.*Rock Ridge/, 'the message says why and what to use')
  t.notOk(fs.existsSync(out), 'no image is left behind')
})

t.test('bad invocations of isotool mkisofs', async t => {
  const work = scratch(t, 'bad')
  const out = path.join(work, 'x.iso')
  const fail = (args: string[]): { status: number, stderr: string } => {
    const r = run(process.execPath, [path.join(__dirname, '../../../bin/isotool'), 'mkisofs', ...args], { allowFailure: true })
    return { status: r.status, stderr: r.stderr }
  }
  let r = fail(['-R', '-no-such-flag', '-o', out, src])
  t.equal(r.status, 2, 'an unknown flag exits 2')
  t.match(r.stderr, /-no-such-flag/, 'and is named')
  r = fail(['-R', '-o', out, path.join(work, 'missing')])
  t.not(r.status, 0, 'a missing source fails')
  t.match(r.stderr, /missing/, 'naming the path')
  r = fail(['-iso-level', '9', '-o', out, src])
  t.equal(r.status, 2, 'an impossible level exits 2')
  r = fail(['-R', '-b', 'no/such/boot.bin', '-o', out, src])
  t.not(r.status, 0, 'a boot file outside the tree fails')
  t.notOk(fs.existsSync(out), 'and no half-written image is left behind')
})
