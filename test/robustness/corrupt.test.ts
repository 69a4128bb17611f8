import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoError, IsoImage, type Namespace } from '../../src'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'

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

t.test('random damage: always an IsoError or success, in bounded time and memory', async t => {
  // Deterministic: a failure names its seed and mutation, and reproduces.
  let seed = 20261125
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
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
      outcome = await Promise.race([
        exercise(file),
        new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('took more than 10 s')), 10_000))
      ])
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
