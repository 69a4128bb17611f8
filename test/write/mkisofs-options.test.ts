import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { mkisofs } from '../../src/cli/mkisofs'
import { knownOptions, parseMkisofsArgs } from '../../src/cli/mkisofs-args'
import { SplitWriter } from '../../src/cli/split-output'
import { isoinfoNames, isovfyErrors } from '../helpers/readers'
import { PYTHON, run, scratch, writeTree } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'
import { ISOLINUX } from '../helpers/boot'

/*
 * `isotool mkisofs` as a drop-in for genisoimage: every option genisoimage documents (its man page and
 * its -help) either works as genisoimage's does, checked here against genisoimage's image for the same
 * tree and flags as isoinfo, xorriso and pycdlib read both, or is accepted with a note saying why it is
 * ignored, or is refused saying why.
 */

const dir = scratch(t, 'mkisofs-options')
const isotool = path.join(__dirname, '../../../bin/isotool')

function ours (args: string[], options: { allowFailure?: boolean } = {}): { status: number, stdout: string, stderr: string } {
  return run(process.execPath, [isotool, 'mkisofs', ...args], { cwd: dir, allowFailure: options.allowFailure ?? false })
}

/** `isotool mkisofs ARGS` run by its function here, from the scratch directory as the command runs. */
async function inProcess (args: string[]): Promise<void> {
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    await mkisofs(args)
  } finally {
    process.chdir(cwd)
  }
}

function theirs (args: string[]): void {
  run('genisoimage', ['-quiet', ...args], { cwd: dir })
}

/**
 * isoinfo -l for one tree: mode, links, owner, size, flags and name of every record, dates and extents
 * left out (and link counts, where `links` is false). Not the root's "..", whose link count genisoimage
 * takes from the host directory.
 */
function listing (iso: string, ns: '' | '-R' | '-J', links = true): string[] {
  const out: string[] = []
  let current = ''
  for (const l of run('isoinfo', [...(ns === '' ? [] : [ns]), '-l', '-i', iso], { encoding: 'latin1' }).stdout.split('\n')) {
    if (l.trim() === '') continue
    const header = /^Directory listing of (.*)$/.exec(l)
    if (header !== null) current = header[1]
    if (current === '/' && /\]\s+\.\.\s*$/.test(l)) continue
    let line = l.replace(/\s+[A-Z][a-z]{2}\s+\d+\s+\d{4}\s+\[\s*\d+\s+([0-9a-f]{2})\]/, ' [$1]').replace(/\s+$/, '')
    if (!links) line = line.replace(/^(\S+)\s+\d+/, '$1')
    out.push(line)
  }
  return out
}

const src = path.join(dir, 'src')
writeTree(src, {
  'readme.txt': 'readme\n',
  Makefile: 'all:\n',
  '.hidden': 'dot\n',
  '.bashrc.bak': 'backup\n',
  'archive.tar.gz': 'tgz\n',
  'a#b~c.txt': 'dos\n',
  'a-b+c=d!e.txt': 'punctuation\n',
  'very-long-file-name-exceeding-31-characters-total.txt': 'long\n',
  'MixedCase.TXT': 'mixed\n',
  'semi;colon.txt': 'semicolon\n',
  'name with spaces.txt': 'spaces\n',
  'name.longextension': 'extension\n',
  'file~': 'tilde backup\n',
  'editor#1#': 'emacs\n',
  x: 'x\n',
  'sub.dir': { 'inner.file.txt': 'inner\n', 'notes.bak': 'old\n' },
  lowerdir: { 'deeper name.txt': 'deeper\n' },
  link: { symlink: 'readme.txt' },
  hard: { 'one.txt': 'linked\n', 'two.txt': { hardlink: 'hard/one.txt' } },
  exec: { file: '#!/bin/sh\n', mode: 0o750 }
})
let deep: Record<string, unknown> = { 'bottom.txt': 'bottom\n' }
for (let i = 10; i >= 1; i--) deep = { [`level${i}`]: deep }
writeTree(path.join(dir, 'deep'), deep as Parameters<typeof writeTree>[1])
fs.writeFileSync(path.join(dir, 'hide.list'), '*.txt\nMakefile\n')
fs.writeFileSync(path.join(dir, 'hidden.list'), 'readme.txt\n')
fs.writeFileSync(path.join(dir, 'sort.list'), 'src/readme.txt 10\n')

interface Row {
  flags: string[]
  /** The trees to compare (isoinfo -l, -R -l, -J -l). */
  trees: Array<'' | '-R' | '-J'>
  sources?: string[]
  /** Compare link counts too (genisoimage records the host's st_nlink where we count names). */
  links?: boolean
  /** Compare the names only, sorted (genisoimage sorts some multi-dot names differently). */
  namesOnly?: boolean
}

const rows: Row[] = [
  { flags: ['-d'], trees: [''] },
  { flags: ['-omit-period', '-iso-level', '3'], trees: [''] },
  { flags: ['-l'], trees: [''] },
  { flags: ['-full-iso9660-filenames', '-allow-lowercase'], trees: [''] },
  { flags: ['-N'], trees: [''] },
  { flags: ['-omit-version-number', '-d', '-l'], trees: [''] },
  { flags: ['-allow-lowercase'], trees: [''] },
  { flags: ['-relaxed-filenames'], trees: [''] },
  { flags: ['-relaxed-filenames', '-allow-lowercase', '-iso-level', '2'], trees: [''] },
  { flags: ['-allow-leading-dots'], trees: [''] },
  { flags: ['-ldots', '-l'], trees: [''] },
  { flags: ['-L'], trees: [''] },
  { flags: ['-allow-multidot'], trees: [''] },
  { flags: ['-no-iso-translate'], trees: [''] },
  { flags: ['-max-iso9660-filenames'], trees: [''] },
  { flags: ['-U'], trees: [''], namesOnly: true },
  { flags: ['-untranslated-filenames', '-R'], trees: ['', '-R'], namesOnly: true },
  { flags: ['-R', '-J', '-no-bak'], trees: ['', '-R', '-J'] },
  { flags: ['-nobak'], trees: [''] },
  { flags: ['-R', '-uid', '1234', '-gid', '99'], trees: ['-R'] },
  { flags: ['-uid', '7'], trees: ['-R'] },
  { flags: ['-R', '-file-mode', '0640', '-dir-mode', '0750'], trees: ['-R'] },
  { flags: ['-file-mode', '0600'], trees: ['-R'] },
  { flags: ['-r', '-new-dir-mode', '0700', '-graft-points'], sources: ['made/up/=src/lowerdir', 'src/readme.txt'], trees: ['', '-R'] },
  { flags: ['-R', '-J', '-root', 'some/where'], trees: ['', '-R', '-J'] },
  { flags: ['-R', '-J', '-hide-list', 'hide.list', '-hidden-list', 'hidden.list'], trees: ['', '-R', '-J'] },
  { flags: ['-R', '-J', '-hide-joliet-list', 'hide.list'], trees: ['', '-R', '-J'] },
  { flags: ['-R', '-T'], trees: ['', '-R'] },
  { flags: ['-R', '-J', '-T', '-hide-joliet-trans-tbl'], trees: ['', '-R', '-J'] },
  { flags: ['-J', '-translation-table', '-table-name', 'TABLE.TXT'], trees: ['', '-J'] },
  { flags: ['-R', '-f'], trees: ['', '-R'], links: false },
  { flags: ['-R', '-no-cache-inodes'], trees: ['', '-R'], links: false },
  { flags: ['-rJ'], trees: ['', '-R', '-J'] },
  { flags: ['-RJl'], trees: ['', '-R', '-J'] },
  { flags: ['-D'], sources: ['deep'], trees: [''] },
  { flags: ['-D', '-l', '-J'], sources: ['deep'], trees: ['', '-J'] },
  { flags: ['-R', '-D'], sources: ['deep'], trees: ['', '-R'] },
  { flags: ['-R', '-hide-rr-moved'], sources: ['deep'], trees: [''] },
  { flags: ['-R', '-XA'], trees: ['', '-R'] },
  { flags: ['-R', '-xa'], trees: ['', '-R'] },
  { flags: ['-R', '-J', '-cache-inodes', '-use-fileversion', '-gui', '-sort', 'sort.list', '-no-split-symlink-components', '-no-split-symlink-fields'], trees: ['', '-R', '-J'] }
]

t.test('options against genisoimage: isoinfo reads the same records in every tree', async t => {
  for (const [i, row] of rows.entries()) {
    const sources = row.sources ?? ['src']
    const mine = path.join(dir, `row-${i}.iso`)
    const reference = path.join(dir, `row-${i}-g.iso`)
    // In this process (the command's own function, without a Node start per row): 40 rows stay quick.
    await inProcess(['-quiet', ...row.flags, '-o', mine, ...sources])
    theirs([...row.flags, '-o', reference, ...sources])
    for (const ns of row.trees) {
      const what = `${row.flags.join(' ')}: isoinfo ${ns === '' ? '(ISO9660)' : ns}`
      if (row.namesOnly === true) t.same(isoinfoNames(mine, ns).sort(), isoinfoNames(reference, ns).sort(), `${what}: the names genisoimage writes`)
      else t.same(listing(mine, ns, row.links ?? true), listing(reference, ns, row.links ?? true), `${what} -l as for genisoimage's image`)
    }
  }
})

t.test('what the options mean, beyond the listings', async t => {
  const at = (i: number): string => path.join(dir, `row-${i}.iso`)
  const find = (flags: string): number => rows.findIndex(r => r.flags.join(' ') === flags)
  t.ok(isoinfoNames(at(find('-N')), '').length > 0 && !run('isoinfo', ['-l', '-i', at(find('-N'))]).stdout.includes(';1'), '-N: no version anywhere')
  t.match(run('isoinfo', ['-l', '-i', at(find('-l'))]).stdout, /VERY_LONG_FILE_NAME_EXCEEDI\.TXT;1/, '-l: 31 characters')
  // -T: the table's bytes, as genisoimage writes them (ISO9660 names padded to column 208, a tab, the host name).
  for (const flags of ['-R -T', '-J -translation-table -table-name TABLE.TXT']) {
    const name = flags.includes('TABLE.TXT') ? 'TABLE.TXT;1' : 'TRANS.TBL;1'
    for (const table of [`/${name}`, `/SUB.DIR/${name}`]) {
      const mine = run('isoinfo', ['-x', table, '-i', at(find(flags))], { encoding: 'latin1' }).stdout
      const reference = run('isoinfo', ['-x', table, '-i', path.join(dir, `row-${find(flags)}-g.iso`)], { encoding: 'latin1' }).stdout
      t.ok(mine.length > 0, `${flags}: ${table} is there`)
      t.equal(mine, reference, `${flags}: ${table} holds what genisoimage's holds`)
    }
  }
  const table = run('isoinfo', ['-x', '/TRANS.TBL;1', '-i', at(find('-R -T'))]).stdout
  t.match(table, /^L LINK\.;1 {201}\tlink\treadme\.txt$/m, 'a symlink line: L, the ISO9660 name, the name, the target')
  t.notMatch(table, /TRANS/, 'the table does not list itself')
  t.notOk(isoinfoNames(at(find('-R -J -T -hide-joliet-trans-tbl')), '-J').some(n => n.endsWith('TRANS.TBL')), '-hide-joliet-trans-tbl: no table in the Joliet tree')
  t.ok(isoinfoNames(at(find('-R -T')), '-R').includes('lowerdir/TRANS.TBL'), 'a table in every directory with entries')
  const deepIso = at(find('-D'))
  t.ok(isoinfoNames(deepIso, '').includes('LEVEL1/LEVEL2/LEVEL3/LEVEL4/LEVEL5/LEVEL6/LEVEL7/LEVEL8/LEVEL9/LEVEL10/BOTTOM.TXT'), '-D: the deep tree in place, without Rock Ridge')
  const verdict = (iso: string): boolean => /No errors found/.test(isovfyErrors(iso))
  t.equal(verdict(at(find('-R -D'))), verdict(path.join(dir, `row-${find('-R -D')}-g.iso`)), '-R -D: isovfy judges it as genisoimage\'s image')
  t.ok(isoinfoNames(at(find('-R -hide-rr-moved')), '-R').some(n => n.startsWith('.rr_moved')), '-hide-rr-moved: .rr_moved in Rock Ridge')
  t.ok(isoinfoNames(at(find('-R -hide-rr-moved')), '').some(n => n.startsWith('_RR_MOVE')), 'and _RR_MOVE in ISO9660, as genisoimage names it')
  // XA records: group, user, attributes as pycdlib reads them, for ours and genisoimage's.
  const xa = (iso: string): string => run(PYTHON, ['-c', `
import pycdlib, sys
i = pycdlib.PyCdlib(); i.open(sys.argv[1])
for p in ['/README.TXT;1', '/SUB.DIR', '/EXEC.;1', '/LOWERDIR/DEEPER_N.TXT;1']:
    x = i.get_record(iso_path=p).xa_record
    print(p, x._group_id, x._user_id, hex(x._attributes), x._filenum)
print(i.pvd.application_use[141:149])
`, iso]).stdout
  for (const flags of ['-R -XA', '-R -xa']) {
    const mine = xa(at(find(flags)))
    t.match(mine, /CD-XA001/, `${flags}: the XA signature`)
    t.equal(mine, xa(path.join(dir, `row-${find(flags)}-g.iso`)), `${flags}: every XA record as genisoimage writes it (pycdlib)`)
  }
  const hard = (iso: string): string[] => run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n').filter(l => / (one|two)\.txt\s*$/.test(l)).map(l => /\[\s*(\d+)/.exec(l)?.[1] ?? '')
  const separate = hard(at(find('-R -no-cache-inodes')))
  t.not(separate[0], separate[1], '-no-cache-inodes: each name of a hard link has its own copy')
  const shared = hard(at(find('-R -f')))
  t.equal(shared[0], shared[1], 'without it they share one')
  t.match(listing(at(find('-R -f')), '-R').join('\n'), /^-\S+ +\d+ +0 +0 +7 \[00\]  link$/m, '-f: the symlink is a file with its target\'s content')
  const grouped = listing(at(find('-rJ')), '-R').join('\n')
  t.match(grouped, /^-r--r--r-- /m, '-rJ is -r -J')
})

t.test('the classic remaster command line works, as genisoimage makes the image', async t => {
  const boot = path.join(dir, 'remaster')
  writeTree(boot, { isolinux: { 'isolinux.bin': fs.readFileSync(ISOLINUX.bin), 'isolinux.cfg': 'DEFAULT linux\n' }, 'Readme.txt': 'read me\n' })
  // From distribution wikis; -boot-info-table before -b, as some of them order it.
  const flags = ['-D', '-r', '-V', 'REMASTER', '-cache-inodes', '-J', '-l', '-boot-info-table', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat',
    '-no-emul-boot', '-boot-load-size', '4']
  const mine = path.join(dir, 'remaster.iso')
  const reference = path.join(dir, 'remaster-g.iso')
  const r = ours([...flags, '-o', mine, 'remaster'])
  theirs([...flags, '-o', reference, 'remaster'])
  t.equal(r.status, 0, 'exit 0')
  t.equal(r.stderr, 'isotool: -cache-inodes ignored: hard links are always found (genisoimage\'s default on Linux too)\n', 'one note, for -cache-inodes')
  for (const ns of ['', '-R', '-J'] as const) t.same(listing(mine, ns), listing(reference, ns), `isoinfo ${ns || '(ISO9660)'} -l as for genisoimage's image`)
  const report = (iso: string): unknown => xorrisoBootReport(iso).images.map(({ lba, ...rest }) => rest)
  t.same(report(mine), report(reference), 'xorriso: the El Torito entry genisoimage writes')
  const info = (iso: string): string => run('isoinfo', ['-d', '-i', iso]).stdout.split('\n').filter(l => /Eltorito|Bootoff|Nsect|Volume id|Joliet|Rock Ridge/i.test(l)).map(l => l.replace(/Bootoff \S+ \d+/, 'Bootoff')).join('\n')
  t.equal(info(mine), info(reference), 'isoinfo -d: volume id, extensions, El Torito as for genisoimage\'s image')
  t.match(isovfyErrors(mine), /No errors found/, 'isovfy finds no error')
})

/** Option names genisoimage documents: in its man page's OPTIONS sections, and in its -help. */
function documentedOptions (): string[] {
  const names = new Set<string>()
  const help = run('genisoimage', ['-help'], { allowFailure: true })
  for (const line of (help.stdout + help.stderr).split('\n')) {
    if (!/^ {2}-/.test(line)) continue
    for (const part of line.trim().split(/\s{2,}/)[0].split(', ')) names.add(part.split(' ')[0])
  }
  const man = run('sh', ['-c', 'MANWIDTH=200 man genisoimage | col -b']).stdout.split('\n')
  let inOptions = false
  for (const line of man) {
    if (/^[A-Z][A-Z ]+$/.test(line)) inOptions = line === 'OPTIONS' || line === 'HFS OPTIONS'
    const m = /^ {7}(-{1,2}[A-Za-z][\w-]*)(\s|$)/.exec(line)
    if (inOptions && m !== null) names.add(m[1])
  }
  return [...names].sort()
}

t.test('every option genisoimage documents works, is ignored with a note, or is refused saying why', async t => {
  const known = new Map(knownOptions().map(o => [o.name, o]))
  const documented = documentedOptions()
  t.ok(documented.length > 150, `genisoimage documents ${documented.length} options (man page and -help)`)
  t.same(documented.filter(name => !known.has(name)), [], 'none is unknown to isotool mkisofs')
  const value = (o: { takesValue: boolean }): string[] => o.takesValue ? ['x'] : []
  for (const name of documented) {
    const o = known.get(name)
    if (o === undefined) continue
    if (o.kind === 'ignored') {
      const parsed = parseMkisofsArgs([name, ...value(o), 'src'])
      t.match(parsed.notes, [new RegExp(`^${name} ignored: .{10,}`)], `${name}: ignored, with a note saying why`)
    } else if (o.kind === 'refused') {
      t.throws(() => parseMkisofsArgs([name, ...value(o), 'src']), { code: 'BAD_ARGUMENT', message: new RegExp(`^${name}: .{10,}`) }, `${name}: refused, saying why`)
    }
  }
  // Notes reach stderr, one line each, and the image is made.
  const iso = path.join(dir, 'noted.iso')
  const r = ours(['-R', '-cache-inodes', '-gui', '-checksum_algorithm_iso', 'md5', '-hide-hfs', 'x', '-probe', '-o', iso, 'src'])
  t.same(r.stderr.split('\n').filter(l => l !== '').map(l => l.replace(/ ignored: .*/, '')), ['isotool: -cache-inodes', 'isotool: -gui', 'isotool: -checksum_algorithm_iso', 'isotool: -hide-hfs', 'isotool: -probe'], 'one note per ignored option, in order')
  t.ok(fs.existsSync(iso), 'and the image is written')
})

t.test('-dvd-video is refused; -allow-limited-size is noted (-udf itself: test/write/udf-write.test.ts)', async t => {
  const iso = path.join(dir, 'dvd.iso')
  const r = ours(['-R', '-udf', '-dvd-video', '-o', iso, 'src'], { allowFailure: true })
  t.equal(r.status, 2, 'exit 2')
  t.match(r.stderr, /^isotool: -dvd-video: DVD-Video ordering/, 'says why')
  t.notOk(fs.existsSync(iso), 'no image is written')
  t.match(parseMkisofsArgs(['-allow-limited-size', 'src']).notes, [/^-allow-limited-size ignored: files of 4 GiB and more are written whole/])
  t.throws(() => parseMkisofsArgs(['-udf-rev', '1.01', 'src']), { message: '-udf-rev: UDF revision 1.01 is not written (1.02, 1.50, 2.00, 2.01, 2.50, 2.60)' })
  t.equal(parseMkisofsArgs(['-udf-rev', '2.60', 'src']).udf, '2.60', '2.60 is (pycdlib\'s shape: test/write/udf-write.test.ts)')
})

t.test('--modification-date, -ucs-level, -jcharset, -s, -version, -log-file', async t => {
  const mine = path.join(dir, 'dated.iso')
  const reference = path.join(dir, 'dated-x.iso')
  await inProcess(['-quiet', '--modification-date=2020010203040506', '-o', mine, 'src'])
  run('xorriso', ['-as', 'mkisofs', '-quiet', '--modification-date=2020010203040506', '-o', reference, 'src'], { cwd: dir })
  const dates = (iso: string): string => run('xorriso', ['-indev', iso, '-pvd_info']).stdout.split('\n').filter(l => /Time/.test(l)).join('\n')
  t.match(dates(mine), /Creation Time: 2020010203040506\nModif\. Time {2}: 2020010203040506/, '--modification-date: both dates (xorriso -pvd_info)')
  t.equal(dates(mine), dates(reference), 'as xorriso -as mkisofs records them')
  for (const level of ['1', '2', '3']) {
    const iso = path.join(dir, `ucs-${level}.iso`)
    await inProcess(['-quiet', '-J', '-ucs-level', level, '-o', iso, 'src'])
    theirs(['-J', '-ucs-level', level, '-o', path.join(dir, `ucs-${level}-g.iso`), 'src'])
    const ucs = (i: string): string => /Joliet with UCS level \d found/.exec(run('isoinfo', ['-d', '-i', i]).stdout)?.[0] ?? 'none'
    t.equal(ucs(iso), `Joliet with UCS level ${level} found`, `-ucs-level ${level}`)
    t.equal(ucs(iso), ucs(path.join(dir, `ucs-${level}-g.iso`)), '(as genisoimage)')
  }
  const jcharset = path.join(dir, 'jcharset.iso')
  await inProcess(['-quiet', '-jcharset', 'utf-8', '-o', jcharset, 'src'])
  t.match(run('isoinfo', ['-d', '-i', jcharset]).stdout, /Joliet with UCS level 3 found/, '-jcharset utf-8 is -J -input-charset utf-8')
  t.same(parseMkisofsArgs(['-s', 'data', 'src']).paths, ['src'], '-s data: the default, accepted')
  t.match(ours(['-s', 'xa1', '-o', 'x.iso', 'src'], { allowFailure: true }).stderr, /-s xa1: only "data" sectors/, '-s xa1 refused')
  t.match(ours(['-version']).stdout, /^isotool mkisofs \d+\.\d+\.\d+ /, '-version')
  const log = path.join(dir, 'messages.log')
  const logged = ours(['-cache-inodes', '-log-file', log, '-o', path.join(dir, 'logged.iso'), 'src'])
  t.equal(logged.stderr, '', '-log-file: nothing on stderr')
  t.match(fs.readFileSync(log, 'utf8'), /^isotool: -cache-inodes ignored: /, 'the note is in the log file')
})

t.test('-split-output: pieces that put together are the image', async t => {
  const whole = path.join(dir, 'whole.iso')
  const split = path.join(dir, 'split.iso')
  // Written at one SOURCE_DATE_EPOCH, the two runs make the same bytes.
  process.env.SOURCE_DATE_EPOCH = '1700000000'
  t.teardown(() => { delete process.env.SOURCE_DATE_EPOCH })
  ours(['-quiet', '-R', '-o', whole, 'src'])
  ours(['-quiet', '-R', '-split-output', '-o', split, 'src'])
  t.notOk(fs.existsSync(split), 'no file under the plain name')
  t.same(fs.readFileSync(`${split}_00`), fs.readFileSync(whole), 'an image under 1 GiB is one piece, OUTPUT_00 (genisoimage\'s name)')
  t.notOk(fs.existsSync(`${split}_01`), 'and only one')
  t.equal(ours(['-split-output', 'src'], { allowFailure: true }).status, 2, '-split-output without -o is a usage error')
  // The piece boundary, with small pieces: every piece full but the last, in order.
  const image = fs.readFileSync(whole)
  const writer = new SplitWriter(path.join(dir, 'pieces.iso'), 100_000)
  await new Promise<void>((resolve, reject) => {
    writer.on('error', reject)
    writer.write(image.subarray(0, 150_001))
    writer.end(image.subarray(150_001), () => resolve())
  })
  const pieces = fs.readdirSync(dir).filter(n => n.startsWith('pieces.iso_')).sort()
  t.same(pieces, Array.from({ length: Math.ceil(image.length / 100_000) }, (_, i) => `pieces.iso_${String(i).padStart(2, '0')}`), 'OUTPUT_00, OUTPUT_01, …')
  t.ok(pieces.slice(0, -1).every(p => fs.statSync(path.join(dir, p)).size === 100_000), 'each full but the last')
  t.same(Buffer.concat(pieces.map(p => fs.readFileSync(path.join(dir, p)))), image, 'put together, the image')
})

t.test('xorriso\'s --efi-boot: an EFI entry of its own, as xorriso -as mkisofs writes it', async t => {
  const efi = path.join(dir, 'efi-src')
  writeTree(efi, { isolinux: { 'isolinux.bin': fs.readFileSync(ISOLINUX.bin) }, 'efi.img': Buffer.alloc(1440 * 1024, 0xef) })
  const entries = (iso: string): unknown => xorrisoBootReport(iso).images.map(({ lba, ...rest }) => rest)
  for (const flags of [
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '--efi-boot', 'efi.img'],
    ['--efi-boot', 'efi.img', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4']
  ]) {
    const mine = path.join(dir, 'efi.iso')
    const reference = path.join(dir, 'efi-x.iso')
    await inProcess(['-quiet', '-R', ...flags, '-o', mine, 'efi-src'])
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', ...flags, '-o', reference, 'efi-src'], { cwd: dir })
    t.same(entries(mine), entries(reference), `${flags.join(' ')}: the entries xorriso -as mkisofs writes`)
  }
})
