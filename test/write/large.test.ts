import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { run, scratch } from '../helpers/tools'

/*
 * Size and count: a file over 4 GiB written as a multi-extent file (ECMA-119 10.3) that other readers see
 * whole, and 20,000 entries added to one directory.
 */

const dir = scratch(t, 'large')
const isotool = path.join(__dirname, '../../../bin/isotool')

t.test('a 4.5 GiB file becomes a multi-extent file that xorriso, isoinfo and bsdtar read whole', async t => {
  const src = path.join(dir, 'src')
  fs.mkdirSync(src)
  const big = path.join(src, 'big.img')
  const size = 4.5 * 2 ** 30
  // Sparse, with markers at the start, across the 4 GiB extent boundary and at the end.
  const fd = fs.openSync(big, 'w')
  const marks: Array<[number, string]> = [[0, 'START'], [2 ** 32 - 3, 'ACROSS'], [size - 3, 'END']]
  for (const [at, text] of marks) fs.writeSync(fd, text, at)
  fs.closeSync(fd)
  t.equal(fs.statSync(big).size, size, 'the source is 4.5 GiB')
  const iso = path.join(dir, 'big.iso')
  run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-iso-level', '3', '-o', iso, src])
  t.ok(fs.statSync(iso).blocks * 512 < 64 * 2 ** 20, 'zeros are left as holes: the image takes little disk')

  const listing = run('xorriso', ['-indev', iso, '-find', '/big.img', '-exec', 'lsdl']).stdout
  t.match(listing, new RegExp(`\\s${size}\\s.*'/big.img'`), 'xorriso sees one file of 4.5 GiB')
  const sections = run('isoinfo', ['-R', '-l', '-i', iso]).stdout.split('\n').filter(l => l.includes(' big.img'))
  t.equal(sections.length, 2, 'isoinfo lists two directory records (extents) for it')
  t.match(run('bsdtar', ['-tvf', iso]).stdout, new RegExp(`\\s${size}\\s.*big\\.img`), 'bsdtar sees one file of 4.5 GiB')

  const image = await IsoImage.open(iso)
  t.equal((await image.stat('/big.img')).size, size, 'we read it back as one file')
  for (const [at, text] of marks) {
    // xorriso reads just the bytes asked for, so each marker costs a few sectors, not 4.5 GiB.
    const out = path.join(dir, `cut-${at}`)
    run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract_cut', '/big.img', String(at), String(text.length), out])
    t.equal(fs.readFileSync(out, 'latin1'), text, `xorriso reads "${text}" at ${at}`)
    const ours = Buffer.alloc(text.length)
    await (await image.lookup('/big.img')).inode.data.read(ours, 0, ours.length, at)
    t.equal(ours.toString('latin1'), text, `we read "${text}" at ${at}`)
  }
  // One full pass: every byte of what bsdtar extracts equals the source.
  const cmp = run('sh', ['-c', `bsdtar -xOf '${iso}' big.img | cmp - '${big}' && echo same`])
  t.equal(cmp.stdout.trim(), 'same', 'bsdtar extracts a byte-identical 4.5 GiB file')
  await image.close()
})

t.test('20,000 files added to one directory', async t => {
  const image = IsoImage.create({ interchangeLevel: 1, rockRidge: true, joliet: true })
  await image.addDirectory('/many')
  const started = process.hrtime.bigint()
  for (let i = 0; i < 20_000; i++) await image.addFile(`/many/file-number-${i}.txt`, Buffer.from(`${i}\n`))
  const added = Number(process.hrtime.bigint() - started) / 1e9
  const iso = path.join(dir, 'many.iso')
  await image.write(iso)
  const total = Number(process.hrtime.bigint() - started) / 1e9
  // Timing is reported, not asserted (bench/run.ts compares with pycdlib).
  t.comment(`added in ${added.toFixed(2)} s, added and written in ${total.toFixed(2)} s`)
  const rr = run('bsdtar', ['-tf', iso]).stdout.split('\n').filter(l => /^many\/file-number-\d+\.txt$/.test(l))
  t.equal(new Set(rr).size, 20_000, 'bsdtar lists 20,000 distinct Rock Ridge names')
  const iso9660 = run('isoinfo', ['-l', '-i', iso]).stdout.split('\n').filter(l => /\]\s\s\S+\.TXT;1\s*$/.test(l)).map(l => l.trim().split(/\s+/).pop())
  t.equal(new Set(iso9660).size, 20_000, 'isoinfo lists 20,000 distinct generated 8.3 names')
  t.ok(iso9660.every(n => /^[A-Z0-9_]{1,8}\.TXT;1$/.test(n ?? '')), 'all valid at level 1')
})

t.test('large files copied in the kernel (copy_file_range) and through buffers give the same image', async t => {
  const { canCopyRanges } = await import('../../src/iso/io/copy-range')
  t.ok(canCopyRanges, 'the copy_file_range addon is built (scripts/build-copy-range.js)')
  const src = path.join(dir, 'copy-src')
  fs.mkdirSync(src)
  // Random data with a 64 MiB hole in the middle, and a file edited through an opened image later.
  const islands = path.join(src, 'islands.bin')
  const fd = fs.openSync(islands, 'w')
  fs.writeSync(fd, randomBytes(3 * 2 ** 20), 0, 3 * 2 ** 20, 0)
  fs.writeSync(fd, randomBytes(2 ** 20 + 123), 0, 2 ** 20 + 123, 67 * 2 ** 20)
  fs.closeSync(fd)
  fs.writeFileSync(path.join(src, 'dense.bin'), randomBytes(5 * 2 ** 20 + 7))
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' }
  const kernel = path.join(dir, 'kernel.iso')
  const buffers = path.join(dir, 'buffers.iso')
  run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-o', kernel, src], { env })
  run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-o', buffers, src], { env: { ...env, ISOMOUNT_NO_KERNEL_COPY: '1' } })
  t.ok(fs.readFileSync(kernel).equals(fs.readFileSync(buffers)), 'byte-identical images')
  t.ok(fs.statSync(kernel).blocks * 512 < 24 * 2 ** 20, 'the hole stays a hole in the kernel copy')
  for (const name of ['islands.bin', 'dense.bin']) {
    const cmp = run('sh', ['-c', `bsdtar -xOf '${kernel}' ${name} | cmp - '${path.join(src, name)}' && echo same`])
    t.equal(cmp.stdout.trim(), 'same', `bsdtar extracts ${name} as it was`)
  }
  // A remaster copies the image's own extents in the kernel too.
  const edited = path.join(dir, 'edited.iso')
  const image = await IsoImage.open(kernel)
  await image.addFile('/added.txt', Buffer.from('added\n'))
  await image.write(edited)
  await image.close()
  const cmp = run('sh', ['-c', `bsdtar -xOf '${edited}' islands.bin | cmp - '${islands}' && echo same`])
  t.equal(cmp.stdout.trim(), 'same', 'a remastered copy of it holds the same data')
})
