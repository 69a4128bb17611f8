import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src/iso/image'
import { parseChecksumTag, type ChecksumTag } from '../../src/iso/codec/checksum-tag'
import type { CommitMode } from '../../src/iso/commit/commit'
import { ISOTOOL, mountImage } from '../helpers/mount'
import { run, scratch, writeTree } from '../helpers/tools'

/*
 * xorriso's session MD5s (-md5 on) kept valid by commits (issue 13): images mastered by xorriso -outdev
 * (a session at 32, a copy of its superblock at 0), by xorriso -as mkisofs --md5 (a session at 0, with
 * Joliet), and grown by xorriso to two sessions, edited through the library and through a mount (a file's
 * content changed, a file added, one removed) and committed in each mode that applies (append, remaster;
 * in place is refused, saying why). An append extends a session at 0 and adds one after a session that
 * is not, as xorriso -dev does. xorriso itself then checks the result: -check_md5 (the session MD5 of
 * the checksum array), -check_md5_r (every file's MD5) and -check_media (every session's tags, each
 * found and matching); isotool verify passes each; isovfy and bsdtar read the image.
 */

const dir = scratch(t, 'md5-session')
const src = path.join(dir, 'src')
writeTree(src, {
  'a.txt': 'hello\n',
  'gone.txt': 'to be removed\n',
  'empty.txt': '',
  sub: { 'c.cfg': 'timeout 0\n' },
  'big.bin': crypto.randomBytes(2 * 1024 * 1024 + 123)
})

const outdev = path.join(dir, 'outdev.iso')
run('xorriso', ['-md5', 'on', '-outdev', outdev, '-map', src, '/'])
const mkisofs = path.join(dir, 'mkisofs.iso')
run('xorriso', ['-as', 'mkisofs', '--md5', '-r', '-J', '-o', mkisofs, src])
const grown = path.join(dir, 'grown.iso')
fs.copyFileSync(outdev, grown)
fs.writeFileSync(path.join(dir, 'second.txt'), 'second session\n')
run('xorriso', ['-md5', 'on', '-dev', grown, '-map', path.join(dir, 'second.txt'), '/second.txt', '-commit'])

const IMAGES = { outdev, mkisofs, grown }

function copy (from: string, name: string): string {
  const to = path.join(dir, name)
  fs.copyFileSync(from, to)
  return to
}

interface LocatedTag { lba: number, tag: ChecksumTag }

/** Every checksum tag in the image: a block holding one that names its own place. */
function tagsOf (image: string): LocatedTag[] {
  const bytes = fs.readFileSync(image)
  const found: LocatedTag[] = []
  for (let lba = 0; lba * 2048 < bytes.length; lba++) {
    const tag = parseChecksumTag(bytes.subarray(lba * 2048, lba * 2048 + 2048))
    if (tag !== undefined && tag.pos === lba) found.push({ lba, tag })
  }
  return found
}

/** What xorriso says of the image's MD5s, asserted: session MD5, every file's, every session's tags. */
function xorrisoPasses (t: Test, image: string, label: string, sessions: number): void {
  const session = run('xorriso', ['-md5', 'on', '-indev', image, '-check_md5', 'FAILURE', '--'], { allowFailure: true })
  t.equal(session.status, 0, `${label}: xorriso -check_md5 exits 0`)
  t.match(session.stdout + session.stderr, /Ok, session data match recorded md5/, `${label}: xorriso: the session matches its recorded MD5`)
  const files = run('xorriso', ['-md5', 'on', '-indev', image, '-check_md5_r', 'FAILURE', '/', '--'], { allowFailure: true })
  t.equal(files.status, 0, `${label}: xorriso -check_md5_r exits 0`)
  t.match(files.stdout + files.stderr, /File contents and their MD5 checksums match/, `${label}: xorriso: every file matches its MD5`)
  t.notMatch(files.stdout + files.stderr, /MISMATCH|without MD5|No MD5/i, `${label}: and none lacks one`)
  const media = run('xorriso', ['-md5', 'on', '-indev', image, '-check_media', '--'], { allowFailure: true })
  const said = media.stdout + media.stderr
  for (const type of ['superblock', 'tree', 'session']) {
    t.equal((said.match(new RegExp(`Found matching MD5 ${type} tag`, 'g')) ?? []).length, sessions, `${label}: xorriso -check_media finds ${sessions} matching ${type} tag(s)`)
  }
  const ranges = said.match(/^MD5 tag range:.*$/mg) ?? []
  t.equal(ranges.length, sessions, `${label}: ${sessions} tag range(s)`)
  t.ok(ranges.every(r => /\+ md5_match$/.test(r)), `${label}: each matches (${ranges.join(' | ')})`)
  t.notMatch(said, /mismatch|covers different data range/i, `${label}: no mismatch, no tag of a foreign range`)
}

/** isotool verify: every xorriso check PASS, with `files` file MD5s. */
function isotoolPasses (t: Test, image: string, label: string, files: number): void {
  const r = run(process.execPath, [ISOTOOL, 'verify', image], { allowFailure: true })
  t.equal(r.status, 0, `${label}: isotool verify exits 0`)
  for (const name of ['superblock tag', 'tree tag', 'session tag', 'session MD5']) t.match(r.stdout, new RegExp(`^PASS {2}xorriso ${name}: `, 'm'), `${label}: isotool verify: ${name} PASS`)
  t.match(r.stdout, new RegExp(`^PASS {2}xorriso file MD5s: ${files} files match$`, 'm'), `${label}: isotool verify: ${files} file MD5s PASS`)
}

/** Readers other than xorriso: isovfy finds no error, bsdtar reads the changes. */
function readersAgree (t: Test, image: string, label: string, expect: Record<string, string | null>): void {
  t.match(run('isovfy', [image], { allowFailure: true }).stdout, /No errors found/, `${label}: isovfy finds no error`)
  const listed = run('bsdtar', ['-tf', image]).stdout.split('\n')
  for (const [name, content] of Object.entries(expect)) {
    if (content === null) t.notOk(listed.includes(name), `${label}: ${name} is gone (bsdtar)`)
    else t.equal(run('bsdtar', ['-xOf', image, name]).stdout, content, `${label}: ${name} as written (bsdtar)`)
  }
}

/** A file's whole content replaced (another size), as a write through a mount does it. */
async function replace (iso: IsoImage, file: string, text: string): Promise<void> {
  const bytes = Buffer.from(text)
  const data = iso.editableData(await iso.lookup(file))
  await data.write(bytes, 0, bytes.length, 0)
  await data.truncate(bytes.length)
}

/** The three edits: a file's content changed (another size), a file added, one removed. */
async function edit (iso: IsoImage): Promise<void> {
  await replace(iso, '/sub/c.cfg', 'timeout 50\ndefault linux\n')
  await iso.addFile('/added.txt', Buffer.from('added\n'))
  await iso.remove('/gone.txt')
}
const EDITED = { 'sub/c.cfg': 'timeout 50\ndefault linux\n', 'added.txt': 'added\n', 'gone.txt': null }

const MODES: CommitMode[] = ['append', 'remaster']

for (const [kind, original] of Object.entries(IMAGES)) {
  t.test(`${kind}: the original passes xorriso's and isotool's checks`, async t => {
    const sessions = kind === 'grown' ? 2 : 1
    xorrisoPasses(t, original, kind, sessions)
    isotoolPasses(t, original, kind, kind === 'grown' ? 6 : 5)
  })

  t.test(`${kind}: the library, each mode: the MD5s are written afresh and xorriso passes them`, async t => {
    const refused = await IsoImage.open(copy(original, `${kind}-inplace.iso`))
    await edit(refused)
    await t.rejects(refused.commit({ mode: 'inplace' }), /xorriso session MD5s/, 'commit=inplace is refused, naming the MD5s')
    await refused.close()
    for (const mode of MODES) {
      const image = copy(original, `${kind}-lib-${mode}.iso`)
      const before = tagsOf(image)
      const iso = await IsoImage.open(image)
      await edit(iso)
      const result = await iso.commit({ mode })
      t.equal(result.mode, mode, `committed by ${mode}`)
      t.same(result.notes, ['xorriso session MD5s (-md5 on) written afresh'], 'the result says they were written')
      const checks = await iso.verifyChecksums()
      t.same(checks.filter(c => c.status !== 'PASS' && c.name !== 'implantisomd5'), [], 'the model, rebased on the new image, verifies them')
      await iso.close()

      const tags = tagsOf(image)
      const current = tags.filter(t => !before.some(b => b.lba === t.lba && b.tag.md5 === t.tag.md5))
      t.same(current.map(c => c.tag.type).sort(), (mode === 'append' && kind !== 'mkisofs' ? ['relocated-superblock', 'superblock', 'session', 'tree'] : ['superblock', 'session', 'tree']).sort(),
        'new superblock, tree and session tags (and a relocated superblock tag where the session is not at 0)')
      const start = current.find(c => c.tag.type === 'superblock')?.tag.rangeStart
      // A remaster writes one session from 0; an append extends a session at 0 (-as mkisofs --md5) and
      // adds one after a session that is not (-outdev), as xorriso -dev does: the old ones keep their tags.
      const grows = mode === 'append' && kind !== 'mkisofs'
      const last = before.filter(b => b.tag.type === 'superblock').pop()?.tag.rangeStart ?? -1
      if (grows) t.ok(start !== undefined && start > last && start % 32 === 0, `a new session at ${start ?? '?'}, after the one at ${last}, at a multiple of 32`)
      else t.equal(start, 0, 'the session starts at 0')
      t.notOk(tags.some(c => c.tag.rangeStart === start && !current.includes(c)), 'no stale tag of that session is left')
      const sessions = !grows ? 1 : kind === 'grown' ? 3 : 2
      xorrisoPasses(t, image, `${kind} ${mode}`, sessions)
      isotoolPasses(t, image, `${kind} ${mode}`, kind === 'grown' ? 6 : 5)
      readersAgree(t, image, `${kind} ${mode}`, EDITED)
    }
  })
}

t.test('commits in a row on one model: each uses the indexes the one before wrote', async t => {
  const image = copy(outdev, 'twice.iso')
  const iso = await IsoImage.open(image)
  await iso.addFile('/0-first.txt', Buffer.from('first\n')) // sorts first: every later file's index moves
  t.equal((await iso.commit({ mode: 'append' })).mode, 'append', 'first commit: append')
  await iso.addFile('/1-second.txt', Buffer.from('second\n'))
  t.equal((await iso.commit({ mode: 'append' })).mode, 'append', 'second commit: append')
  xorrisoPasses(t, image, 'twice', 3)
  isotoolPasses(t, image, 'twice', 7)
  await iso.addFile('/2-third.txt', Buffer.from('third\n'))
  t.equal((await iso.commit({ mode: 'remaster' })).mode, 'remaster', 'third commit: remaster')
  await iso.close()
  xorrisoPasses(t, image, 'thrice', 1)
  isotoolPasses(t, image, 'thrice', 8)
})

t.test('an -outdev image with bytes after its session (not xorriso\'s padding): the session is extended instead', async t => {
  const image = copy(outdev, 'trailing.iso')
  fs.appendFileSync(image, Buffer.alloc(4096, 0x5a)) // something after the padding, which a new session would overwrite
  const trailer = fs.readFileSync(image).subarray(-4096)
  const iso = await IsoImage.open(image)
  await edit(iso)
  t.equal((await iso.commit({ mode: 'append' })).mode, 'append', 'append')
  await iso.close()
  const start = tagsOf(image).filter(c => c.tag.type === 'superblock').pop()?.tag.rangeStart
  t.equal(start, 32, 'the session at 32 is extended')
  t.ok(fs.readFileSync(image).subarray(-2 * 1024 * 1024).includes(trailer), 'what followed the session is kept')
  xorrisoPasses(t, image, 'extended', 1)
  isotoolPasses(t, image, 'extended', 5)
  readersAgree(t, image, 'extended', EDITED)
})

t.test('a file damaged in the original keeps its recorded MD5: the damage stays visible', async t => {
  // The unchanged files' MD5s are taken from the image's array (as xorriso -md5 on does), not computed
  // anew over what is now there: a sum computed over damaged data would bless it.
  const image = copy(mkisofs, 'damaged.iso')
  const lba = Number(/File data lba:\s+\d+\s*,\s*(\d+)/.exec(run('xorriso', ['-indev', image, '-find', '/big.bin', '-exec', 'report_lba', '--'], { allowFailure: true }).stdout)?.[1])
  t.ok(lba > 0, `big.bin at LBA ${lba}`)
  const fd = fs.openSync(image, 'r+')
  fs.writeSync(fd, Buffer.from('X'), 0, 1, lba * 2048 + 100)
  fs.closeSync(fd)
  const iso = await IsoImage.open(image)
  await iso.addFile('/added.txt', Buffer.from('added\n'))
  await iso.commit({ mode: 'remaster' })
  await iso.close()
  const files = run('xorriso', ['-md5', 'on', '-indev', image, '-check_md5_r', 'SORRY', '/', '--'], { allowFailure: true })
  t.match(files.stdout + files.stderr, /MD5 MISMATCH: '\/big\.bin'/, 'xorriso -check_md5_r still finds big.bin wrong')
  const verify = run(process.execPath, [ISOTOOL, 'verify', image], { allowFailure: true })
  t.match(verify.stdout, /^FAIL {2}xorriso file MD5s: 1 of 6 files differ: \/big\.bin$/m, 'and isotool verify names it')
  t.match(verify.stdout, /^PASS {2}xorriso session tag: /m, 'while the new session\'s tags match what was written')
})

t.test('a boot image patched as it is written (boot info table) gets the MD5 of its new bytes', async t => {
  const bootSrc = path.join(dir, 'boot-src')
  writeTree(bootSrc, { isolinux: { 'isolinux.bin': crypto.randomBytes(4096), 'isolinux.cfg': 'default linux\n' }, 'a.txt': 'hello\n' })
  const original = path.join(dir, 'boot.iso')
  run('xorriso', ['-as', 'mkisofs', '--md5', '-r', '-J', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-o', original, bootSrc])
  xorrisoPasses(t, original, 'boot original', 1)
  for (const mode of MODES) {
    const image = copy(original, `boot-${mode}.iso`)
    const iso = await IsoImage.open(image)
    // A file sorting before it: the boot image moves in a remaster, and its table with it.
    await iso.addFile('/0-first.bin', crypto.randomBytes(10_000))
    t.equal((await iso.commit({ mode })).mode, mode, mode)
    await iso.close()
    xorrisoPasses(t, image, `boot ${mode}`, 1)
    isotoolPasses(t, image, `boot ${mode}`, 4)
  }
})

t.test('zisofs files: their MD5 is of the compressed bytes as recorded, kept or rewritten', async t => {
  const zsrc = path.join(dir, 'zisofs-src')
  writeTree(zsrc, { 'text.txt': 'a compressible line of text\n'.repeat(20_000), 'other.txt': 'also compressed\n'.repeat(5_000), 'small.txt': 'hi\n' })
  const original = path.join(dir, 'zisofs.iso')
  run('xorriso', ['-md5', 'on', '-outdev', original, '-map', zsrc, '/', '-set_filter_r', '--zisofs', '/', '--'])
  const probe = await IsoImage.open(original)
  t.ok((await probe.lookup('/text.txt')).inode.compressed !== undefined, 'text.txt is zisofs-compressed in the original')
  await probe.close()
  for (const mode of MODES) {
    const image = copy(original, `zisofs-${mode}.iso`)
    const iso = await IsoImage.open(image)
    await replace(iso, '/other.txt', 'changed\n')
    await iso.addFile('/added.txt', Buffer.from('added\n'))
    t.equal((await iso.commit({ mode })).mode, mode, mode)
    await iso.close()
    xorrisoPasses(t, image, `zisofs ${mode}`, mode === 'append' ? 2 : 1)
    isotoolPasses(t, image, `zisofs ${mode}`, 4)
    const out = path.join(dir, `zisofs-${mode}-text.txt`)
    run('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/text.txt', out])
    t.ok(fs.readFileSync(out).equals(fs.readFileSync(path.join(zsrc, 'text.txt'))), `${mode}: text.txt reads back whole (xorriso)`)
  }
})

t.test('IsoImage.write() of such an image to a file: the new image has them, from 0', async t => {
  const iso = await IsoImage.open(outdev)
  await edit(iso)
  const out = path.join(dir, 'written.iso')
  await iso.write(out)
  await iso.close()
  t.equal(tagsOf(out).find(c => c.tag.type === 'superblock')?.tag.rangeStart, 0, 'a session from 0')
  xorrisoPasses(t, out, 'written', 1)
  isotoolPasses(t, out, 'written', 5)
  readersAgree(t, out, 'written', EDITED)
})

t.test('an image with an implantisomd5 checksum too: the session MD5s are dropped, saying why', async t => {
  const image = copy(mkisofs, 'implanted.iso')
  run('implantisomd5', ['-f', image])
  const iso = await IsoImage.open(image)
  await iso.addFile('/added.txt', Buffer.from('added\n'))
  const result = await iso.commit({ mode: 'append' })
  await iso.close()
  t.match(result.notes, ['implantisomd5 checksum written afresh', /^xorriso session MD5s \(-md5 on\) dropped: the image also carries an implantisomd5 checksum/], 'the notes say which was kept and why the other was not')
  const check = run('checkisomd5', [image], { allowFailure: true })
  t.match(check.stdout + check.stderr, /the result is: PASS/, 'checkisomd5 PASS')
  const files = run('xorriso', ['-md5', 'on', '-indev', image, '-check_md5_r', 'SORRY', '/', '--'], { allowFailure: true })
  t.match(files.stdout + files.stderr, /Not a single file with MD5 checksum was found/, 'xorriso finds no stale file index')
  t.same(tagsOf(image), [], 'and no tag is left')
})

t.test('a crash once the journal is durable: replaying it gives the new image, its tags valid', async t => {
  // The journal as a crash right after it became durable leaves it: written, the image not yet patched.
  // The blocks an append writes inside the old image (descriptors, the superblock copy and tags, the
  // relocated tag) are all in it: replayed, the image has its new tree and valid MD5s; discarded, the old.
  const journal = await import('../../src/iso/commit/journal')
  const crashing = { ...journal, applyJournaled: (imagePath: string, fd: number, patches: Parameters<typeof journal.applyJournaled>[2]) => {
    journal.prepareJournal(imagePath, fd, patches)
    throw new Error('simulated crash')
  } }
  const { IsoImage: Crashing } = t.mockRequire<typeof import('../../src/iso/image')>('../../src/iso/image', { '../../src/iso/commit/journal': crashing })
  for (const [kind, original] of [['outdev', outdev], ['mkisofs', mkisofs]] as const) {
    const image = copy(original, `crash-${kind}.iso`)
    const iso = await Crashing.open(image)
    await edit(iso)
    await t.rejects(iso.commit({ mode: 'append' }), /simulated crash/, `${kind}: the commit dies with its journal written`)
    await iso.close()
    xorrisoPasses(t, image, `${kind} crashed, before recovery (the old image)`, 1)
    t.equal(journal.recoverJournal(image), 'replayed', `${kind}: the journal is replayed`)
    xorrisoPasses(t, image, `${kind} replayed`, kind === 'outdev' ? 2 : 1)
    isotoolPasses(t, image, `${kind} replayed`, 5)
    readersAgree(t, image, `${kind} replayed`, EDITED)
  }
})

t.test('through a mount, append and remaster: xorriso passes the MD5s', { skip: !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : false }, async t => {
  for (const mode of MODES) {
    const image = copy(outdev, `mount-${mode}.iso`)
    const m = mountImage(t, image, [`commit=${mode}`])
    t.equal(m.result.status, 0, `mounted with commit=${mode}`)
    fs.writeFileSync(path.join(m.mountpoint, 'sub/c.cfg'), EDITED['sub/c.cfg'])
    fs.writeFileSync(path.join(m.mountpoint, 'added.txt'), EDITED['added.txt'])
    fs.rmSync(path.join(m.mountpoint, 'gone.txt'))
    const u = m.unmount()
    t.equal(u.status, 0, `isomount -u: ${u.stdout.trim()} ${u.stderr.trim()}`)
    t.match(u.stdout + u.stderr, /xorriso session MD5s \(-md5 on\) written afresh/, 'the commit message says they were written')
    xorrisoPasses(t, image, `mount ${mode}`, mode === 'append' ? 2 : 1)
    isotoolPasses(t, image, `mount ${mode}`, 5)
    readersAgree(t, image, `mount ${mode}`, EDITED)
  }
})
