import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoError, IsoImage, statOf } from '../../src'
import { extractWithBsdtar } from '../helpers/readers'
import { genisoimage, PYTHON, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { snapshot } from '../helpers/tree'
import { extractTree } from '../../src/iso/extract'
import { majorOf, minorOf } from '../../src/iso/model/stat'
import { makedev } from '../../src/iso/read/rock-ridge'
import { ComponentFlags, symlinkComponents, type SymlinkComponent } from '../../src/iso/codec/rock-ridge'
import { recordOf, rootSelfOf, shrinkEntry, suspEntries, suspEntry, writeBoth32, type Located } from './patch'

/*
 * Rock Ridge as genisoimage and xorriso write it, and as damage leaves it: each case read by the library
 * and compared with what isoinfo and xorriso (readers nobody here wrote) say about the same image.
 */

const dir = scratch(t, 'rock-ridge')

/** Every path of the Rock Ridge view with its kind, read completely (what `ls -R` would touch). */
async function walkNames (image: IsoImage): Promise<string[]> {
  const names: string[] = []
  for await (const { path: p, node } of image.walk('/')) {
    names.push(p)
    if (node.inode.kind === 'file') await image.readFile(p)
  }
  return names.sort()
}

/** xorriso's `-lsl` listing of one directory: name -> symlink target (xorriso quotes both). */
function xorrisoLinks (iso: string, dirPath = '/'): Record<string, string> {
  const out = run('xorriso', ['-indev', iso, '-lsl', dirPath]).stdout
  const links: Record<string, string> = {}
  for (const line of out.split('\n')) {
    const m = /'([^']*)' -> '(.*)'$/.exec(line)
    if (m !== null) links[m[1]] = m[2]
  }
  return links
}

/** isoinfo -R -l: name -> symlink target. */
function isoinfoLinks (iso: string): Record<string, string> {
  const links: Record<string, string> = {}
  for (const line of run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n')) {
    const m = /\]\s\s(.*?) -> (.*)$/.exec(line)
    if (m !== null) links[m[1]] = m[2]
  }
  return links
}

/** The SL components of a record, walked here from the bytes (RRIP 4.1.3: flags, length, content). */
function recordedComponents (bytes: Buffer, record: Located): SymlinkComponent[] {
  const components: SymlinkComponent[] = []
  for (const entry of suspEntries(bytes, record).filter(e => e.signature === 'SL')) {
    for (let at = entry.at + 5; at + 2 <= entry.at + entry.length; at += 2 + bytes[at + 1]) {
      components.push({ flags: bytes[at], content: Buffer.from(bytes.subarray(at + 2, at + 2 + bytes[at + 1])) })
    }
  }
  return components
}

t.test('symlinkComponents encodes as genisoimage and xorriso do', async t => {
  t.same(symlinkComponents(Buffer.from('')), [], 'an empty target has no components')
  const long = symlinkComponents(Buffer.from('x'.repeat(300)), 248)
  t.same(long.map(c => [c.flags, c.content.length]), [[ComponentFlags.CONTINUE, 248], [0, 52]], 'a long part continues in the next component')
})

t.test('a malformed Rock Ridge entry costs only itself', async t => {
  const LONG = 'a-name-long-enough-to-need-a-continuation-area-'.repeat(4) + '.txt'
  const src = path.join(dir, 'damage-src')
  writeTree(src, { 'a.txt': 'a\n', 'b.txt': 'b\n', sub: { 'c.txt': 'c\n' }, [LONG]: 'long\n' })
  const base = genisoimage(path.join(dir, 'damage.iso'), ['-R'], src)
  const baseBytes = fs.readFileSync(base)
  const all = ['/a.txt', '/b.txt', `/${LONG}`, '/sub', '/sub/c.txt'].sort()

  const cases: Array<{ name: string, patch: (bytes: Buffer) => Promise<void>, names: string[], warning: RegExp }> = [
    {
      name: 'PX too short',
      patch: async bytes => { shrinkEntry(bytes, suspEntry(bytes, await recordOf(base, '/a.txt'), 'PX'), 12) },
      names: all,
      warning: /^directory record at LBA \d+ offset \d+, field PX: PX entry has 12 bytes, needs 36; entry ignored$/
    },
    {
      name: 'NM without its flags byte',
      patch: async bytes => { shrinkEntry(bytes, suspEntry(bytes, await recordOf(base, '/a.txt'), 'NM'), 4) },
      // The name falls back to the ISO9660 identifier, as Linux does when NM gives it nothing.
      names: all.map(n => n === '/a.txt' ? '/A.TXT' : n).sort(),
      warning: /^directory record at LBA \d+ offset \d+, field NM: NM entry has 4 bytes, needs 5; entry ignored$/
    },
    {
      name: 'a CE pointing outside the image',
      patch: async bytes => { writeBoth32(bytes, suspEntry(bytes, await recordOf(base, `/${LONG}`), 'CE').at + 4, 0x7fffff00) },
      // The rest of the long name was in the continuation area: the ISO9660 name stands in for it.
      names: all.filter(n => n !== `/${LONG}`).concat('/A_NAME_L.TXT').sort(),
      warning: /^directory record at LBA \d+ offset \d+, field CE block location: continuation area at LBA 2147483392 lies beyond the end of the image/
    },
    {
      name: 'the root\'s CE pointing outside the image',
      patch: async bytes => { writeBoth32(bytes, suspEntry(bytes, rootSelfOf(bytes), 'CE').at + 4, 0x7fffff00) },
      names: all,
      warning: /^root "\." record at LBA \d+, field CE block location: continuation area at LBA 2147483392 lies beyond/
    }
  ]
  const isoNames = run('isoinfo', ['-l', '-i', base]).stdout
  t.match(isoNames, /A_NAME_L\.TXT;1/, 'isoinfo: the long name\'s ISO9660 identifier is the one expected below')

  for (const c of cases) {
    const bytes = Buffer.from(baseBytes)
    await c.patch(bytes)
    const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.iso`)
    fs.writeFileSync(file, bytes)

    const image = await IsoImage.open(file)
    const names = await walkNames(image)
    t.same(names, c.names, `${c.name}: every other entry lists and reads`)
    t.equal(image.extensions.rockRidge !== undefined, true, `${c.name}: still Rock Ridge`)
    t.ok(image.warnings.some(w => c.warning.test(w)), `${c.name}: a warning names the structure, LBA and field (${image.warnings.join(' | ')})`)
    if (c.name === 'PX too short') {
      t.equal(statOf(await image.lookup('/a.txt')).mode & 0o7777, 0o444, 'the file without PX gets the default mode')
      t.equal(statOf(await image.lookup('/b.txt')).posix, true, 'its neighbour keeps its PX')
    }
    await t.rejects(image.requireUnderstood(), { code: 'IMAGE_STRICT' }, `${c.name}: never written back`)
    await image.close()

    let refused: unknown
    try {
      const strict = await IsoImage.open(file, { strict: true })
      try { await walkNames(strict) } finally { await strict.close() }
    } catch (err) {
      refused = err
    }
    t.ok(refused instanceof IsoError && refused.code === 'IMAGE_STRICT', `${c.name}: strict mode refuses`)
  }
})

/** Symlink targets with ROOT, CURRENT and PARENT components in every position (RRIP 4.1.3.1). */
const TARGETS: Record<string, string> = {
  root: '/', dot: '.', dotdot: '..', updots: '../..', dotx: './x', dotname: '.hidden', dotsname: '..x',
  mid: 'a/./b', trailing: 'dir/', double: 'a//b', absolute: '/abs/', unc: '//net/x', triple: 'a///b', rel: 'x/y'
}

/** What a reader shows for a target both writers recorded: a trailing "/" is not recorded by either. */
function recorded (target: string): string {
  return target.length > 1 ? target.replace(/\/$/, '') : target
}

for (const [maker, make] of [['genisoimage -R', genisoimage], ['xorriso -R', xorrisoMkisofs]] as const) {
  t.test(`symlink targets with ROOT components mid-path (${maker})`, async t => {
    const src = path.join(dir, `links-${maker.split(' ')[0]}`)
    writeTree(src, Object.fromEntries(Object.entries(TARGETS).map(([name, target]) => [name, { symlink: target }])))
    const iso = make(path.join(dir, `links-${maker.split(' ')[0]}.iso`), ['-R'], src)
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    const ours: Record<string, string> = {}
    for (const name of Object.keys(TARGETS)) ours[name] = await image.readlink(`/${name}`)
    t.same(ours, Object.fromEntries(Object.entries(TARGETS).map(([n, target]) => [n, recorded(target)])), 'the targets as written (Linux reads ROOT as "/" wherever it is)')
    t.same(ours, xorrisoLinks(iso), 'the same as xorriso reads them')
    // isoinfo prints "/" alone as an empty target: compare the rest.
    const isoinfo = isoinfoLinks(iso)
    t.same(Object.fromEntries(Object.entries(ours).filter(([n]) => n !== 'root')),
      Object.fromEntries(Object.entries(isoinfo).filter(([n]) => n !== 'root')), 'the same as isoinfo -R reads them')
    t.same(image.warnings, [], 'no warnings')
    // The codec's encoding is the writers': the same components, byte for byte.
    const bytes = fs.readFileSync(iso)
    for (const [name, target] of Object.entries(TARGETS)) {
      t.same(recordedComponents(bytes, await recordOf(iso, `/${name}`)), symlinkComponents(Buffer.from(target)), `${name} -> ${target}: components as ${maker} records them`)
    }
  })
}

t.test('symlinks written by the library keep "//" and leading "/"', async t => {
  const image = IsoImage.create({ rockRidge: '1.12' })
  for (const [name, target] of Object.entries(TARGETS)) await image.addSymlink(`/${name}`, target)
  const iso = path.join(dir, 'links-ours.iso')
  await image.write(iso)
  const back = await IsoImage.open(iso)
  t.teardown(() => back.close())
  const ours: Record<string, string> = {}
  for (const name of Object.keys(TARGETS)) ours[name] = await back.readlink(`/${name}`)
  t.same(ours, Object.fromEntries(Object.entries(TARGETS).map(([n, target]) => [n, recorded(target)])), 'read back as written')
  t.same(Object.fromEntries(Object.entries(ours).filter(([n]) => n !== 'root')),
    Object.fromEntries(Object.entries(isoinfoLinks(iso)).filter(([n]) => n !== 'root')), 'isoinfo -R reads the same targets')
  // "//" is recorded as ROOT, as genisoimage and xorriso record it: an empty component instead reads as
  // "a//b" in Linux (and this reader) but "a/b" in isoinfo and xorriso.
  t.same(ours, xorrisoLinks(iso), 'xorriso reads the same targets')
})

/** xorriso's `-lsl` device column ("300,70000") per name. */
function xorrisoDevices (iso: string): Record<string, string> {
  const devices: Record<string, string> = {}
  for (const line of run('xorriso', ['-indev', iso, '-lsl', '/']).stdout.split('\n')) {
    const m = /^[cb]\S+\s+\d+\s+\S+\s+\S+\s+(\d+,\d+)\s.*'([^']*)'$/.exec(line)
    if (m !== null) devices[m[2]] = m[1]
  }
  return devices
}

const isRoot = process.getuid?.() === 0
t.test('device numbers (PN) as genisoimage and xorriso record them', { skip: isRoot ? false : 'mknod needs root' }, async t => {
  const src = path.join(dir, 'devices-src')
  fs.mkdirSync(src)
  const devices: Array<[string, 'c' | 'b', number, number]> = [['null', 'c', 1, 3], ['disk', 'b', 8, 17], ['big', 'c', 300, 70000], ['wide', 'c', 4095, 1048575]]
  for (const [name, type, major, minor] of devices) run('mknod', [path.join(src, name), type, String(major), String(minor)])
  const expected = Object.fromEntries(devices.map(([name, , major, minor]) => [name, `${major},${minor}`]))
  for (const [maker, make] of [['genisoimage', genisoimage], ['xorriso', xorrisoMkisofs]] as const) {
    const iso = make(path.join(dir, `devices-${maker}.iso`), ['-R'], src)
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    const ours: Record<string, string> = {}
    for (const [name] of devices) {
      const st = statOf(await image.lookup(`/${name}`))
      t.equal(st.rdev, fs.lstatSync(path.join(src, name)).rdev, `${maker}: ${name} has the source's st_rdev`)
      ours[name] = `${majorOf(st.rdev)},${minorOf(st.rdev)}`
    }
    t.same(ours, expected, `${maker}: major and minor as made`)
    // xorriso reads its own PN (dev_t halves) right, genisoimage's (major, minor) not: compare where it can.
    if (maker === 'xorriso') t.same(xorrisoDevices(iso), expected, 'xorriso reads the same numbers')
    const out = path.join(dir, `devices-out-${maker}`)
    await extractTree(image, '/', out)
    for (const [name] of devices) t.equal(fs.lstatSync(path.join(out, name)).rdev, fs.lstatSync(path.join(src, name)).rdev, `${maker}: extracted ${name} is the same device`)
  }
  // The library's writer records PN as libisofs does: xorriso and this reader agree on what it wrote.
  const image = IsoImage.create({ rockRidge: '1.12' })
  for (const [name, type, major, minor] of devices) await image.addSpecial(`/${name}`, type === 'c' ? 'char-device' : 'block-device', { rdev: makedev(major, minor) })
  const iso = path.join(dir, 'devices-ours.iso')
  await image.write(iso)
  const back = await IsoImage.open(iso)
  t.teardown(() => back.close())
  for (const [name, , major, minor] of devices) t.equal(statOf(await back.lookup(`/${name}`)).rdev, makedev(major, minor), `written ${name} reads back`)
  t.same(xorrisoDevices(iso), expected, 'xorriso reads the written numbers')
})

t.test('PX file serial numbers (RRIP 1.12, xorriso -compliance new_rr) link files without data', async t => {
  const src = path.join(dir, 'serial-src')
  writeTree(src, { a: 'shared\n', b: { hardlink: 'a' }, e: '', e2: { hardlink: 'e' }, lone: '' })
  const iso = path.join(dir, 'serial.iso')
  run('xorriso', ['-outdev', iso, '-compliance', 'new_rr', '-map', src, '/', '-commit'])
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  t.equal(image.extensions.rockRidge?.version, '1.12', 'RRIP 1.12')
  // pycdlib reads the serial numbers and link counts the same image records.
  const px = JSON.parse(run(PYTHON, ['-c', `
import json, sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
out = {}
for n in ['a', 'b', 'e', 'e2', 'lone']:
    px = iso.get_record(rr_path='/' + n).rock_ridge.dr_entries.px_record
    out[n] = [px.posix_serial_number, px.posix_file_links]
print(json.dumps(out))`, iso]).stdout) as Record<string, [number, number]>
  t.equal(px.e[0], px.e2[0], 'pycdlib: the empty hard links share a serial number')
  const st = async (n: string): Promise<ReturnType<typeof statOf>> => statOf(await image.lookup(`/${n}`))
  t.equal((await st('e')).ino, (await st('e2')).ino, 'empty hard links are one inode (they share no data to pair by)')
  t.not((await st('e')).ino, (await st('lone')).ino, 'an unrelated empty file is another')
  for (const n of ['a', 'b', 'e', 'e2', 'lone']) t.equal((await st(n)).nlink, px[n][1], `${n}: link count as PX records it`)
  // Extracted, they are hard links again, as bsdtar's extraction of the same image has them.
  const ours = path.join(dir, 'serial-ours')
  await extractTree(image, '/', ours)
  const theirs = extractWithBsdtar(iso, path.join(dir, 'serial-bsdtar'))
  t.same(snapshot(ours, { links: true }), snapshot(theirs, { links: true }), 'extraction links the same files as bsdtar')
  t.same(snapshot(ours, { links: true }).e.links, ['e2'], 'e and e2 are one file')
})

t.test('TF long form (17-byte dates, RRIP 4.1.6) reads as pycdlib reads it', async t => {
  const src = path.join(dir, 'tf-src')
  writeTree(src, { 'a.txt': 'a\n', 'b.txt': 'b\n' })
  const base = genisoimage(path.join(dir, 'tf-base.iso'), ['-R'], src)
  const bytes = fs.readFileSync(base)
  // No writer at hand makes the long form: rewrite b.txt's TF (short form, three stamps) as a long-form
  // TF with a modify stamp only, padded with PD to the same length.
  const tf = suspEntry(bytes, await recordOf(base, '/b.txt'), 'TF')
  t.equal(tf.length, 5 + 3 * 7, 'genisoimage wrote a short-form TF with three stamps')
  shrinkEntry(bytes, tf, 5 + 17)
  bytes[tf.at + 4] = 0x80 | 0x02 // LONG_FORM | MODIFY
  bytes.write('2019031415092653', tf.at + 5, 'latin1') // 2019-03-14 15:09:26.53
  bytes.writeInt8(8, tf.at + 5 + 16) // GMT+2, in 15-minute units (ECMA-119 8.4.26.1)
  const file = path.join(dir, 'tf-long.iso')
  fs.writeFileSync(file, bytes)
  const image = await IsoImage.open(file)
  t.teardown(() => image.close())
  const expected = Date.UTC(2019, 2, 14, 13, 9, 26, 530)
  t.equal(statOf(await image.lookup('/b.txt')).mtimeMs, expected, 'mtime from the long form, offset applied')
  t.equal(statOf(await image.lookup('/a.txt')).mtimeMs, Math.floor(fs.statSync(path.join(src, 'a.txt')).mtimeMs / 1000) * 1000, 'the short form beside it')
  // pycdlib names the stamps in another order than RRIP 4.1.6 (its bit 1, MODIFY, is "access_time"):
  // the field it parsed for bit 1 is the one to compare.
  const theirs = run(PYTHON, ['-c', `
import sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
tf = iso.get_record(rr_path='/b.txt').rock_ridge.dr_entries.tf_record
assert tf.time_flags == 0x82
t = tf.access_time
print(t.year, t.month, t.dayofmonth, t.hour, t.minute, t.second, t.hundredthsofsecond, t.gmtoffset)`, file]).stdout.trim()
  t.equal(theirs, '2019 3 14 15 9 26 53 8', 'pycdlib reads the same fields')
  t.same(image.warnings, [])
})

t.test('SF (sparse file) entries are shown as Linux shows them, with a warning', async t => {
  const src = path.join(dir, 'sf-src')
  writeTree(src, { 'a.txt': 'recorded bytes\n' })
  const base = genisoimage(path.join(dir, 'sf-base.iso'), ['-R'], src)
  const bytes = fs.readFileSync(base)
  const tf = suspEntry(bytes, await recordOf(base, '/a.txt'), 'TF')
  // An RRIP 1.12 SF entry (21 bytes: virtual size high and low, table depth) in place of the TF.
  shrinkEntry(bytes, tf, 21)
  bytes.write('SF', tf.at, 'latin1')
  bytes[tf.at + 3] = 1
  writeBoth32(bytes, tf.at + 4, 0)
  writeBoth32(bytes, tf.at + 12, 1_000_000)
  bytes[tf.at + 20] = 1
  const file = path.join(dir, 'sf.iso')
  fs.writeFileSync(file, bytes)
  const image = await IsoImage.open(file)
  t.teardown(() => image.close())
  t.equal(statOf(await image.lookup('/a.txt')).size, 15, 'the size is the recorded one (Linux ignores SF)')
  t.equal((await image.readFile('/a.txt')).toString(), 'recorded bytes\n', 'the content is the recorded bytes')
  t.match(image.warnings, [/field SF: sparse file \(virtual size 1000000\) is not supported/], 'a warning says so')
  t.equal(isoinfoLinks(file).constructor, Object, 'isoinfo still reads the image')
})

/** A host tree as raw bytes: relative path (hex of its bytes) -> kind and target/content, recursively. */
function byteListing (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dirBytes: Buffer, rel: Buffer): void => {
    for (const name of fs.readdirSync(dirBytes, { encoding: 'buffer' })) {
      const full = Buffer.concat([dirBytes, Buffer.from('/'), name])
      const relative = rel.length === 0 ? name : Buffer.concat([rel, Buffer.from('/'), name])
      const st = fs.lstatSync(full)
      const key = relative.toString('hex')
      if (st.isSymbolicLink()) out[key] = `symlink ${fs.readlinkSync(full, { encoding: 'buffer' }).toString('hex')}`
      else if (st.isFIFO()) out[key] = 'fifo'
      else if (st.isDirectory()) { out[key] = 'dir'; walk(full, relative) }
      else out[key] = `file ${fs.readFileSync(full).toString('hex')}`
    }
  }
  walk(Buffer.from(root), Buffer.alloc(0))
  return out
}

t.test('names and symlink targets that are not UTF-8 extract with their own bytes, as bsdtar extracts them', async t => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')
  const src = path.join(dir, 'latin1-src')
  fs.mkdirSync(src)
  const at = (...parts: string[]): Buffer => Buffer.concat([Buffer.from(src), ...parts.map(p => latin1(`/${p}`))])
  fs.mkdirSync(at('dir\xe9'))
  fs.writeFileSync(at('dir\xe9', 'lat\xe9n1.txt'), 'latin-1 name\n')
  fs.symlinkSync(latin1('lat\xe9n1.txt'), at('dir\xe9', 'link\xe9'))
  fs.writeFileSync(path.join(src, 'utf-8-é.txt'), 'utf-8 name\n')
  run('mkfifo', [path.join(src, 'fifo')])
  // A fifo is made by mkfifo(1), whose path argument is a string: one with a Latin-1 name takes a detour.
  run('bash', ['-c', `mkfifo "$1"/$'dir\\xe9/fifo\\xe9'`, 'bash', src])
  const iso = genisoimage(path.join(dir, 'latin1.iso'), ['-R'], src)
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  t.same((await image.readdir('/')).map(e => e.name).sort(), ['dir\xe9', 'fifo', 'utf-8-é.txt'], 'a non-UTF-8 name reads as Latin-1')
  const ours = path.join(dir, 'latin1-ours')
  await extractTree(image, '/', ours)
  const theirs = extractWithBsdtar(iso, path.join(dir, 'latin1-bsdtar'))
  t.same(byteListing(ours), byteListing(theirs), 'the same bytes as bsdtar\'s extraction: names, targets, contents')
  t.same(byteListing(ours), byteListing(src), 'and as the source')
  // Extracting only the directory whose name is not UTF-8 goes through the same path.
  const sub = path.join(dir, 'latin1-sub')
  await extractTree(image, '/dir\xe9', sub)
  t.same(Object.keys(byteListing(sub)).map(k => Buffer.from(k, 'hex').toString('latin1')).sort(), ['fifo\xe9', 'lat\xe9n1.txt', 'link\xe9'])
})
