import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { extractWithBsdtar } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { snapshot } from '../helpers/tree'
import { xorrisoBootReport } from '../helpers/xorriso-report'
import { recordOf, shrinkEntry, suspEntry } from '../read/patch'

/*
 * bin/isotool as a user runs it: output compared with isoinfo, xorriso and bsdtar on the same images;
 * exit statuses 0 (done), 1 (failed), 2 (usage), and 141 when the reader of its output goes away.
 */

const ISOTOOL = path.join(__dirname, '../../../bin/isotool')
const dir = scratch(t, 'isotool')

function isotool (args: string[], options: { allowFailure?: boolean } = {}): { stdout: string, stderr: string, status: number } {
  return run('node', [ISOTOOL, ...args], { allowFailure: options.allowFailure ?? true })
}

const MTIME = new Date('2020-02-29T12:00:00Z')
const src = path.join(dir, 'src')
writeTree(src, {
  'hello.txt': 'hello\n',
  'script.sh': { file: '#!/bin/sh\n', mode: 0o750, mtime: MTIME },
  'private.txt': { file: 'secret\n', mode: 0o600 },
  'big.bin': Buffer.alloc(3 * 1024 * 1024, 0x61),
  'original.txt': 'linked\n',
  'hard.txt': { hardlink: 'original.txt' },
  rel: { symlink: 'hello.txt' },
  chain: { symlink: 'sub/to-hello' },
  sub: { 'inner.txt': 'inner\n', 'to-hello': { symlink: '../hello.txt' }, 'to-root': { symlink: '/hello.txt' }, empty: {} },
  dangling: { symlink: 'nowhere/at/all' },
  outside: { symlink: '/etc/passwd' },
  loop: { symlink: 'loop' },
  fifo: { fifo: true },
  'boot.img': Buffer.alloc(2048, 0xb0)
})
const iso = genisoimage(path.join(dir, 'img.iso'), ['-R', '-J', '-V', 'CLI_TEST', '-b', 'boot.img', '-no-emul-boot', '-c', 'boot.cat'], src)

t.test('info: the volume as isoinfo -d describes it; --json says the same', async t => {
  const text = isotool(['info', iso], { allowFailure: false }).stdout
  const json = JSON.parse(isotool(['info', '--json', iso], { allowFailure: false }).stdout)
  const d = run('isoinfo', ['-d', '-i', iso]).stdout
  const field = (label: string): string => new RegExp(`^${label}: ?(.*)$`, 'm').exec(d)?.[1].trim() ?? '?'
  t.equal(json.volume.volumeId, field('Volume id'), 'volume id')
  t.equal(json.volume.systemId, field('System id'), 'system id')
  t.equal(json.volume.applicationId, field('Application id'), 'application id')
  t.equal(json.volume.volumeSpaceSize, Number(/Volume size is: (\d+)/.exec(d)?.[1]), 'volume size')
  t.equal(json.volume.logicalBlockSize, Number(/Logical block size is: (\d+)/.exec(d)?.[1]), 'block size')
  t.equal(json.extensions.joliet.level, Number(/Joliet with UCS level (\d) found/.exec(d)?.[1]), 'Joliet level')
  t.match(d, /Rock Ridge signatures version 1 found/)
  t.equal(json.extensions.rockRidge.version, '1.09', 'Rock Ridge 1.09 (RRIP_1991A), as genisoimage -R writes')
  t.equal(json.elTorito.catalogLba, Number(/boot catalog is in sector (\d+)/.exec(d)?.[1]), 'El Torito catalog')
  t.equal(json.elTorito.images[0].sectorCount, Number(/Nsect (\d+)/.exec(d)?.[1]), 'boot entry sector count')
  t.equal(json.elTorito.images[0].loadLba, Number(/Bootoff ([0-9a-f]+)/.exec(d)?.[1] !== undefined ? parseInt(/Bootoff ([0-9a-f]+)/.exec(d)?.[1] ?? '', 16) : NaN), 'boot entry LBA')
  t.equal(json.elTorito.images[0].path, '/boot.img', 'the boot file is named')
  t.same(json.pathTables.map((r: { tree: string, consistent: boolean }) => [r.tree, r.consistent]), [['primary', true], ['Joliet', true]], 'path tables checked')
  t.same(json.warnings, [])
  for (const line of [`Volume id:      ${field('Volume id')}`, `Volume size:    ${json.volume.volumeSpaceSize} blocks of 2048 bytes`,
    'Rock Ridge:     1.09 RRIP_1991A', 'Joliet:         level 3, volume id CLI_TEST', `El Torito:      catalog at LBA ${json.elTorito.catalogLba} (/boot.cat)`,
    /Path tables:    primary: L at LBA \d+, M at LBA \d+; 3 directories, consistent with the directory records/]) {
    t.match(text, typeof line === 'string' ? new RegExp(`^${line.replace(/[()/.]/g, '\\$&')}$`, 'm') : line, `text: ${String(line)}`)
  }
})

t.test('info: MBR partitions numbered by slot, as xorriso -report_system_area numbers them', async t => {
  const hsrc = path.join(dir, 'hybrid-src')
  writeTree(hsrc, { 'isolinux.bin': fs.readFileSync('/usr/lib/ISOLINUX/isolinux.bin'), 'efi.img': Buffer.alloc(1440 * 1024, 0xef) })
  const hybrid = xorrisoMkisofs(path.join(dir, 'hybrid.iso'), ['-R', '-b', 'isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-isohybrid-mbr', '/usr/lib/ISOLINUX/isohdpfx.bin', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'], hsrc)
  // Slot 1 emptied: the EFI partition is still slot 2, as fdisk and xorriso say (was shown as 1).
  const bytes = fs.readFileSync(hybrid)
  bytes.fill(0, 446, 462)
  const file = path.join(dir, 'hybrid-slot2.iso')
  fs.writeFileSync(file, bytes)
  for (const image of [hybrid, file]) {
    const report = xorrisoBootReport(image)
    const json = JSON.parse(isotool(['info', '--json', image], { allowFailure: false }).stdout)
    t.same(json.systemArea.mbr.map((p: { index: number, type: number, start: number, sectors: number }) => ({ index: p.index, type: p.type, start: p.start, blocks: p.sectors })),
      report.mbr.map(p => ({ index: p.index, type: p.type, start: p.start, blocks: p.blocks })), `${path.basename(image)}: MBR slots as xorriso reports them`)
    t.same(json.systemArea.gpt.map((p: { index: number, firstLba: number, lastLba: number }) => ({ index: p.index, start: p.firstLba, size: p.lastLba - p.firstLba + 1 })),
      report.gpt, `${path.basename(image)}: GPT entries as xorriso reports them`)
    const text = isotool(['info', image], { allowFailure: false }).stdout
    for (const p of report.mbr) t.match(text, new RegExp(`^  MBR ${p.index}: .*type 0x${p.type.toString(16).padStart(2, '0')}, start ${p.start}, ${p.blocks} sectors(  \\[.*\\])?$`, 'm'), `${path.basename(image)}: text shows slot ${p.index}`)
  }
  t.equal(xorrisoBootReport(file).mbr[0].index, 2, 'xorriso numbers the remaining partition 2')
})

/** isoinfo -R -l: path -> [mode, links, uid, gid, size] (size left out for symlinks and fifos: it prints 0). */
function isoinfoLong (image: string): Record<string, string> {
  const out: Record<string, string> = {}
  let current = ''
  for (const line of run('isoinfo', ['-R', '-l', '-i', image]).stdout.split('\n')) {
    const header = /^Directory listing of (.*?)\/?$/.exec(line)
    if (header !== null) current = header[1]
    const m = /^(\S{10})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) .*\]\s\s(.*?)(?: -> .*)?\s*$/.exec(line)
    if (m === null || m[6] === '.' || m[6] === '..') continue
    const plain = m[1].startsWith('-') || m[1].startsWith('d')
    // isoinfo types a fifo "f" where ls (and isotool) print "p".
    const mode = m[1].replace(/^f/, 'p')
    out[`${current}/${m[6]}`] = [mode, m[2], m[3], m[4], plain ? m[5] : '-'].join(' ')
  }
  return out
}

t.test('ls -R -l lists what isoinfo -R -l lists', async t => {
  const r = isotool(['ls', '-R', '-l', iso], { allowFailure: false })
  t.equal(r.stderr, '', 'no warnings')
  const ours: Record<string, string> = {}
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^(\S{10})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+(?:, \d+)?)\s+\S+ \S+ (.*?)(?: -> .*)?$/.exec(line)
    if (m === null) { t.fail(`unparsed line: ${line}`); continue }
    const plain = m[1].startsWith('-') || m[1].startsWith('d')
    ours[m[6]] = [m[1], m[2], m[3], m[4], plain ? m[5] : '-'].join(' ')
  }
  t.same(ours, isoinfoLong(iso), 'names, modes, link counts, owners, sizes')
  t.match(r.stdout, /^lrwxrwxrwx .* \/rel -> hello\.txt$/m, 'symlink targets shown')
  const names = isotool(['ls', iso, '/sub'], { allowFailure: false }).stdout.trim().split('\n')
  t.same(names, ['empty', 'inner.txt', 'to-hello', 'to-root'], 'ls of a directory: its names')
  t.same(isotool(['ls', '-n', 'iso9660', iso, '/SUB'], { allowFailure: false }).stdout.trim().split('\n'), ['EMPTY', 'INNER.TXT', 'TO_HELLO', 'TO_ROOT'], 'ls -n iso9660: the ISO9660 names')
})

t.test('cat: files, symbolic links followed inside the image, clear errors', async t => {
  t.equal(isotool(['cat', iso, '/hello.txt', '/sub/inner.txt'], { allowFailure: false }).stdout, 'hello\ninner\n', 'files in order')
  t.equal(isotool(['cat', iso, '/rel']).stdout, 'hello\n', 'a relative link')
  t.equal(isotool(['cat', iso, '/chain']).stdout, 'hello\n', 'a link to a link, through ".."')
  t.equal(isotool(['cat', iso, '/sub/to-root']).stdout, 'hello\n', 'an absolute link, from the image root')
  const big = spawnSync('node', [ISOTOOL, 'cat', iso, '/big.bin'], { maxBuffer: 8 * 1024 * 1024 })
  t.equal(big.stdout.length, 3 * 1024 * 1024, 'a 3 MiB file whole')
  for (const [link, message] of [
    ['/dangling', /^isotool: \/dangling is a symbolic link to nowhere\/at\/all, which is not in the image$/],
    ['/outside', /^isotool: \/outside is a symbolic link to \/etc\/passwd, which is not in the image$/],
    ['/loop', /^isotool: \/loop: too many levels of symbolic links$/],
    ['/sub', /^isotool: \/sub is a directory$/],
    ['/missing', /^isotool: \/missing: no such file or directory$/]
  ] as const) {
    const r = isotool(['cat', iso, link])
    t.equal(r.status, 1, `${link}: exit status 1`)
    t.match(r.stderr.trim(), message, `${link}: ${r.stderr.trim()}`)
  }
})

t.test('cat into a pipe closed early: no crash, no message, the status of a command killed by SIGPIPE', async t => {
  const r = spawnSync('bash', ['-c', `node '${ISOTOOL}' cat '${iso}' /big.bin | head -c10 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' })
  t.equal(r.stderr, '', `nothing on stderr (no EPIPE stack): ${r.stderr.slice(0, 500)}`)
  t.equal(r.stdout.trim(), '141', 'status 141, as cat killed by SIGPIPE')
  const ls = spawnSync('bash', ['-c', `node '${ISOTOOL}' ls -R '${iso}' | head -1`], { encoding: 'utf8' })
  t.equal(ls.stderr, '', 'ls -R into head: nothing on stderr')
})

t.test('extract keeps modes, times, symlinks, fifos and hard links as bsdtar does', async t => {
  const ours = path.join(dir, 'extract-ours')
  const r = isotool(['extract', iso, '-C', ours])
  t.equal(r.status, 0, 'exit 0')
  t.equal(r.stderr, '', 'no warnings')
  const theirs = extractWithBsdtar(iso, path.join(dir, 'extract-bsdtar'))
  const options = { modes: true, mtimes: true, links: true }
  t.same(snapshot(ours, options), snapshot(theirs, options), 'the same tree, modes, mtimes and links as bsdtar extracts')
  t.same(snapshot(ours, { ...options, skip: /^boot\.cat$/ }), snapshot(src, options), 'and the source tree (genisoimage -R keeps all of it; it adds boot.cat)')
  t.equal(Math.floor(fs.statSync(path.join(ours, 'script.sh')).mtimeMs / 1000), MTIME.getTime() / 1000, 'an old mtime kept')
  t.equal(fs.lstatSync(path.join(ours, 'hard.txt')).ino, fs.lstatSync(path.join(ours, 'original.txt')).ino, 'hard links are one file')
  t.ok(fs.lstatSync(path.join(ours, 'fifo')).isFIFO(), 'a fifo')
  const one = path.join(dir, 'extract-one')
  isotool(['extract', iso, '/sub/inner.txt', '-C', one], { allowFailure: false })
  t.same(fs.readdirSync(one), ['inner.txt'], 'one file extracts into the directory')
})

t.test('the reader\'s warnings are printed on stderr, once, by ls, cat and extract', async t => {
  const bytes = fs.readFileSync(iso)
  shrinkEntry(bytes, suspEntry(bytes, await recordOf(iso, '/hello.txt'), 'PX'), 12)
  const damaged = path.join(dir, 'damaged.iso')
  fs.writeFileSync(damaged, bytes)
  const warning = /^isotool: warning: directory record at LBA \d+ offset \d+, field PX: PX entry has 12 bytes, needs 36; entry ignored$/
  for (const args of [['ls', '-R', damaged], ['cat', damaged, '/hello.txt'], ['extract', damaged, '-C', path.join(dir, 'extract-damaged')]]) {
    const r = isotool(args)
    t.equal(r.status, 0, `${args[0]}: exit 0`)
    const lines = r.stderr.trim().split('\n')
    t.equal(lines.length, 1, `${args[0]}: one line on stderr`)
    t.match(lines[0], warning, `${args[0]}: the warning`)
  }
  t.equal(isotool(['cat', damaged, '/hello.txt']).stdout, 'hello\n', 'stdout carries only the content')
  const strict = isotool(['ls', '-R', '--strict', damaged])
  t.equal(strict.status, 1, '--strict: refused, exit 1')
  t.match(strict.stderr, /^isotool: invalid image: directory record .* field PX: /, '--strict: the reason')
})

t.test('help and exit statuses: 0 done, 1 failed, 2 usage', async t => {
  const help = isotool(['--help'])
  t.equal(help.status, 0, '--help exits 0')
  for (const command of ['info', 'ls', 'cat', 'extract', 'mkisofs']) t.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`)
  t.equal(isotool(['ls', '--help']).status, 0, 'ls --help exits 0')
  t.match(isotool(['extract', '--help']).stdout, /-C, --directory <dest>/, 'extract --help shows -C')
  const usage: string[][] = [
    ['bogus'], ['ls'], ['ls', '--bogus', iso], ['extract', iso], ['cat', iso],
    ['ls', '--session', 'abc', iso], ['ls', '--session', '0', iso], ['ls', '-n', 'klingon', iso], ['ls', '--session', '7', iso]
  ]
  for (const args of usage) {
    const r = isotool(args)
    t.equal(r.status, 2, `isotool ${args.join(' ')}: exit 2 (${r.stderr.trim().split('\n')[0]})`)
    t.notMatch(r.stderr, /NaN|at .*\.js:\d+/, `isotool ${args.join(' ')}: a message, not NaN or a stack`)
  }
  t.match(isotool(['ls', '--session', 'abc', iso]).stderr, /argument 'abc' is invalid\. a session number is a positive integer/, '--session abc says what is wrong')
  for (const args of [['ls', iso, '/missing'], ['ls', path.join(dir, 'no-such.iso')], ['cat', iso, '/sub']]) {
    t.equal(isotool(args).status, 1, `isotool ${args.join(' ')}: exit 1`)
  }
  t.equal(isotool(['ls', iso]).status, 0, 'ls exits 0')
})
