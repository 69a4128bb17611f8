import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src'
import { journalPath, prepareJournal, readJournal, recoverJournal, type Patch } from '../../src/iso/commit/journal'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { pattern, sha256 } from '../helpers/tree'

/*
 * The library's commit (IsoImage.commit) where it must not lose or leak data: bytes cut off by an earlier
 * commit, journals replayed onto the image they were written for and only onto it, a remastered image
 * keeping its permissions and its other names. What is committed is read back by bsdtar and xorriso.
 */

const dir = scratch(t, 'commit-safety')
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': pattern(3000, 7), 'b.txt': 'bee\n', docs: { 'c.txt': 'sea\n' } })
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J'], src)

function copyOfBase (name: string): string {
  const image = path.join(dir, name)
  fs.copyFileSync(base, image)
  return image
}

function bsdtarRead (image: string, file: string): Buffer {
  return Buffer.from(run('bsdtar', ['-xOf', image, file], { encoding: 'latin1' }).stdout, 'latin1')
}

/** A copy of the base image with a.txt cut to 100 bytes by an in-place commit (the rest stays on disk). */
async function shrunkInPlace (t: Test, name: string): Promise<string> {
  const image = copyOfBase(name)
  const edit = await IsoImage.open(image)
  await edit.editableData(await edit.lookup('/a.txt')).truncate(100)
  t.equal((await edit.commit({ mode: 'inplace' })).mode, 'inplace', 'a.txt shrunk in place')
  await edit.close()
  return image
}

t.test('a file grown by truncate after an in-place shrink reads zeros, not what the shrink cut off', async t => {
  const image = await shrunkInPlace(t, 'regrow.iso')

  const second = await IsoImage.open(image)
  await second.editableData(await second.lookup('/a.txt')).truncate(1000)
  t.equal((await second.commit({ mode: 'inplace' })).mode, 'inplace', 'growing within the extent is in place')
  await second.close()

  const expected = Buffer.concat([pattern(3000, 7).subarray(0, 100), Buffer.alloc(900)])
  t.equal(sha256(bsdtarRead(image, 'a.txt')), sha256(expected), 'bsdtar reads the kept bytes, then zeros')
  const xorriso = path.join(dir, 'regrow-x')
  run('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/a.txt', xorriso])
  t.equal(sha256(fs.readFileSync(xorriso)), sha256(expected), 'so does xorriso')
})

t.test('journals: replayed whole or torn, never onto other bytes', async t => {
  const file = path.join(dir, 'journaled.bin')
  const old = pattern(8192, 1)
  const patches: Patch[] = [{ offset: 1024, bytes: pattern(2048, 2) }, { offset: 6000, bytes: pattern(700, 3) }]
  const after = Buffer.from(old)
  for (const p of patches) p.bytes.copy(after, p.offset)

  const journalFor = (content: Buffer): void => {
    fs.writeFileSync(file, content)
    const fd = fs.openSync(file, 'r')
    try { prepareJournal(file, fd, patches) } finally { fs.closeSync(fd) }
  }

  journalFor(old)
  t.ok(readJournal(file), 'a complete journal applies to the image it was written for')
  t.equal(recoverJournal(file), 'replayed', 'killed before applying: replayed')
  t.ok(fs.readFileSync(file).equals(after), 'the image holds the new bytes')
  t.notOk(fs.existsSync(journalPath(file)), 'and the journal is gone')

  journalFor(old)
  // A power cut inside the first patch: its first 512-byte block written, the rest not.
  const torn = Buffer.from(old)
  patches[0].bytes.copy(torn, patches[0].offset, 0, 512)
  fs.writeFileSync(file, torn)
  t.equal(recoverJournal(file), 'replayed', 'a torn write is completed')
  t.ok(fs.readFileSync(file).equals(after))

  journalFor(old)
  fs.writeFileSync(file, after)
  t.equal(recoverJournal(file), 'replayed', 'replaying twice is harmless')
  t.ok(fs.readFileSync(file).equals(after))

  journalFor(old)
  // The crash was followed by restoring another version from a backup: the journal is not for these bytes.
  const restored = pattern(8192, 9)
  fs.writeFileSync(file, restored)
  t.equal(readJournal(file), undefined, 'a journal for other bytes does not apply')
  t.equal(recoverJournal(file), 'discarded')
  t.ok(fs.readFileSync(file).equals(restored), 'and the restored image keeps its bytes')

  journalFor(old)
  fs.appendFileSync(file, Buffer.alloc(2048))
  t.equal(recoverJournal(file), 'discarded', 'nor one for an image of another size')

  journalFor(old)
  const journal = fs.readFileSync(journalPath(file))
  fs.writeFileSync(journalPath(file), journal.subarray(0, journal.length - 100))
  t.equal(recoverJournal(file), 'discarded', 'a journal cut short (killed while writing it) is discarded')
  t.ok(fs.readFileSync(file).equals(old), 'leaving the image as it was')
})

t.test('an image opened with a pending journal reads as the journal completes it', async t => {
  const image = copyOfBase('pending.iso')
  const edit = await IsoImage.open(image)
  const a = await edit.lookup('/b.txt')
  await edit.editableData(a).write(Buffer.from('BEE'), 0, 3, 0)
  // The in-place commit's patches, journaled as a crash right before applying them would leave them.
  const { planInPlace } = await import('../../src/iso/commit/in-place')
  const context = { path: image, source: edit.source, descriptors: edit.descriptors }
  const plan = await planInPlace(context as never, edit.root, edit.settings, edit.changes, { paddingSectors: 0 })
  if (!('patches' in plan)) throw new Error(plan.reason)
  const fd = fs.openSync(image, 'r')
  prepareJournal(image, fd, plan.patches)
  fs.closeSync(fd)
  await edit.close()
  const before = sha256(fs.readFileSync(image))

  const reader = await IsoImage.open(image)
  t.equal((await reader.readFile('/b.txt')).toString(), 'BEE\n', 'the library reads the committed content')
  t.match(reader.warnings.join('\n'), /interrupted in-place commit is pending/)
  await reader.close()
  t.equal(sha256(fs.readFileSync(image)), before, 'without writing to the image')
  t.equal(recoverJournal(image), 'replayed')
  t.equal(bsdtarRead(image, 'b.txt').toString(), 'BEE\n', 'after replay, bsdtar agrees')
})

t.test('a remastered image keeps its mode and owner', async t => {
  const image = copyOfBase('private.iso')
  fs.chmodSync(image, 0o600)
  const isRoot = process.getuid?.() === 0
  if (isRoot) fs.chownSync(image, 65534, 65534)
  const edit = await IsoImage.open(image)
  await edit.addFile('/new.txt', Buffer.from('new\n'))
  t.equal((await edit.commit({ mode: 'remaster' })).mode, 'remaster')
  await edit.close()
  const st = fs.statSync(image)
  t.equal(st.mode & 0o7777, 0o600, 'mode 0600 kept')
  if (isRoot) t.same([st.uid, st.gid], [65534, 65534], 'owner kept')
  t.equal(bsdtarRead(image, 'new.txt').toString(), 'new\n')
})

t.test('an image with another hard link is appended to, not renamed over, so both names see the commit', async t => {
  const image = copyOfBase('linked.iso')
  const other = path.join(dir, 'linked-other-name.iso')
  fs.linkSync(image, other)
  const edit = await IsoImage.open(image)
  // Enough removed that auto would otherwise remaster (more than half the image dead).
  await edit.remove('/a.txt')
  await edit.addFile('/big.bin', pattern(600_000, 4))
  const result = await edit.commit({ maxDeadShare: 0 })
  await edit.close()
  t.equal(result.mode, 'append')
  t.equal(fs.statSync(image).ino, fs.statSync(other).ino, 'still one file')
  t.equal(sha256(bsdtarRead(other, 'big.bin')), sha256(pattern(600_000, 4)), 'the other name holds the change')
})

t.test('a remaster does not carry over what an in-place shrink left in a sector tail', async t => {
  const image = await shrunkInPlace(t, 'tails.iso')
  const tailOf = async (): Promise<Buffer> => {
    const opened = await IsoImage.open(image)
    const data = (await opened.lookup('/a.txt')).inode.data as unknown as { sections: Array<{ lba: number }> }
    const sector = Buffer.alloc(2048)
    const fd = fs.openSync(image, 'r')
    fs.readSync(fd, sector, 0, 2048, data.sections[0].lba * 2048)
    fs.closeSync(fd)
    await opened.close()
    return sector.subarray(100)
  }
  t.notOk((await tailOf()).equals(Buffer.alloc(1948)), 'after the in-place shrink the old bytes are still in the sector')
  const second = await IsoImage.open(image)
  await second.addFile('/other.txt', Buffer.from('other\n'))
  t.equal((await second.commit({ mode: 'remaster' })).mode, 'remaster')
  await second.close()
  t.ok((await tailOf()).equals(Buffer.alloc(1948)), 'after the remaster the tail is zeros')
  t.equal(sha256(bsdtarRead(image, 'a.txt')), sha256(pattern(3000, 7).subarray(0, 100)), 'and bsdtar reads the 100 bytes')
})
