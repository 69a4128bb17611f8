import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src/iso/image'
import { parseAttributeList, serializeAttributeList, withoutAttributes, attributeName } from '../../src/iso/codec/aaip'
import { parseChecksumTag, serializeChecksumTag } from '../../src/iso/codec/checksum-tag'
import { parseImplantedMd5, serializeImplantedMd5 } from '../../src/iso/codec/isomd5sum'
import type { CommitMode } from '../../src/iso/commit/commit'
import { ISOTOOL, mountImage } from '../helpers/mount'
import { run, scratch, writeTree } from '../helpers/tools'

/*
 * Media checksums (issue 13): implantisomd5's, checked by Debian's checkisomd5 after commits in every mode
 * through the library and through a mount; xorriso -md5 on's tags and file MD5s, read and verified
 * against xorriso's own -check_md5 (their commits: session-md5-commit.test.ts). The images are a few
 * MiB: checkisomd5 fails images whose 1/21st is under its 32 KiB read size even straight after
 * implantisomd5 (its fragment sums are indexed by fragment, written in turn).
 */

const dir = scratch(t, 'media-checksums')
const src = path.join(dir, 'src')
writeTree(src, {
  'a.txt': 'hello\n',
  isolinux: { 'isolinux.cfg': 'default install\ntimeout 0\n' },
  'big.bin': crypto.randomBytes(3 * 1024 * 1024)
})
const PVD_APPLICATION_USE = 16 * 2048 + 883

function checkisomd5 (image: string): { status: number, verdict: string } {
  const r = run('checkisomd5', [image], { allowFailure: true })
  const verdict = /the result is: (\w+)/.exec(r.stdout + r.stderr)?.[1] ?? `(no verdict: ${r.stdout}${r.stderr})`
  return { status: r.status, verdict }
}

function copy (from: string, name: string): string {
  const to = path.join(dir, name)
  fs.copyFileSync(from, to)
  return to
}

const plain = path.join(dir, 'plain.iso')
run('genisoimage', ['-quiet', '-r', '-J', '-o', plain, src])
const implanted = copy(plain, 'implanted.iso')
run('implantisomd5', [implanted])

const xorrisoImage = path.join(dir, 'xorriso.iso')
run('xorriso', ['-md5', 'on', '-outdev', xorrisoImage, '-map', src, '/'])

t.test('codecs: implantisomd5 field, libisofs tags and AAIP attributes round-trip real bytes', async t => {
  const field = fs.readFileSync(implanted).subarray(PVD_APPLICATION_USE, PVD_APPLICATION_USE + 512)
  const parsed = parseImplantedMd5(field)
  t.ok(parsed !== undefined, 'implantisomd5\'s field parses')
  t.equal(parsed?.skipSectors, 15, 'SKIPSECTORS = 15')
  t.equal(parsed?.fragmentCount, 20, 'FRAGMENT COUNT = 20')
  t.equal(parsed?.fragmentSums.length, 60, '60 fragment digits')
  t.ok(parsed !== undefined && serializeImplantedMd5(parsed).equals(field), 'serialize gives implantisomd5\'s bytes back')
  t.equal(parseImplantedMd5(Buffer.alloc(512, 0x20)), undefined, 'a blank field holds none')
  t.equal(parseImplantedMd5(fs.readFileSync(plain).subarray(PVD_APPLICATION_USE, PVD_APPLICATION_USE + 512)), undefined, 'genisoimage\'s holds none')

  const bytes = fs.readFileSync(xorrisoImage)
  let tags = 0
  for (let lba = 0; lba * 2048 < bytes.length; lba++) {
    const block = bytes.subarray(lba * 2048, lba * 2048 + 2048)
    const tag = parseChecksumTag(block)
    if (tag === undefined || tag.pos !== lba) continue
    tags++
    t.ok(serializeChecksumTag(tag).equals(block), `the ${tag.type} tag at LBA ${lba} serializes to xorriso's block`)
  }
  t.equal(tags, 4, 'xorriso -md5 on wrote four tags (relocated superblock, superblock, tree, session)')

  const attrs = [{ name: Buffer.from('\x04cx'), value: Buffer.from([0, 0, 0, 7]) }, { name: Buffer.from('user.long'), value: crypto.randomBytes(600) }]
  const entries = serializeAttributeList(attrs)
  t.ok(entries.length > 1 && entries.every(e => e.data.length + 4 <= 255), 'a long value is split over AL entries of at most 255 bytes')
  t.same(parseAttributeList(entries), attrs, 'and reads back')
  t.equal(attributeName(attrs[0].name), 'isofs.cx', 'namespace byte 4 is isofs.')
  const other = { signature: 'XX', version: 1, data: Buffer.from('x') }
  const kept = withoutAttributes([other, ...entries], new Set(['isofs.cx']))
  t.same(parseAttributeList(kept), [attrs[1]], 'isofs.cx dropped, the user attribute kept')
  t.same(kept[0], other, 'other entries kept in place')
})

/** New bytes over a file's start, as a write through a mount makes them. */
async function overwrite (iso: IsoImage, file: string, text: string): Promise<void> {
  const bytes = Buffer.from(text)
  await iso.editableData(await iso.lookup(file)).write(bytes, 0, bytes.length, 0)
}

const MODES: CommitMode[] = ['inplace', 'append', 'remaster']

t.test('the library: each commit mode writes a fresh implantisomd5 checksum that checkisomd5 passes', async t => {
  t.equal(checkisomd5(implanted).verdict, 'PASS', 'the implanted original passes')
  for (const mode of MODES) {
    const image = copy(implanted, `lib-${mode}.iso`)
    const before = fs.readFileSync(image).subarray(PVD_APPLICATION_USE, PVD_APPLICATION_USE + 512).toString('latin1')
    const iso = await IsoImage.open(image)
    if (mode === 'inplace') await overwrite(iso, '/a.txt', 'HELLO\n') // same size: fits its extent
    else await iso.addFile('/notes.txt', Buffer.from('added\n'))
    const result = await iso.commit({ mode })
    t.equal(result.mode, mode, `committed ${mode}`)
    t.ok(result.notes?.includes('implantisomd5 checksum written afresh'), 'the result says so')
    const checks = await iso.verifyChecksums()
    await iso.close()
    const after = fs.readFileSync(image).subarray(PVD_APPLICATION_USE, PVD_APPLICATION_USE + 512).toString('latin1')
    t.not(after, before, `${mode}: the recorded MD5 changed with the image`)
    const check = checkisomd5(image)
    t.same(check, { status: 0, verdict: 'PASS' }, `${mode}: checkisomd5 says PASS`)
    t.equal(checks.find(c => c.name === 'implantisomd5')?.status, 'PASS', `${mode}: verifyChecksums agrees`)
    t.equal(run('bsdtar', ['-xOf', image, mode === 'inplace' ? 'a.txt' : 'notes.txt']).stdout, mode === 'inplace' ? 'HELLO\n' : 'added\n', 'the change is in the image (bsdtar)')
  }
})

t.test('IsoImage.write() of an image that had one: the new file has a fresh one', async t => {
  const iso = await IsoImage.open(implanted)
  await iso.addFile('/notes.txt', Buffer.from('added\n'))
  const out = path.join(dir, 'written.iso')
  await iso.write(out)
  await iso.close()
  t.same(checkisomd5(out), { status: 0, verdict: 'PASS' }, 'checkisomd5 PASS')
  const fresh = await IsoImage.open(plain)
  const none = path.join(dir, 'written-none.iso')
  await fresh.write(none)
  await fresh.close()
  t.equal(checkisomd5(none).verdict, 'NA', 'from an image without one: NA')
})

t.test('a hybrid image with an appended ESP: the checksum follows the moved partition', async t => {
  const esp = path.join(dir, 'esp.img')
  run('mkfs.vfat', ['-C', esp, '2048'])
  const image = path.join(dir, 'hybrid.iso')
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-r', '-J', '-o', image, '-append_partition', '2', '0xef', esp, '-appended_part_as_gpt', src])
  run('implantisomd5', ['-f', image]) // xorriso leaves the field zeroed, not blank: implantisomd5 wants -f
  for (const mode of ['append', 'remaster'] as const) {
    const copyOf = copy(image, `hybrid-${mode}.iso`)
    const iso = await IsoImage.open(copyOf)
    await iso.addFile('/ks.cfg', Buffer.from('text\n'))
    t.equal((await iso.commit({ mode })).mode, mode, mode)
    await iso.close()
    t.same(checkisomd5(copyOf), { status: 0, verdict: 'PASS' }, `${mode}: checkisomd5 PASS`)
    t.match(run('sgdisk', ['-v', copyOf]).stdout, /No problems found/, `${mode}: sgdisk -v finds no problem`)
  }
})

t.test('an image without a checksum gets none', async t => {
  for (const mode of MODES) {
    const image = copy(plain, `none-${mode}.iso`)
    const iso = await IsoImage.open(image)
    if (mode === 'inplace') await overwrite(iso, '/a.txt', 'HELLO\n')
    else await iso.addFile('/new.txt', Buffer.from('new\n'))
    const result = await iso.commit({ mode })
    await iso.close()
    t.same(result.notes, [], `${mode}: no notes`)
    t.equal(checkisomd5(image).verdict, 'NA', `${mode}: checkisomd5 says NA`)
  }
})

t.test('a damaged image fails checkisomd5 and isotool verify alike', async t => {
  const image = copy(implanted, 'damaged.iso')
  const fd = fs.openSync(image, 'r+')
  fs.writeSync(fd, Buffer.from('X'), 0, 1, 600 * 2048)
  fs.closeSync(fd)
  t.equal(checkisomd5(image).verdict, 'FAIL', 'checkisomd5: FAIL')
  const r = run(process.execPath, [ISOTOOL, 'verify', image], { allowFailure: true })
  t.equal(r.status, 1, 'isotool verify exits 1')
  t.match(r.stdout, /^FAIL {2}implantisomd5: recorded MD5 [0-9a-f]{32}/m, 'and says FAIL for implantisomd5')
  const ok = run(process.execPath, [ISOTOOL, 'verify', implanted])
  t.match(ok.stdout, /^PASS {2}implantisomd5: /m, 'the intact image: PASS')
  t.match(ok.stdout, /^NA {4}xorriso checksum tags: /m, 'and NA for what it does not carry')
  t.notMatch(ok.stderr, /verifying/, 'no progress when stderr is not a terminal')
})

t.test('through a mount, each commit mode: checkisomd5 passes', { skip: !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : false }, async t => {
  for (const mode of MODES) {
    const image = copy(implanted, `mount-${mode}.iso`)
    const m = mountImage(t, image, [`commit=${mode}`])
    t.equal(m.result.status, 0, `mounted with commit=${mode}`)
    if (mode === 'inplace') {
      const fd = fs.openSync(path.join(m.mountpoint, 'a.txt'), 'r+')
      fs.writeSync(fd, 'HELLO\n', 0)
      fs.closeSync(fd)
    } else {
      run('sed', ['-i', 's/timeout 0/timeout 50/', path.join(m.mountpoint, 'isolinux/isolinux.cfg')])
      fs.writeFileSync(path.join(m.mountpoint, 'ks.cfg'), 'text\n')
    }
    const u = m.unmount()
    t.equal(u.status, 0, `isomount -u: ${u.stdout.trim()} ${u.stderr.trim()}`)
    t.match(u.stdout + u.stderr, /implantisomd5 checksum written afresh/, 'the commit message says the checksum was written')
    t.same(checkisomd5(image), { status: 0, verdict: 'PASS' }, `${mode}: checkisomd5 PASS`)
  }
})

t.test('xorriso -md5 on: read and verified as xorriso verifies them', async t => {
  const xorrisoSays = run('xorriso', ['-md5', 'on', '-indev', xorrisoImage, '-check_md5', 'FAILURE', '--'], { allowFailure: true })
  t.match(xorrisoSays.stdout + xorrisoSays.stderr, /Ok, session data match recorded md5/, 'xorriso -check_md5 passes the original')
  const iso = await IsoImage.open(xorrisoImage)
  const checks = await iso.verifyChecksums()
  await iso.close()
  t.same(checks.map(c => `${c.status} ${c.name}`), [
    'NA implantisomd5',
    'PASS xorriso relocated superblock tag',
    'PASS xorriso superblock tag',
    'PASS xorriso tree tag',
    'PASS xorriso session tag',
    'PASS xorriso session MD5',
    'PASS xorriso file MD5s'
  ], 'every tag, the session MD5 and the file MD5s pass')
  t.match(checks[checks.length - 1].detail, /^3 files match$/, 'three files')

  // One byte of big.bin changed: its MD5, the session MD5 and the session tag fail, as xorriso says.
  const damaged = copy(xorrisoImage, 'xorriso-damaged.iso')
  const big = run('xorriso', ['-indev', damaged, '-find', '/big.bin', '-exec', 'report_lba', '--'], { allowFailure: true }).stdout
  const lba = Number(/File data lba:\s+\d+\s*,\s*(\d+)/.exec(big)?.[1])
  t.ok(lba > 0, `big.bin's data at LBA ${lba} (xorriso -exec report_lba)`)
  const fd = fs.openSync(damaged, 'r+')
  fs.writeSync(fd, Buffer.from([0xff ^ fs.readFileSync(damaged)[lba * 2048 + 5]]), 0, 1, lba * 2048 + 5)
  fs.closeSync(fd)
  const xorrisoFile = run('xorriso', ['-md5', 'on', '-indev', damaged, '-check_md5_r', 'SORRY', '/', '--'], { allowFailure: true })
  t.match(xorrisoFile.stdout + xorrisoFile.stderr, /MD5 MISMATCH: '\/big\.bin'/, 'xorriso -check_md5_r finds big.bin wrong')
  const r = run(process.execPath, [ISOTOOL, 'verify', damaged], { allowFailure: true })
  t.equal(r.status, 1, 'isotool verify exits 1')
  t.match(r.stdout, /^FAIL {2}xorriso file MD5s: 1 of 3 files differ: \/big\.bin$/m, 'and names big.bin')
  t.match(r.stdout, /^FAIL {2}xorriso session tag: /m, 'the session tag fails')
  t.match(r.stdout, /^FAIL {2}xorriso session MD5: /m, 'and the session MD5')
  t.match(r.stdout, /^PASS {2}xorriso tree tag: /m, 'the tree tag (before the data) still passes')
})

t.test('xorriso -md5 on: in place is refused, auto appends and writes them afresh (session-md5-commit.test.ts checks them)', async t => {
  const refused = copy(xorrisoImage, 'xorriso-inplace.iso')
  const iso = await IsoImage.open(refused)
  await overwrite(iso, '/a.txt', 'HELLO\n')
  await t.rejects(iso.commit({ mode: 'inplace' }), /xorriso session MD5s/, 'commit=inplace is refused with the reason')
  const auto = await iso.commit()
  t.equal(auto.mode, 'append', 'commit=auto appends instead')
  t.same(auto.notes, ['xorriso session MD5s (-md5 on) written afresh'], 'and says the MD5s were written afresh')
  await iso.close()
  const info = run(process.execPath, [ISOTOOL, 'info', xorrisoImage]).stdout
  t.match(info, /^Checksums: +xorriso session and file MD5s \(-md5 on; a commit writes them afresh, with a whole tree\)$/m, 'isotool info says what a commit does')
  const loaded = run('xorriso', ['-md5', 'on', '-indev', refused, '-check_md5_r', 'SORRY', '/', '--'], { allowFailure: true })
  t.match(loaded.stdout + loaded.stderr, /File contents and their MD5 checksums match/, 'xorriso checks every file against its new MD5')
})
