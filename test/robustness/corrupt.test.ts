import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoError, IsoImage, type Namespace } from '../../src'
import { sealDescriptor } from '../../src/iso/codec/udf/tag'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { mkudffs, patchDescriptor } from '../helpers/udf'

/*
 * Damaged and hostile images: every failure is an IsoError with a stable code (never a TypeError or
 * RangeError, a hang, or an allocation from an unchecked size), relaxed mode warns where strict mode
 * refuses, and nothing is ever written outside an extraction's destination.
 */

const SECTOR = 2048
const dir = scratch(t, 'corrupt')
const src = path.join(dir, 'src')
const deep: Record<string, unknown> = { 'bottom.txt': 'bottom\n' }
let level: Record<string, unknown> = deep
for (let i = 9; i >= 1; i--) level = { [`d${i}`]: level }
writeTree(src, {
  'hello.txt': 'hello\n',
  'data.bin': Buffer.alloc(10000, 7),
  sub: { 'inner.txt': 'inner\n', again: { 'x.txt': 'x\n' } },
  ['long-name-'.repeat(20) + '.txt']: 'long\n',
  link: { symlink: 'hello.txt' },
  'boot.img': Buffer.alloc(2048, 0xb0),
  deep: level as never
})
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J', '-b', 'boot.img', '-no-emul-boot', '-c', 'boot.cat'], src)
const baseBytes = fs.readFileSync(base)

/** Opens, walks every namespace and reads every file; resolves with the warnings, or the IsoError thrown. */
async function exercise (file: string, strict = false): Promise<{ warnings: readonly string[] } | { error: IsoError }> {
  let image: IsoImage | undefined
  try {
    image = await IsoImage.open(file, { strict })
    for (const ns of image.namespaces) {
      for await (const { path: p, node } of image.walk('/', ns as Namespace)) {
        if (node.inode.kind === 'file') await image.readFile(p, ns as Namespace)
      }
    }
    await image.bootConfiguration()
    return { warnings: image.warnings }
  } catch (err) {
    if (err instanceof IsoError) return { error: err }
    throw err
  } finally {
    await image?.close()
  }
}

/** A copy of the base image with `patch` applied to its bytes. */
function variant (name: string, patch: (bytes: Buffer) => Buffer | undefined): string {
  const bytes = Buffer.from(baseBytes)
  const out = patch(bytes) ?? bytes
  const file = path.join(dir, `${name}.iso`)
  fs.writeFileSync(file, out)
  return file
}

async function recordOf (image: string, imagePath: string): Promise<{ at: number, length: number }> {
  const opened = await IsoImage.open(image)
  try {
    const location = (await opened.lookup(imagePath)).origin?.iso
    if (location === undefined) throw new Error(`no record for ${imagePath}`)
    return { at: location.lba * SECTOR + location.offset, length: location.length }
  } finally {
    await opened.close()
  }
}

t.test('the base image is clean', async t => {
  t.same(await exercise(base), { warnings: [] })
})

t.test('not ISO9660 at all', async t => {
  const file = variant('no-cd001', b => { b.fill(0, 16 * SECTOR, 17 * SECTOR); return undefined })
  t.match(await exercise(file), { error: { code: 'IMAGE_NOT_ISO9660' } })
  const tiny = path.join(dir, 'tiny.iso')
  fs.writeFileSync(tiny, 'not an image')
  t.match(await exercise(tiny), { error: { code: 'IMAGE_NOT_ISO9660' } })
})

t.test('a logical block size other than 2048', async t => {
  const file = variant('block-size', b => { b.writeUInt16LE(1024, 16 * SECTOR + 128); b.writeUInt16BE(1024, 16 * SECTOR + 130); return undefined })
  t.match(await exercise(file), { error: { code: 'IMAGE_BLOCK_SIZE', message: /block size 1024/ } })
})

t.test('truncated images', async t => {
  for (const size of [16 * SECTOR + 100, 18 * SECTOR, 24 * SECTOR, baseBytes.length - 150 * SECTOR - 4000]) {
    const file = variant(`truncated-${size}`, b => b.subarray(0, size))
    const outcome = await exercise(file)
    t.ok('error' in outcome ? ['IMAGE_TRUNCATED', 'IMAGE_NOT_ISO9660', 'IMAGE_BAD_DESCRIPTOR'].includes(outcome.error.code) : outcome.warnings.length > 0,
      `cut at ${size}: a truncation error or a warning (${'error' in outcome ? outcome.error.code : outcome.warnings[0]})`)
  }
})

t.test('a directory size that would need gigabytes', async t => {
  const { at } = await recordOf(base, '/sub')
  const file = variant('huge-directory', b => { b.writeUInt32LE(0x7ffff800, at + 10); b.writeUInt32BE(0x7ffff800, at + 14); return undefined })
  const before = process.memoryUsage().rss
  const outcome = await exercise(file)
  t.match(outcome, { error: { code: 'IMAGE_BAD_DIRECTORY' } }, 'refused, naming the directory')
  t.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, 'without allocating it')
})

t.test('a record whose identifier overruns the record', async t => {
  const { at } = await recordOf(base, '/hello.txt')
  const file = variant('record-overrun', b => { b[at + 32] = 200; return undefined })
  const relaxed = await exercise(file)
  t.ok('warnings' in relaxed && relaxed.warnings.some(w => /record length|does not fit|identifier length/.test(w)), 'relaxed: a warning naming the record')
  t.match(await exercise(file, true), { error: { code: 'IMAGE_STRICT' } }, 'strict: refused')
})

t.test('a both-endian mismatch', async t => {
  const { at } = await recordOf(base, '/hello.txt')
  const file = variant('both-endian', b => { b.writeUInt32BE(999, at + 14); return undefined })
  const relaxed = await exercise(file)
  t.ok('warnings' in relaxed && relaxed.warnings.some(w => /both-endian mismatch/.test(w)), 'relaxed: read with a warning')
  t.match(await exercise(file, true), { error: { code: 'IMAGE_STRICT', message: /data length/ } }, 'strict: refused, naming the field')
})

t.test('a directory that contains its ancestor (a loop) ends', async t => {
  const { at } = await recordOf(base, '/sub/again')
  const root = baseBytes.readUInt32LE(16 * SECTOR + 156 + 2)
  const file = variant('loop', b => { b.writeUInt32LE(root, at + 2); b.writeUInt32BE(root, at + 6); return undefined })
  const outcome = await exercise(file)
  t.ok('warnings' in outcome && outcome.warnings.some(w => /more than once/.test(w)), 'walks to the end and warns')
})

t.test('a CE continuation chain that points at itself ends', async t => {
  const longName = 'long-name-'.repeat(20) + '.txt'
  const opened = await IsoImage.open(base)
  const location = (await opened.lookup('/' + longName)).origin?.iso
  await opened.close()
  if (location === undefined) throw new Error('no record')
  const record = baseBytes.subarray(location.lba * SECTOR + location.offset, location.lba * SECTOR + location.offset + location.length)
  const ce = record.indexOf(Buffer.from('CE'))
  t.ok(ce > 0, 'the long name record has a CE entry')
  const ceBlock = record.readUInt32LE(ce + 4)
  const ceOffset = record.readUInt32LE(ce + 12)
  // Put a CE at the start of the continuation area pointing back at the area itself.
  const file = variant('ce-loop', b => {
    const area = ceBlock * SECTOR + ceOffset
    b.write('CE', area, 'latin1')
    b[area + 2] = 28
    b[area + 3] = 1
    b.writeUInt32LE(ceBlock, area + 4); b.writeUInt32BE(ceBlock, area + 8)
    b.writeUInt32LE(ceOffset, area + 12); b.writeUInt32BE(ceOffset, area + 16)
    b.writeUInt32LE(28, area + 20); b.writeUInt32BE(28, area + 24)
    return undefined
  })
  const outcome = await exercise(file)
  t.ok('warnings' in outcome && outcome.warnings.some(w => /loops or is too long/.test(w)), 'stops with a warning')
})

t.test('a broken El Torito catalog', async t => {
  const catalog = baseBytes.readUInt32LE(17 * SECTOR + 71)
  const file = variant('catalog-checksum', b => { b[catalog * SECTOR + 4] ^= 0xff; return undefined })
  const relaxed = await exercise(file)
  t.ok('warnings' in relaxed && relaxed.warnings.some(w => /checksum/.test(w)), 'bad checksum: a warning')
  // Linux never reads the catalog and mounts such an image; the tree reads here too, without El Torito.
  const noKey = variant('catalog-key', b => { b[catalog * SECTOR + 30] = 0; return undefined })
  const outcome = await exercise(noKey)
  t.ok('warnings' in outcome && outcome.warnings.some(w => /^El Torito boot catalog at LBA \d+ offset 0: validation entry header or key 55 AA missing; El Torito ignored$/.test(w)),
    'missing 55 AA: a warning naming the catalog')
  const image = await IsoImage.open(noKey)
  t.equal(image.elTorito, undefined, 'missing 55 AA: no El Torito')
  t.equal((await image.readFile('/hello.txt')).toString(), 'hello\n', 'missing 55 AA: the tree reads')
  await t.rejects(image.requireUnderstood(), { code: 'IMAGE_STRICT' }, 'missing 55 AA: never written back')
  await image.close()
  t.match(await exercise(noKey, true), { error: { code: 'IMAGE_STRICT', message: /55 AA/ } }, 'missing 55 AA: strict mode refuses')
  // A section header that is not one ends the catalog there: the default entry is kept.
  const badSection = variant('catalog-section', b => { b[catalog * SECTOR + 64] = 0x90; b[catalog * SECTOR + 66] = 1; b[catalog * SECTOR + 96] = 0x88; b[catalog * SECTOR + 97] = 0x20; b[catalog * SECTOR + 128] = 0x33; return undefined })
  const partial = await IsoImage.open(badSection)
  t.equal(partial.elTorito?.images.length, 2, 'a bad extension entry: the entries before it are kept')
  t.ok(partial.warnings.some(w => /extension entry expected.*read up to there/.test(w)), 'a bad extension entry: a warning')
  await partial.close()
})

t.test('a GPT whose partition entries lie past the end of the image', async t => {
  const gsrc = path.join(dir, 'gpt-src')
  writeTree(gsrc, { 'isolinux.bin': fs.readFileSync('/usr/lib/ISOLINUX/isolinux.bin'), 'efi.img': Buffer.alloc(1440 * 1024, 0xef), 'readme.txt': 'readme\n' })
  const iso = path.join(dir, 'gpt.iso')
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-b', 'isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-isohybrid-mbr', '/usr/lib/ISOLINUX/isohdpfx.bin', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat', '-o', iso, gsrc])
  const bytes = fs.readFileSync(iso)
  t.equal(bytes.toString('latin1', 512, 520), 'EFI PART', 'xorriso wrote a GPT')
  bytes.writeBigUInt64LE(1_000_000_000n, 512 + 72)
  const file = path.join(dir, 'gpt-bad.iso')
  fs.writeFileSync(file, bytes)
  const image = await IsoImage.open(file)
  t.teardown(() => image.close())
  t.equal((await image.readFile('/readme.txt')).toString(), 'readme\n', 'the tree reads')
  t.equal(image.elTorito?.images.length, 2, 'El Torito reads')
  t.same(image.systemArea.gpt?.partitions, [], 'the GPT header is known, its partitions are not')
  t.ok(image.warnings.some(w => /^GPT header, field partition entries LBA: \d+ entries at 512-byte LBA 1000000000 lie beyond the end of the image; partitions not read$/.test(w)), 'a warning names the field')
  t.match(await exercise(file, true), { error: { code: 'IMAGE_STRICT' } }, 'strict mode refuses')
})

/** A deterministic random sequence in [0, 1]: a failure names its seed and mutation, and reproduces. */
function seeded (start: number): () => number {
  let seed = start
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
}

/** exercise(), failing after 10 s: a damaged image must never make reading hang. */
async function exerciseBounded (file: string): ReturnType<typeof exercise> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      exercise(file),
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('took more than 10 s')), 10_000) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

t.test('random damage: always an IsoError or success, in bounded time and memory', async t => {
  const random = seeded(20261125)
  const metadataEnd = 64 * SECTOR
  let errors = 0
  for (let i = 0; i < 250; i++) {
    const bytes = Buffer.from(baseBytes)
    const flips = 1 + Math.floor(random() * 8)
    const mutations: string[] = []
    for (let f = 0; f < flips; f++) {
      const at = 16 * SECTOR + Math.floor(random() * (metadataEnd - 16 * SECTOR))
      const value = Math.floor(random() * 256)
      bytes[at] = value
      mutations.push(`${at}=${value}`)
    }
    const cut = random() < 0.1 ? Math.floor(random() * bytes.length) : bytes.length
    const file = path.join(dir, 'fuzz.iso')
    fs.writeFileSync(file, bytes.subarray(0, cut))
    const started = Date.now()
    let outcome: Awaited<ReturnType<typeof exercise>>
    try {
      outcome = await exerciseBounded(file)
    } catch (err) {
      t.fail(`mutation ${i} (${mutations.join(',')}, cut ${cut}): ${(err as Error).stack ?? String(err)}`)
      continue
    }
    if ('error' in outcome) errors++
    if (Date.now() - started > 10_000) t.fail(`mutation ${i} was slow`)
  }
  t.comment(`${errors} of 250 damaged images refused with an IsoError, the rest read with or without warnings`)
  t.ok(process.memoryUsage().rss < 1024 * 1024 * 1024, 'memory stayed bounded')
})

// --- UDF -------------------------------------------------------------------------------------------

const udfSrc = path.join(dir, 'udf-src')
writeTree(udfSrc, { 'hello.txt': 'hello\n', 'data.bin': Buffer.alloc(10000, 0xda), sub: { 'inner.txt': 'inner\n', deeper: { 'd.txt': 'd\n' } } })
const udfBase = genisoimage(path.join(dir, 'udf-base.iso'), ['-udf', '-R'], udfSrc)
const udfOnlyBase = mkudffs(path.join(dir, 'udf-only.img'), 'hd', '2.01', 4096, ['--blocksize=2048'])

/** A copy of a UDF image with its descriptor at `position` (`length` bytes) patched; resealed unless `seal` is false. */
function udfVariant (base: string, name: string, position: number, length: number, patch: (bytes: Buffer) => void, seal = true): string {
  const file = path.join(dir, `${name}.img`)
  fs.copyFileSync(base, file)
  patchDescriptor(file, position, length, patch, seal)
  return file
}

/** Where a node of the UDF tree was read (file entry and identifier descriptor), by its udf path. */
async function udfOrigin (image: string, udfPath: string): Promise<{ entry: number, block: number, fid: number, fidLength: number, data?: number }> {
  const opened = await IsoImage.open(image)
  try {
    const node = await opened.lookup(udfPath, 'udf')
    const origin = node.origin?.udf
    if (origin?.fid === undefined) throw new Error(`no UDF record for ${udfPath}`)
    const data = node.inode.data as { sections?: Array<{ lba: number }> }
    return { entry: origin.entry.position, block: origin.entry.block, fid: origin.fid.lba * SECTOR + origin.fid.offset, fidLength: origin.fid.length, data: data.sections?.[0]?.lba }
  } finally {
    await opened.close()
  }
}

/** Image positions of the descriptors with tag `id` in both volume descriptor sequences (2048-byte blocks). */
function descriptorsOf (image: string, id: number): number[] {
  const bytes = fs.readFileSync(image)
  const found: number[] = []
  for (const extentAt of [16, 24]) {
    const start = bytes.readUInt32LE(256 * SECTOR + extentAt + 4)
    for (let lba = start; lba < start + 16; lba++) if (bytes.readUInt16LE(lba * SECTOR) === id) found.push(lba * SECTOR)
  }
  return found
}

/** A short_ad (ECMA-167 4/14.14.1) of extent type `type`. */
function shortAd (bytes: Buffer, offset: number, type: number, length: number, block: number): void {
  bytes.writeUInt32LE(type * 0x40000000 + length, offset)
  bytes.writeUInt32LE(block, offset + 4)
}

t.test('UDF: the clean images read without a warning', async t => {
  t.same(await exercise(udfBase), { warnings: [] })
  t.same(await exercise(udfOnlyBase), { warnings: [] })
})

t.test('UDF: a file entry with a bad tag checksum costs that entry', async t => {
  const { entry } = await udfOrigin(udfBase, '/hello.txt')
  const file = udfVariant(udfBase, 'udf-fe-checksum', entry, 16, b => { b[4] ^= 0xff }, false)
  const relaxed = await exercise(file)
  t.ok('warnings' in relaxed && relaxed.warnings.some(w => /^file entry at LBA \d+, field tag checksum: .*entry ignored$/.test(w)), 'relaxed: a warning naming the entry and the field')
  const image = await IsoImage.open(file)
  t.teardown(() => image.close())
  await t.rejects(image.lookup('/hello.txt', 'udf'), { code: 'NOT_FOUND' }, 'the entry is not in the UDF view')
  t.equal((await image.readFile('/hello.txt', 'rockridge')).toString(), 'hello\n', 'the other trees still read it')
  t.match(await exercise(file, true), { error: { code: 'IMAGE_STRICT', message: /tag checksum/ } }, 'strict: refused')
})

t.test('UDF: a file identifier whose CRC is wrong', async t => {
  const { fid, fidLength } = await udfOrigin(udfBase, '/hello.txt')
  const file = udfVariant(udfBase, 'udf-fid-crc', fid, fidLength, b => { b[fidLength - 2] ^= 0x20 }, false)
  const relaxed = await exercise(file)
  t.ok('warnings' in relaxed && relaxed.warnings.some(w => /^file identifier descriptor at LBA \d+ offset \d+, field descriptor CRC: CRC is 0x/.test(w)), 'relaxed: read, with a warning')
  t.match(await exercise(file, true), { error: { code: 'IMAGE_STRICT', message: /descriptor CRC/ } }, 'strict: refused')
})

t.test('UDF: loops through allocation extents, indirect entries and directories end', async t => {
  const { entry, block, data } = await udfOrigin(udfBase, '/data.bin')
  const dataPosition = (data as number) * SECTOR
  const dataBlock = (data as number) - 257
  // The file's data block becomes an allocation extent descriptor that continues at itself.
  const aed = udfVariant(udfBase, 'udf-aed-loop', dataPosition, 32, b => {
    b.fill(0)
    b.writeUInt16LE(258, 0)
    b.writeUInt16LE(2, 2)
    b.writeUInt16LE(16, 10)
    b.writeUInt32LE(dataBlock, 12)
    b.writeUInt32LE(8, 20)
    shortAd(b, 24, 3, 2048, dataBlock)
  })
  patchDescriptor(aed, entry, 2048, b => { shortAd(b, 176 + b.readUInt32LE(168), 3, 2048, dataBlock) })
  const outcome = await exercise(aed)
  t.ok('warnings' in outcome && outcome.warnings.some(w => /allocation extents lead back to block \d+; entry ignored/.test(w)), 'a continuation loop: a warning')

  // An indirect entry (4/14.7) that points at itself.
  const ie = udfVariant(udfBase, 'udf-ie-loop', entry, 52, b => {
    b.fill(0)
    b.writeUInt16LE(259, 0)
    b.writeUInt16LE(2, 2)
    b.writeUInt16LE(36, 10)
    b.writeUInt32LE(block, 12)
    b.writeUInt16LE(4, 20)
    b[16 + 11] = 3
    b.writeUInt32LE(2048, 36)
    b.writeUInt32LE(block, 40)
  })
  const ieOutcome = await exercise(ie)
  t.ok('warnings' in ieOutcome && ieOutcome.warnings.some(w => /indirect entries lead back to block \d+; entry ignored/.test(w)), 'an indirect entry loop: a warning')

  // A subdirectory whose identifier names the root's ICB.
  const { fid, fidLength } = await udfOrigin(udfBase, '/sub/deeper')
  const rootBlock = await (async () => { const i = await IsoImage.open(udfBase); const b = i.origin?.udf?.root.block; await i.close(); return b as number })()
  const dirLoop = udfVariant(udfBase, 'udf-dir-loop', fid, fidLength, b => { b.writeUInt32LE(rootBlock, 24) })
  const loopOutcome = await exercise(dirLoop)
  t.ok('warnings' in loopOutcome && loopOutcome.warnings.some(w => /named more than once/.test(w)), 'a directory loop: walked to the end with a warning')
})

t.test('UDF: extents outside the partition or the image', async t => {
  const { entry } = await udfOrigin(udfBase, '/data.bin')
  const outside = udfVariant(udfBase, 'udf-extent-outside', entry, 2048, b => { shortAd(b, 176 + b.readUInt32LE(168), 0, 10000, 0x7fffff00) })
  const outcome = await exercise(outside)
  t.ok('warnings' in outcome && outcome.warnings.some(w => /^file entry at LBA \d+, field extent location: extent at block 2147483392 \(10000 bytes\) lies beyond partition 0 .*entry ignored$/.test(w)),
    'a warning naming the entry and the descriptor')
  const image = await IsoImage.open(outside)
  t.teardown(() => image.close())
  t.equal((await image.readFile('/data.bin')).length, 10000, 'the Rock Ridge view reads the file from its own record')
})

t.test('UDF: lengths that would need gigabytes are refused without allocating them', async t => {
  const before = process.memoryUsage().rss
  const { entry } = await udfOrigin(udfBase, '/data.bin')
  const longFile = udfVariant(udfBase, 'udf-info-length', entry, 2048, b => { b.writeUInt32LE(0x10000, 60) })
  const long = await exercise(longFile)
  t.ok('warnings' in long && long.warnings.some(w => /allocation descriptors cover 10000 of the 281474976720656 bytes the entry says; cut to what they cover/.test(w)), 'an information length beyond the extents: cut, with a warning')
  const adLength = udfVariant(udfBase, 'udf-ad-length', entry, 2048, b => { b.writeUInt32LE(0xfffffff0, 172) })
  const ad = await exercise(adLength)
  t.ok('warnings' in ad && ad.warnings.some(w => /field length of allocation descriptors: allocation descriptors of 4294967280 bytes overrun/.test(w)), 'a length of allocation descriptors beyond the block: refused')
  const { entry: subEntry } = await udfOrigin(udfBase, '/sub')
  const hugeDir = udfVariant(udfBase, 'udf-dir-size', subEntry, 2048, b => { b.writeUInt32LE(0x100, 60) })
  const dirOutcome = await exercise(hugeDir)
  t.ok('warnings' in dirOutcome && dirOutcome.warnings.some(w => /directory .*exceeds the 268435456-byte limit/.test(w)), 'a directory of a terabyte: refused, naming it')
  const { fid, fidLength } = await udfOrigin(udfBase, '/hello.txt')
  const fidUse = udfVariant(udfBase, 'udf-fid-use', fid, fidLength, b => { b.writeUInt16LE(0xffff, 36) })
  const fidOutcome = await exercise(fidUse)
  t.ok('warnings' in fidOutcome && fidOutcome.warnings.some(w => /field length of implementation use: .*overrun the directory .*rest of the directory is skipped/.test(w)), 'an identifier overrunning its directory: the rest skipped')
  // Both sequences' logical volume descriptors claim 2^32 − 1 partition maps in a table as long.
  const lvd = path.join(dir, 'udf-lvd-maps.img')
  fs.copyFileSync(udfOnlyBase, lvd)
  for (const at of descriptorsOf(udfOnlyBase, 6)) patchDescriptor(lvd, at, 512, b => { b.writeUInt32LE(0xffffffff, 264); b.writeUInt32LE(0xffffffff, 268) })
  t.match(await exercise(lvd), { error: { code: 'IMAGE_BAD_DESCRIPTOR', message: /^invalid image: logical volume descriptor at LBA \d+, field partition map length: partition map 1 has length 0, \d+ bytes left$/ } },
    'a partition map table beyond its descriptor: refused, naming the sequence and the map')
  t.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, 'memory stayed bounded')
})

t.test('UDF: anchors and descriptor sequences', async t => {
  const blocks = fs.statSync(udfOnlyBase).size / SECTOR
  const first = udfVariant(udfOnlyBase, 'udf-anchor-256', 256 * SECTOR, 512, b => b.fill(0), false)
  t.same(await exercise(first), { warnings: [] }, 'the anchor at 256 gone: the one at the end is read')
  const none = udfVariant(udfOnlyBase, 'udf-anchors', 256 * SECTOR, 512, b => b.fill(0), false)
  for (const at of [blocks - 1, blocks - 257]) patchDescriptor(none, at * SECTOR, 512, b => b.fill(0), false)
  t.match(await exercise(none), { error: { code: 'IMAGE_BAD_DESCRIPTOR', message: /no anchor volume descriptor pointer/ } }, 'every anchor gone: refused')
  const main = udfVariant(udfOnlyBase, 'udf-main-vds', descriptorsOf(udfOnlyBase, 1)[0], 512, b => { b[4] ^= 1 }, false)
  const fallback = await exercise(main)
  t.ok('warnings' in fallback && fallback.warnings.some(w => /the reserve sequence is read instead/.test(w)), 'a damaged main sequence: the reserve one, with a warning')
  const bridged = udfVariant(udfBase, 'udf-bridge-anchor', 256 * SECTOR, 512, b => b.fill(0), false)
  const size = fs.statSync(bridged).size / SECTOR
  for (const at of [size - 1, size - 151, size - 257, size - 407]) patchDescriptor(bridged, at * SECTOR, 16, b => b.fill(0), false)
  const bridgedOutcome = await exercise(bridged)
  t.ok('warnings' in bridgedOutcome && bridgedOutcome.warnings.some(w => /no anchor volume descriptor pointer.*the UDF file system is ignored/.test(w)), 'a bridge image without anchors: read through ISO9660, with a warning')
  t.match(await exercise(bridged, true), { error: { code: 'IMAGE_STRICT' } }, 'strict: refused')
})

t.test('UDF: random damage to its structures, always an IsoError or success, in bounded time', async t => {
  const random = seeded(20261202)
  // The sectors that hold UDF structures: the recognition sequence, both descriptor sequences, the
  // integrity descriptor, the anchor and the partition's first blocks (file set descriptor, directories,
  // file entries). The bridge image can fall back on its ISO9660 trees; the mkudffs one cannot.
  const structureSectors = (image: string): number[] => {
    const bytes = fs.readFileSync(image)
    const list = [16, 17, 18, 19, 20, 21, 256]
    for (const extentAt of [16, 24]) {
      const start = bytes.readUInt32LE(256 * SECTOR + extentAt + 4)
      for (let lba = start; lba < start + 8; lba++) list.push(lba)
    }
    for (let lba = 257; lba < 275; lba++) list.push(lba)
    return list
  }
  const bases = [udfBase, udfOnlyBase].map(file => ({ bytes: fs.readFileSync(file), sectors: structureSectors(file) }))
  bases[1].sectors.push(128)
  let errors = 0
  for (let i = 0; i < 150; i++) {
    const { bytes: bytes0, sectors } = bases[i % 2]
    const bytes = Buffer.from(bytes0)
    const mutations: string[] = []
    for (let f = 1 + Math.floor(random() * 6); f > 0; f--) {
      const sector = sectors[Math.floor(random() * sectors.length)]
      const at = sector * SECTOR + Math.floor(random() * (random() < 0.7 ? 512 : SECTOR))
      bytes[at] = Math.floor(random() * 256)
      mutations.push(`${at}=${bytes[at]}`)
      // Half the time, keep the damaged descriptor's tag valid so that the parse goes past it.
      if (random() < 0.5) {
        const block = sector * SECTOR
        if (bytes.readUInt16LE(block + 10) + 16 <= SECTOR) sealDescriptor(bytes.subarray(block, block + SECTOR), 0, bytes.readUInt16LE(block + 10))
      }
    }
    const file = path.join(dir, 'udf-fuzz.iso')
    fs.writeFileSync(file, bytes)
    try {
      const outcome = await exerciseBounded(file)
      if ('error' in outcome) errors++
    } catch (err) {
      t.fail(`mutation ${i} (${mutations.join(',')}): ${(err as Error).stack ?? String(err)}`)
    }
  }
  t.comment(`${errors} of 150 damaged UDF images refused with an IsoError, the rest read with or without warnings`)
  t.pass('no crash, no hang')
})

t.test('isotool reports a damaged image in one line and exits 1', async t => {
  const file = variant('for-cli', b => { b.writeUInt16LE(512, 16 * SECTOR + 128); b.writeUInt16BE(512, 16 * SECTOR + 130); return undefined })
  const result = run('node', [path.join(__dirname, '../../../bin/isotool'), 'ls', file], { allowFailure: true })
  t.equal(result.status, 1)
  t.match(result.stderr, /^isotool: invalid image: .*block size 512/)
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line, no stack trace')
})

t.test('extraction never writes outside its destination', async t => {
  // Rock Ridge names patched into "..", "a/b" and a symlink pointing outside: names a hostile image can carry.
  const hsrc = path.join(dir, 'hostile-src')
  writeTree(hsrc, { xx: 'dots\n', 'yyy': 'slash\n', 'zz': { symlink: '/tmp/isomount-outside-target' }, dirz: { 'file.txt': 'in\n' } })
  const hostile = genisoimage(path.join(dir, 'hostile.iso'), ['-R'], hsrc)
  const bytes = fs.readFileSync(hostile)
  const patchName = async (from: string, to: string): Promise<void> => {
    const { at, length } = await recordOf(hostile, `/${from}`)
    const record = bytes.subarray(at, at + length)
    const nm = record.indexOf(Buffer.from(`NM${String.fromCharCode(5 + from.length)}\u0001\u0000${from}`, 'latin1'))
    if (nm < 0) throw new Error(`no NM entry for ${from}`)
    record.write(to, nm + 5, 'latin1')
  }
  await patchName('xx', '..')
  await patchName('yyy', 'a/b')
  fs.writeFileSync(hostile, bytes)
  const sandbox = path.join(dir, 'sandbox')
  const dest = path.join(sandbox, 'dest')
  const outside = path.join(sandbox, 'outside')
  fs.mkdirSync(outside, { recursive: true })
  const image = await IsoImage.open(hostile)
  t.teardown(() => image.close())
  const { extractTree } = await import('../../src/iso/extract')
  await extractTree(image, '/', dest)
  await extractTree(image, '/', dest)
  t.same(fs.readdirSync(sandbox).sort(), ['dest', 'outside'], 'nothing new beside the destination')
  t.same(fs.readdirSync(outside), [], 'the outside directory is untouched')
  t.notOk(fs.existsSync('/tmp/isomount-outside-target'), 'the symlink\'s target was not created')
  t.ok(fs.existsSync(path.join(dest, '__')) || fs.readdirSync(dest).some(n => /^_+$/.test(n)), 'the ".." name was renamed, not followed')
  t.notOk(fs.existsSync(path.join(sandbox, 'a')) || fs.existsSync(path.join(dest, 'a')), 'the "a/b" name did not create a directory a')
})
