import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage, statOf, type Namespace } from '../../src'
import { extractTree } from '../../src/iso/extract'
import { extractWithXorriso, isoinfoNames } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs, type TreeSpec } from '../helpers/tools'
import { sha256, snapshot, type TreeEntry } from '../helpers/tree'

/*
 * Images made by genisoimage and xorriso over an option matrix, read back by the library and compared
 * with the tree they were made from and with what isoinfo lists for each namespace.
 */

const MTIME = new Date('2021-06-15T12:34:56Z')
const LONG = 'a-name-long-enough-to-spill-into-a-continuation-area-'.repeat(4) + 'end.txt'

function sourceSpec (): TreeSpec {
  const deep: TreeSpec = { 'deep.txt': 'at the bottom\n' }
  let level: TreeSpec = deep
  for (let i = 9; i >= 1; i--) level = { [`level${i}`]: level }
  const wide: TreeSpec = {}
  for (let i = 0; i < 300; i++) wide[`entry-number-${String(i).padStart(4, '0')}.dat`] = `entry ${i}\n`
  const manyDirs: TreeSpec = {}
  for (let i = 0; i < 150; i++) manyDirs[`directory-with-a-long-name-${String(i).padStart(3, '0')}`] = { 'x.txt': `${i}` }
  return {
    'empty.txt': '',
    'one.txt': '1',
    'sector-and-one.bin': Buffer.alloc(2049, 0x5a),
    'bigger.bin': Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251)),
    'dated.txt': { file: 'dated\n', mtime: MTIME, mode: 0o640 },
    'script.sh': { file: '#!/bin/sh\necho hi\n', mode: 0o755 },
    'hard-original.txt': 'shared content\n',
    'hard-link.txt': { hardlink: 'hard-original.txt' },
    'relative-link': { symlink: 'one.txt' },
    'absolute-link': { symlink: '/etc/hostname' },
    'dangling-link': { symlink: 'does/not/exist' },
    'dir-link': { symlink: 'sub/inner' },
    fifo: { fifo: true },
    'ünïcödé-name.txt': 'utf-8\n',
    [LONG]: 'long name\n',
    sub: { inner: { 'file.txt': 'inner\n' } },
    wide,
    tree: manyDirs,
    // Ten levels below the root: deeper than ECMA-119 allows (6.8.2.1: eight), so Rock Ridge writers
    // relocate level7 and below (RRIP 4.1.5 CL/PL/RE) and plain ISO9660 trees lose it.
    deep: level
  }
}

const DEEP_FILE = 'deep/level1/level2/level3/level4/level5/level6/level7/level8/level9/deep.txt'

/**
 * isoinfo -R -l's names with what it lists in the relocation directory put where RRIP puts it: rr_moved/X
 * belongs at the one placeholder (CL record) named X, which isoinfo lists as a plain entry.
 */
function relocatedIsoinfoNames (iso: string, flag: '-R' | '' = '-R'): string[] {
  const all = isoinfoNames(iso, flag)
  const reloc = /^\.?rr_moved(\/|$)/i
  const moved = all.filter(n => reloc.test(n) && n.includes('/'))
  const out = all.filter(n => !reloc.test(n))
  for (const n of moved) {
    const [top, ...rest] = n.split('/').slice(1)
    const places = out.filter(p => p.split('/').pop() === top && !p.includes(`${top}/`))
    if (places.length !== 1) throw new Error(`relocated ${top}: ${places.length} placeholders`)
    if (rest.length > 0) out.push([places[0], ...rest].join('/'))
  }
  return out.sort()
}

/** xorriso's view of the Rock Ridge tree (-find /), without an empty relocation directory it shows. */
function xorrisoNames (iso: string): string[] {
  return run('xorriso', ['-indev', iso, '-find', '/']).stdout.split('\n')
    .map(l => /^'\/(.+)'$/.exec(l)?.[1]).filter((n): n is string => n !== undefined && !/^\.?rr_moved$/i.test(n)).sort()
}

/** What the library sees through one namespace, in the shape snapshot() gives host trees. */
async function libraryTree (image: IsoImage, namespace: Namespace): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {}
  for await (const { path: p, node } of image.walk('/', namespace)) {
    const st = statOf(node)
    const rel = p.replace(/^\//, '')
    if (st.kind === 'directory') out[rel] = { type: 'dir' }
    else if (st.kind === 'symlink') out[rel] = { type: 'symlink', target: node.inode.symlinkTarget as string }
    else if (st.kind === 'fifo') out[rel] = { type: 'fifo' }
    else out[rel] = { type: 'file', size: st.size, sha256: sha256(await image.readFile(p, namespace)) }
  }
  return out
}

function withoutAttributes (tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  return Object.fromEntries(Object.entries(tree).map(([p, e]) => [p, defined({ type: e.type, size: e.size, sha256: e.sha256, target: e.target })]))
}

function defined (entry: TreeEntry): TreeEntry {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as unknown as TreeEntry
}

const dir = scratch(t, 'parse-matrix')
const src = path.join(dir, 'src')
writeTree(src, sourceSpec())
const expected = snapshot(src, { modes: true, mtimes: true })
const expectedContent = withoutAttributes(expected)

interface Case {
  name: string
  make: (out: string) => string
  rockRidge: boolean
  joliet: boolean
  /** Rock Ridge modes and times are the source's (-R), not rationalised (-r). */
  realAttributes: boolean
}

const cases: Case[] = [
  { name: 'genisoimage plain', make: out => genisoimage(out, [], src), rockRidge: false, joliet: false, realAttributes: false },
  { name: 'genisoimage -R', make: out => genisoimage(out, ['-R'], src), rockRidge: true, joliet: false, realAttributes: true },
  { name: 'genisoimage -r', make: out => genisoimage(out, ['-r'], src), rockRidge: true, joliet: false, realAttributes: false },
  { name: 'genisoimage -J', make: out => genisoimage(out, ['-J', '-joliet-long'], src), rockRidge: false, joliet: true, realAttributes: false },
  { name: 'genisoimage -R -J', make: out => genisoimage(out, ['-R', '-J'], src), rockRidge: true, joliet: true, realAttributes: true },
  { name: 'genisoimage -R -J -joliet-long', make: out => genisoimage(out, ['-R', '-J', '-joliet-long'], src), rockRidge: true, joliet: true, realAttributes: true },
  { name: 'genisoimage -iso-level 2 -R', make: out => genisoimage(out, ['-iso-level', '2', '-R'], src), rockRidge: true, joliet: false, realAttributes: true },
  { name: 'genisoimage -iso-level 3 -R -J', make: out => genisoimage(out, ['-iso-level', '3', '-R', '-J'], src), rockRidge: true, joliet: true, realAttributes: true },
  { name: 'genisoimage -iso-level 4 -R', make: out => genisoimage(out, ['-iso-level', '4', '-R'], src), rockRidge: true, joliet: false, realAttributes: true },
  { name: 'xorriso -R -J', make: out => xorrisoMkisofs(out, ['-R', '-J'], src), rockRidge: true, joliet: true, realAttributes: true },
  { name: 'xorriso -r -joliet-long', make: out => xorrisoMkisofs(out, ['-r', '-J', '-joliet-long'], src), rockRidge: true, joliet: true, realAttributes: false },
  { name: 'xorriso -iso-level 3 -R', make: out => xorrisoMkisofs(out, ['-iso-level', '3', '-R'], src), rockRidge: true, joliet: false, realAttributes: true },
  {
    // xorriso's mkisofs emulation keeps deep paths (-D); its native mode relocates them on request.
    name: 'xorriso -compliance deep_paths_off (relocation)',
    make: out => { run('xorriso', ['-outdev', out, '-compliance', 'deep_paths_off', '-rr_reloc_dir', 'rr_moved', '-joliet', 'on', '-map', src, '/', '-commit']); return out },
    rockRidge: true,
    joliet: true,
    realAttributes: true
  }
]

for (const c of cases) {
  t.test(c.name, async t => {
    const iso = c.make(path.join(dir, `${c.name.replace(/\W+/g, '_')}.iso`))
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    t.same(image.warnings, [], 'read without irregularities')
    t.equal(image.extensions.rockRidge !== undefined, c.rockRidge, 'Rock Ridge detected as made')
    t.equal(image.extensions.joliet !== undefined, c.joliet, 'Joliet detected as made')

    // Every namespace lists exactly what isoinfo lists.
    const names = async (ns: Namespace): Promise<string[]> => {
      const list: string[] = []
      for await (const { path: p } of image.walk('/', ns)) list.push(p.replace(/^\//, ''))
      return list.sort()
    }
    // With Rock Ridge read, relocated directories are in their CL places in every view (one tree, three
    // ways of naming it); isoinfo -l lists the raw ISO9660 tree.
    t.same(await names('iso9660'), c.rockRidge ? relocatedIsoinfoNames(iso, '') : isoinfoNames(iso, ''), 'ISO9660 names match isoinfo -l')
    if (c.joliet) t.same(await names('joliet'), isoinfoNames(iso, '-J'), 'Joliet names match isoinfo -J -l (Joliet has no depth limit)')

    if (!c.rockRidge) return
    // isoinfo lists the relocated directories in the relocation directory; the Rock Ridge view shows them
    // at their CL places (and hides the relocation directory), as xorriso and Linux do.
    const rrNames = await names('rockridge')
    t.ok(rrNames.includes(DEEP_FILE), 'the file ten levels down is in place')
    t.same(rrNames, relocatedIsoinfoNames(iso), 'Rock Ridge names match isoinfo -R -l, relocated directories moved to their CL places')
    t.same(rrNames, xorrisoNames(iso), 'Rock Ridge names match xorriso -find')
    t.same(await libraryTree(image, 'rockridge'), expectedContent, 'Rock Ridge tree equals the source: names, types, contents, symlinks')

    const hard = statOf(await image.lookup('/hard-link.txt'))
    t.equal(hard.ino, statOf(await image.lookup('/hard-original.txt')).ino, 'hard links share an inode number')
    t.equal(hard.nlink, 2, 'hard links count two links')

    if (c.realAttributes) {
      const dated = statOf(await image.lookup('/dated.txt'))
      t.equal(Math.floor(dated.mtimeMs / 1000), MTIME.getTime() / 1000, 'Rock Ridge TF keeps the mtime')
      t.equal(dated.mode & 0o7777, 0o640, 'Rock Ridge PX keeps the mode')
      // Extracting keeps modes, times and symlinks: the result is the source tree.
      const out = path.join(dir, `extract-${c.name.replace(/\W+/g, '_')}`)
      await extractTree(image, '/', out)
      t.same(snapshot(out, { modes: true, mtimes: true, skip: /^fifo$/ }),
        Object.fromEntries(Object.entries(expected).filter(([p]) => p !== 'fifo')), 'extraction equals the source with modes and times')
    }
  })
}

t.test('xorriso zisofs files read back uncompressed', async t => {
  const zsrc = path.join(dir, 'zsrc')
  writeTree(zsrc, { 'text.txt': 'a very compressible line of text\n'.repeat(20000), 'small.txt': 'tiny\n' })
  const iso = path.join(dir, 'zisofs.iso')
  run('xorriso', ['-outdev', iso, '-blank', 'as_needed', '-map', zsrc, '/', '-set_filter_r', '--zisofs', '/', '--', '-commit'])
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  const node = await image.lookup('/text.txt')
  t.ok(node.inode.compressed !== undefined, 'the file is stored zisofs-compressed (ZF entry)')
  t.ok((node.inode.compressed?.raw.size ?? Infinity) < 20000, 'its stored size is the compressed one')
  t.equal(statOf(node).size, 33 * 20000, 'stat shows the uncompressed size')
  t.same(await image.readFile('/text.txt'), fs.readFileSync(path.join(zsrc, 'text.txt')), 'content reads uncompressed')
  const part = Buffer.alloc(1000)
  const n = await node.inode.data.read(part, 0, 1000, 300000)
  t.same(part.subarray(0, n), fs.readFileSync(path.join(zsrc, 'text.txt')).subarray(300000, 301000), 'a read in the middle inflates the right block')
})

t.test('xorriso zisofs2 files (ZF version 2 and Z2 entries) read back uncompressed', async t => {
  const zsrc = path.join(dir, 'z2src')
  writeTree(zsrc, {
    'text.txt': 'zisofs2 keeps 64-bit block pointers\n'.repeat(30000),
    'zeros.bin': Buffer.alloc(300000),
    'random.bin': Buffer.from(Array.from({ length: 100000 }, (_, i) => (i * 7919 + (i >> 3)) % 256)),
    'small.txt': 'tiny\n'
  })
  for (const [label, option] of [['ZF version 2', 'version_2=on'], ['Z2', 'version_2=on:susp_z2=on'], ['1 MiB blocks', 'version_2=on:block_size_v2=1024k']]) {
    const iso = path.join(dir, `zisofs2-${label.replace(/\W+/g, '_')}.iso`)
    run('xorriso', ['-outdev', iso, '-blank', 'as_needed', '-zisofs', option, '-map', zsrc, '/', '-set_filter_r', '--zisofs', '/', '--', '-commit'])
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    const node = await image.lookup('/text.txt')
    t.equal(node.inode.compressed?.zisofs.version, 2, `${label}: recognised as zisofs2`)
    t.ok((node.inode.compressed?.raw.size ?? Infinity) < 100000, `${label}: stored compressed`)
    // xorriso's own reader (osirrox) decodes zisofs2: what it extracts is the reference.
    const extracted = extractWithXorriso(iso, path.join(dir, `zisofs2-out-${label.replace(/\W+/g, '_')}`))
    for (const name of fs.readdirSync(zsrc)) {
      t.equal(statOf(await image.lookup(`/${name}`)).size, fs.statSync(path.join(zsrc, name)).size, `${label}: ${name} has its uncompressed size`)
      t.same(await image.readFile(`/${name}`), fs.readFileSync(path.join(extracted, name)), `${label}: ${name} reads as xorriso extracts it`)
    }
    t.same(image.warnings, [], `${label}: no warnings`)
    // Written out again, the compressed stream and its entry are kept as they were: xorriso still decodes them.
    const copy = path.join(dir, `zisofs2-copy-${label.replace(/\W+/g, '_')}.iso`)
    await image.write(copy)
    const again = extractWithXorriso(copy, path.join(dir, `zisofs2-copy-out-${label.replace(/\W+/g, '_')}`))
    t.same(snapshot(again), snapshot(zsrc), `${label}: a copy written by the library extracts with xorriso to the source`)
    const reread = await IsoImage.open(copy)
    t.equal((await reread.lookup('/text.txt')).inode.compressed?.zisofs.version, 2, `${label}: the copy is still zisofs2`)
    await reread.close()
  }
})

t.test('a zisofs algorithm this reader does not know reads as an I/O error, never as the compressed bytes', async t => {
  const zsrc = path.join(dir, 'zxsrc')
  writeTree(zsrc, { 'text.txt': 'compressible\n'.repeat(10000) })
  const iso = path.join(dir, 'zisofs-unknown.iso')
  run('xorriso', ['-outdev', iso, '-blank', 'as_needed', '-zisofs', 'version_2=on', '-map', zsrc, '/', '-set_filter_r', '--zisofs', '/', '--', '-commit'])
  // Relabel the entry's algorithm as XZ (zisofs2 algorithm 2), which needs a decoder Node lacks.
  const bytes = fs.readFileSync(iso)
  const opened = await IsoImage.open(iso)
  const location = (await opened.lookup('/text.txt')).origin?.iso
  await opened.close()
  if (location === undefined) throw new Error('no record')
  const recordAt = location.lba * 2048 + location.offset
  const zf = bytes.indexOf(Buffer.from('ZF'), recordAt)
  t.ok(zf > recordAt && zf < recordAt + location.length, 'the record has a ZF entry')
  bytes.write('XZ', zf + 4, 'latin1')
  fs.writeFileSync(iso, bytes)
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  t.equal(statOf(await image.lookup('/text.txt')).size, 13 * 10000, 'stat shows the uncompressed size the entry records')
  await t.rejects(image.readFile('/text.txt'), { code: 'IMAGE_BAD_ZISOFS', message: /algorithm "XZ" is not supported/ }, 'reading fails (EIO)')
  t.match(image.warnings, [/field ZF algorithm: zisofs algorithm "XZ" is not supported; the file cannot be read/], 'one warning')
  await t.rejects(IsoImage.open(iso, { strict: true }).then(async i => { try { await i.lookup('/text.txt') } finally { await i.close() } }), { code: 'IMAGE_STRICT' }, 'strict mode refuses')
})

t.test('a file over 4 GiB is one multi-extent file', async t => {
  const bsrc = path.join(dir, 'bigsrc')
  fs.mkdirSync(bsrc)
  const big = path.join(bsrc, 'big.bin')
  const size = 4 * 1024 ** 3 + 12345
  // Sparse: the test writes only a few marked blocks, the rest reads as zeros.
  const fd = fs.openSync(big, 'w')
  fs.ftruncateSync(fd, size)
  const marks = [0, 2 ** 32 - 2048 - 5, 2 ** 32 + 7, size - 20]
  for (const at of marks) fs.writeSync(fd, Buffer.from(`mark@${at}`), 0, undefined, at)
  fs.closeSync(fd)
  const iso = path.join(dir, 'big.iso')
  // Piped through cp --sparse so the zeros take no disk space.
  run('sh', ['-c', `xorriso -as mkisofs -quiet -iso-level 3 -R -o - '${bsrc}' | cp --sparse=always /dev/stdin '${iso}'`])
  t.teardown(() => fs.rmSync(iso, { force: true }))
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  const entries = await image.readdir('/')
  t.same(entries.map(e => e.name), ['big.bin'], 'one entry, not one per extent')
  const st = statOf(await image.lookup('/big.bin'))
  t.equal(st.size, size, 'its size is the whole file')
  const data = (await image.lookup('/big.bin')).inode.data
  for (const at of marks) {
    const expect = Buffer.from(`mark@${at}`)
    const got = Buffer.alloc(expect.length)
    await data.read(got, 0, got.length, at)
    t.same(got, expect, `bytes at ${at} (across extent boundaries too)`)
  }
  const isoinfo = run('isoinfo', ['-l', '-i', iso]).stdout
  t.ok((isoinfo.match(/BIG\.BIN/g) ?? []).length >= 2, 'isoinfo shows it as several extents')
})
