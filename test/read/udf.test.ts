import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src'
import { revisionText } from '../../src/iso/codec/udf/entity-id'
import type { ImageExtentsSource } from '../../src/iso/model/data-source'
import { statOf } from '../../src/iso/model/stat'
import { parseMountOptions } from '../../src/vfs/mount-options'
import { ISOTOOL, mountImage } from '../helpers/mount'
import { pycdlibListing } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { mkudffs, ourUdfListing, patchDescriptor, pycdlibImage, sevenZipUdfExtract, sevenZipUdfListing, udfinfo, withoutHashes, type Entry } from '../helpers/udf'

/*
 * The udf namespace on images written by genisoimage -udf (UDF 1.02, with and without Rock Ridge and
 * Joliet), pycdlib (UDF 2.60) and mkudffs (every media type it formats: hard disk with 512-byte blocks,
 * DVD-RW, CD-RW with a sparable partition, CD-R and BD-R with a virtual allocation table), each checked
 * against 7-Zip's UDF reader, pycdlib's and udfinfo; the default namespace; stat from UDF file entries;
 * isotool and a read-only mount through namespace=udf.
 */

const dir = scratch(t, 'udf-read')
const src = path.join(dir, 'src')
const sevenDays = new Date(Date.UTC(2021, 5, 7, 8, 9, 10))
writeTree(src, {
  'hello.txt': 'hello\n',
  'empty.txt': '',
  'mode640.txt': { file: 'private\n', mode: 0o640, mtime: sevenDays },
  'ünïcødé-名前.txt': 'unicode\n',
  sub: { 'big.bin': Buffer.alloc(3 * 1024 * 1024 + 17, 0xab), deeper: { 'inner.txt': 'inner\n' }, 'empty-dir': {} },
  'hard.txt': { hardlink: 'hello.txt' }
})
const plain = genisoimage(path.join(dir, 'plain.iso'), ['-udf'], src)
const bridged = genisoimage(path.join(dir, 'bridged.iso'), ['-udf', '-R', '-J'], src)

/** What 7-Zip lists, and our listing of the udf namespace without the content hashes 7-Zip does not give. */
async function compareWith7z (t: Test, image: IsoImage, file: string): Promise<Record<string, Entry>> {
  const ours = await ourUdfListing(image)
  t.same(withoutHashes(ours), sevenZipUdfListing(file), '7-Zip lists the same names, types and sizes')
  return ours
}

t.test('genisoimage -udf without Rock Ridge or Joliet: the UDF tree is the default and matches 7-Zip and pycdlib', async t => {
  const image = await IsoImage.open(plain)
  t.teardown(() => image.close())
  t.same(image.namespaces, ['udf', 'iso9660'])
  t.equal(image.defaultNamespace, 'udf', 'UDF before plain ISO9660')
  t.same(image.warnings, [])
  const ours = await compareWith7z(t, image, plain)
  const py = pycdlibListing(plain, 'udf')
  t.same(ours, py, 'pycdlib reads the same names, sizes and content')
  const extracted = sevenZipUdfExtract(plain, path.join(dir, '7z-plain'))
  t.same(fs.readFileSync(path.join(extracted, 'sub/big.bin')), await image.readFile('/sub/big.bin'), '7-Zip extracts the same bytes')
  t.ok(ours['sub/empty-dir'] !== undefined, 'a directory whose ISO9660 name is mangled (EMPTY_DI) is in the UDF view by its UDF name')

  // stat comes from the file entries: genisoimage records read (and execute for directories) for all.
  const file = await image.stat('/hello.txt')
  t.equal(file.mode & 0o7777, 0o444)
  t.equal(file.kind, 'file')
  t.equal((await image.stat('/sub')).mode & 0o7777, 0o555)
  const info = udfinfo(plain)
  const counted = Object.values(ours)
  t.equal(counted.filter(e => e.type === 'file').length, Number(info.numfiles), `udfinfo counts ${info.numfiles} files`)
  t.equal(counted.filter(e => e.type === 'dir').length + 1, Number(info.numdirs), `and ${info.numdirs} directories with the root`)
  t.equal(revisionText(image.origin?.udf?.revision ?? 0), info.udfrev, `revision ${info.udfrev}`)
  t.equal(image.origin?.udf?.logicalVolumeId, info.lvid)
  t.equal(image.origin?.udf?.integrityUse?.files, Number(info.numfiles), 'the integrity descriptor says the same')
})

t.test('genisoimage -udf -R -J: one tree, UDF names on the same nodes, Rock Ridge attributes win', async t => {
  const image = await IsoImage.open(bridged)
  t.teardown(() => image.close())
  t.same(image.namespaces, ['rockridge', 'udf', 'joliet', 'iso9660'])
  t.equal(image.defaultNamespace, 'rockridge')
  t.same(image.warnings, [])
  await compareWith7z(t, image, bridged)
  const viaUdf = await image.lookup('/sub/big.bin', 'udf')
  t.equal(viaUdf, await image.lookup('/sub/big.bin', 'rockridge'), 'the same node through both namespaces')
  t.equal(viaUdf, await image.lookup('/sub/big.bin', 'joliet'), 'and through Joliet')
  t.same(viaUdf.names, { iso: 'BIG.BIN;1', rr: 'big.bin', joliet: 'big.bin', udf: 'big.bin' })
  const origin = viaUdf.origin?.udf
  t.ok(origin?.fid !== undefined && origin.entry.position > 0, 'where its identifier and entry were read is recorded')
  const mode640 = await image.stat('/mode640.txt', 'udf')
  t.equal(mode640.mode & 0o7777, 0o640, 'Rock Ridge mode, not the UDF entry\'s read-only one')
  t.equal(mode640.mtimeMs, sevenDays.getTime())
  t.equal((await image.stat('/hard.txt', 'udf')).ino, (await image.stat('/hello.txt', 'udf')).ino, 'hard links share an inode')
  t.equal((await image.readFile('/ünïcødé-名前.txt', 'udf')).toString(), 'unicode\n', 'a 16-bit CS0 name')

  const noUdf = await IsoImage.open(bridged, { udf: false })
  t.teardown(() => noUdf.close())
  t.same(noUdf.namespaces, ['rockridge', 'joliet', 'iso9660'], 'udf: false leaves the UDF tree out')
  t.throws(() => noUdf.view('udf'), /no udf namespace/)
})

t.test('a directory of more entries than are read ahead at once: each file keeps its own entry\'s times and data', async t => {
  // Entries are read ahead 64 blocks at a time into one buffer, reused for the next 64, and each file is
  // paired as it is read: a file given another's entry, or attributes read once the buffer moved on,
  // shows another file's time or content here. Without Rock Ridge the UDF entries' times are the ones seen.
  const manySrc = path.join(dir, 'many-src')
  const base = Date.UTC(2020, 0, 1)
  const files: Record<string, { file: string, mtime: Date } | { hardlink: string }> = {}
  for (let i = 0; i < 150; i++) files[`file-${String(i).padStart(3, '0')}.txt`] = { file: `content of ${i}\n`, mtime: new Date(base + i * 3_600_000) }
  files['link-to-005.txt'] = { hardlink: 'many/file-005.txt' }
  writeTree(manySrc, { many: files })
  const many = genisoimage(path.join(dir, 'many.iso'), ['-udf'], manySrc)
  const image = await IsoImage.open(many)
  t.teardown(() => image.close())
  t.equal(image.defaultNamespace, 'udf')
  const ours = await compareWith7z(t, image, many)
  t.same(ours, pycdlibListing(many, 'udf'), 'pycdlib reads the same names, sizes and content')
  let wrong = 0
  for (let i = 0; i < 150; i++) {
    const name = `/many/file-${String(i).padStart(3, '0')}.txt`
    const stat = await image.stat(name, 'udf')
    const content = (await image.readFile(name, 'udf')).toString()
    if (stat.mtimeMs !== base + i * 3_600_000 || content !== `content of ${i}\n`) wrong++
  }
  t.equal(wrong, 0, 'all 150 files have their own time and content')
  t.equal((await image.stat('/many/link-to-005.txt', 'udf')).ino, (await image.stat('/many/file-005.txt', 'udf')).ino, 'a hard link in the last batch shares the inode of a file in the first')
  t.same(image.warnings, [])
})

t.test('an image grown by xorriso after genisoimage -udf: its UDF tree is out of date and left out', async t => {
  const grown = path.join(dir, 'grown.iso')
  fs.copyFileSync(plain, grown)
  fs.writeFileSync(path.join(dir, 'newfile'), 'new\n')
  run('xorriso', ['-dev', grown, '-map', path.join(dir, 'newfile'), '/newfile', '-commit'])
  const image = await IsoImage.open(grown)
  t.teardown(() => image.close())
  t.notOk(image.namespaces.includes('udf'), 'no udf namespace')
  t.match(image.warnings, [/^UDF volume at LBA 256: it ends at byte \d+, before the ISO9660 root directory \(byte \d+\): it was written for an earlier session; the UDF file system is ignored$/])
  t.equal((await image.readFile('/newfile')).toString(), 'new\n', 'the newest tree reads')
})

t.test('the UDF namespace walks without reading Joliet, and Joliet merged later finds the same nodes', async t => {
  const image = await IsoImage.open(bridged)
  t.teardown(() => image.close())
  const udfFirst: string[] = []
  for await (const { path: p } of image.walk('/', 'udf')) udfFirst.push(p)
  t.equal(image.root.dir?.peek()?.filter(n => n.names.joliet !== undefined).length, 0, 'no Joliet names merged by a UDF walk')
  const jolietPaths: string[] = []
  for await (const { path: p, node } of image.walk('/', 'joliet')) {
    jolietPaths.push(p)
    t.ok(node.names.udf !== undefined, `${p} is one node with its UDF name`)
  }
  t.same(jolietPaths.sort(), udfFirst.sort())
})

t.test('pycdlib UDF 2.60: files, directories and symbolic links only UDF has, as pycdlib reads them', async t => {
  const body = `
iso.new(udf='2.60', rock_ridge='1.09', joliet=3)
iso.add_fp(io.BytesIO(b'hello\\n'), 6, '/HELLO.TXT;1', rr_name='hello.txt', joliet_path='/hello.txt', udf_path='/hello.txt')
iso.add_directory('/SUB', rr_name='sub', joliet_path='/sub', udf_path='/sub')
data = bytes(range(256)) * 400
iso.add_fp(io.BytesIO(data), len(data), '/SUB/DATA.BIN;1', rr_name='data.bin', joliet_path='/sub/data.bin', udf_path='/sub/data.bin')
iso.add_fp(io.BytesIO(b''), 0, '/EMPTY.TXT;1', rr_name='empty.txt', joliet_path='/empty.txt', udf_path='/empty.txt')
iso.add_fp(io.BytesIO(b'udf only\\n'), 9, udf_path='/udfonly.txt')
iso.add_directory(udf_path='/udfdir')
iso.add_fp(io.BytesIO(b'x' * 5000), 5000, udf_path='/udfdir/x.bin')`
  const withLinks = pycdlibImage(path.join(dir, 'py-links.iso'), body + `
iso.add_symlink(udf_symlink_path='/sub/up', udf_target='../hello.txt')
iso.add_symlink(udf_symlink_path='/abs', udf_target='/sub/data.bin')`)
  const noLinks = pycdlibImage(path.join(dir, 'py.iso'), body)

  const image = await IsoImage.open(withLinks, { strict: true })
  t.teardown(() => image.close())
  t.same(image.namespaces, ['rockridge', 'udf', 'joliet', 'iso9660'])
  // pycdlib's "2.60" records revision bytes 02 01, which read little-endian (UDF 2.1.5.3) are 1.02.
  t.equal(revisionText(image.origin?.udf?.revision ?? 0), udfinfo(withLinks).udfrev, 'the revision udfinfo reads')
  t.same(await ourUdfListing(image), pycdlibListing(withLinks, 'udf'), 'pycdlib reads the same UDF tree, links included')
  t.equal(await image.readlink('/sub/up', 'udf'), '../hello.txt', 'a relative link (parent component)')
  t.equal(await image.readlink('/abs', 'udf'), '/sub/data.bin', 'an absolute link (root component)')
  t.equal((await image.lookup('/sub/up', 'udf')).inode.kind, 'symlink')
  const udfOnly = await image.lookup('/udfdir/x.bin', 'udf')
  t.same(udfOnly.names, { udf: 'x.bin' }, 'a file only UDF names is a node of its own')
  await t.rejects(image.lookup('/udfdir', 'rockridge'), { code: 'NOT_FOUND' }, 'and no other namespace shows it')

  const other = await IsoImage.open(noLinks)
  t.teardown(() => other.close())
  await compareWith7z(t, other, noLinks)
})

const MKUDFFS: Array<[string, string, string[]]> = [
  ['hd', '1.02', []],
  ['hd', '1.50', []],
  ['hd', '2.01', []],
  ['hd', '2.01', ['--blocksize=4096']],
  ['dvdrw', '2.01', []],
  ['cdrw', '1.50', []],
  ['cdrw', '2.01', []],
  ['cdr', '2.01', []],
  ['bdr', '2.50', []]
]

for (const [media, revision, extra] of MKUDFFS) {
  t.test(`mkudffs --media-type=${media} --udfrev=${revision} ${extra.join(' ')}: a UDF-only file system opens`, async t => {
    const file = mkudffs(path.join(dir, `mk-${media}-${revision}${extra.length}.img`), media, revision, 20000, extra)
    const info = udfinfo(file)
    const image = await IsoImage.open(file, { strict: true })
    t.teardown(() => image.close())
    const udf = image.origin?.udf
    t.same(image.namespaces, ['udf'], 'only the udf namespace')
    t.equal(image.defaultNamespace, 'udf')
    t.equal(udf?.blockSize, Number(info.blocksize), `block size ${info.blocksize}, as udfinfo says`)
    t.equal(revisionText(udf?.revision ?? 0), info.udfrev, `revision ${info.udfrev}`)
    t.equal(udf?.logicalVolumeId, info.lvid, 'logical volume identifier')
    t.equal(udf?.fileSetId, info.fsid, 'file set identifier')
    t.equal(udf?.volumeSetId, info.fullvsid, 'volume set identifier (udfinfo\'s vsid leaves out its unique 16 hex digits)')
    t.equal(image.volume.volumeId, info.label)
    if (info.vatblock === undefined) {
      // Discs with a virtual allocation table keep their counts in it, not in the integrity descriptor.
      t.equal(udf?.integrityUse?.files, Number(info.numfiles), `${info.numfiles} files in the integrity descriptor`)
      t.equal(udf?.integrityUse?.directories, Number(info.numdirs))
    }
    const kinds = udf?.map.partitions.map(p => p.kind)
    if (media === 'cdrw') t.same(kinds, ['physical'], 'a sparable partition reads as a physical one with its sparing table')
    if (media === 'cdr' || media === 'bdr') t.same(kinds, ['physical', 'virtual'], 'the virtual partition maps through the VAT')
    const root = statOf(image.root)
    t.equal(root.kind, 'directory')
    t.equal(root.mode & 0o7777, 0o755, 'mkudffs records 755 for the root')
    t.equal(root.nlink, 2, 'its link count, with "." counted as Linux udf does')
    const entries = await image.readdir('/')
    t.same(entries.map(e => e.name), media === 'cdrw' && revision === '1.50' ? ['Non-Allocatable Space'] : [],
      'an empty root (UDF 1.50 rewritable media list their non-allocatable space in a file)')
    t.same(await image.commit(), { mode: 'unchanged', bytesWritten: 0, reasons: [] }, 'nothing to commit')
    await t.rejects(image.write(path.join(dir, 'out.iso')), { code: 'READ_ONLY' }, 'writing a UDF-only image is refused')
  })
}

t.test('fragmented files: long allocation descriptors out of order, a hole and a continuation extent', async t => {
  // genisoimage writes every file in one extent; the file entry is rewritten here to point at the same
  // blocks in another order (and, in the second image, through a hole and an allocation extent).
  const B = 2048
  const fsrc = path.join(dir, 'frag-src')
  const blocks = Buffer.alloc(10 * B)
  for (let i = 0; i < 10; i++) blocks.fill(i + 1, i * B, (i + 1) * B)
  writeTree(fsrc, { 'frag.bin': blocks, 'spare.bin': Buffer.alloc(B, 0x55) })
  const base = genisoimage(path.join(dir, 'frag.iso'), ['-udf'], fsrc)
  const image = await IsoImage.open(base)
  const frag = await image.lookup('/frag.bin', 'udf')
  const spare = await image.lookup('/spare.bin', 'udf')
  const start = (image.origin?.udf?.map.partitions[0] as { start: number }).start
  const first = (frag.inode.data as ImageExtentsSource).sections[0].lba - start
  const spareBlock = (spare.inode.data as ImageExtentsSource).sections[0].lba - start
  const entry = frag.origin?.udf?.entry.position as number
  await image.close()
  /** A long_ad (ECMA-167 4/14.14.2) in partition 0. */
  const longAd = (buf: Buffer, at: number, type: number, length: number, block: number): void => {
    buf.fill(0, at, at + 16)
    buf.writeUInt32LE(type * 0x40000000 + length, at)
    buf.writeUInt32LE(block, at + 4)
  }
  const rewrite = (file: string, ads: Array<[number, number, number]>): void => patchDescriptor(file, entry, B, e => {
    e.writeUInt16LE((e.readUInt16LE(34) & ~7) | 1, 34) // ICB flags: long allocation descriptors
    const area = 176 + e.readUInt32LE(168)
    ads.forEach(([type, length, block], i) => longAd(e, area + i * 16, type, length, block))
    e.writeUInt32LE(ads.length * 16, 172)
    e.writeUInt16LE(area + ads.length * 16 - 16, 10) // the CRC covers the new descriptors
  })
  const expected = (order: Array<number | null>): Buffer => Buffer.concat(order.map(i => i === null ? Buffer.alloc(B) : blocks.subarray(i * B, (i + 1) * B)))

  const shuffled = path.join(dir, 'frag-shuffled.iso')
  fs.copyFileSync(base, shuffled)
  rewrite(shuffled, [[0, 2 * B, first + 6], [0, B, first + 1], [0, 2 * B, first + 8], [0, 5 * B, first]])
  const opened = await IsoImage.open(shuffled, { strict: true })
  t.teardown(() => opened.close())
  const ours = await opened.readFile('/frag.bin', 'udf')
  t.same(ours, expected([6, 7, 1, 8, 9, 0, 1, 2, 3, 4]), 'the extents in their order')
  t.equal(((await opened.lookup('/frag.bin', 'udf')).inode.data as ImageExtentsSource).sections.length, 4, 'four sections')
  const extracted = sevenZipUdfExtract(shuffled, path.join(dir, '7z-frag'))
  t.same(fs.readFileSync(path.join(extracted, 'frag.bin')), ours, '7-Zip reads the same bytes')

  // The spare file's block becomes an allocation extent descriptor holding the last two descriptors, the
  // first of them a hole (7-Zip refuses holes, "Unsupported Method"; pycdlib reads extents as one run).
  const continued = path.join(dir, 'frag-continued.iso')
  fs.copyFileSync(base, continued)
  rewrite(continued, [[0, 2 * B, first + 6], [0, B, first + 1], [3, B, spareBlock]])
  patchDescriptor(continued, (start + spareBlock) * B, B, a => {
    a.fill(0)
    a.writeUInt16LE(258, 0)
    a.writeUInt16LE(2, 2)
    a.writeUInt32LE(spareBlock, 12)
    a.writeUInt32LE(32, 20)
    longAd(a, 24, 2, 2 * B, 0)
    longAd(a, 40, 0, 5 * B, first)
    a.writeUInt16LE(24 + 32 - 16, 10)
  })
  const withHole = await IsoImage.open(continued, { strict: true })
  t.teardown(() => withHole.close())
  t.same(await withHole.readFile('/frag.bin', 'udf'), expected([6, 7, 1, null, null, 0, 1, 2, 3, 4]), 'a hole reads as zeros; the continuation is followed')
  const sections = ((await withHole.lookup('/frag.bin', 'udf')).inode.data as ImageExtentsSource).sections
  t.same(sections.map(s => s.hole === true), [false, false, true, false], 'the hole is a section of its own, nowhere in the image')
})

t.test('isotool: info (text and JSON), ls through --namespace udf, --no-udf', async t => {
  const text = run('node', [ISOTOOL, 'info', plain]).stdout
  t.match(text, /^UDF: +revision 1\.02 \(NSR02\), 2048-byte blocks/m)
  t.match(text, /^ {2}Partition 0: +type 1, number 0, blocks \d+-\d+ \(\d+\), read-only$/m)
  t.match(text, /^ {2}Integrity: +closed, \d+ files, \d+ directories/m)
  t.match(text, /^Namespaces: +udf, iso9660$/m)
  const json = JSON.parse(run('node', [ISOTOOL, 'info', '--json', plain]).stdout)
  t.equal(json.udf.revision, '1.02')
  t.equal(json.udf.partitions[0].map, 'type 1')
  t.equal(json.udf.integrity.files, Number(udfinfo(plain).numfiles))
  t.same(json.extensions.udf, { revision: '1.02', volumeId: 'CDROM' })
  const listing = run('node', [ISOTOOL, 'ls', '-R', '--namespace', 'udf', bridged]).stdout.trim().split('\n').sort()
  t.same(listing, Object.keys(sevenZipUdfListing(bridged)).map(p => `/${p}`).sort(), 'ls -R --namespace udf lists what 7-Zip does')
  const noUdf = run('node', [ISOTOOL, 'ls', '--no-udf', '--namespace', 'udf', bridged], { allowFailure: true })
  t.equal(noUdf.status, 1)
  t.match(noUdf.stderr, /no udf namespace/)
  const mk = mkudffs(path.join(dir, 'cli.img'), 'hd', '2.01', 4096)
  t.match(run('node', [ISOTOOL, 'info', mk]).stdout, /^Descriptors: +none \(no ISO9660 volume\)$/m)
})

t.test('a read-only mount through namespace=udf shows what 7-Zip extracts', async t => {
  const mounted = mountImage(t, plain, ['ro', 'namespace=udf'])
  t.equal(mounted.result.status, 0, mounted.result.stderr)
  const extracted = path.join(dir, '7z-plain')
  const names = run('find', ['.'], { cwd: mounted.mountpoint }).stdout.split('\n').filter(l => l !== '').sort()
  t.same(names, run('find', ['.'], { cwd: extracted }).stdout.split('\n').filter(l => l !== '').sort())
  t.equal(run('cmp', [path.join(mounted.mountpoint, 'sub/big.bin'), path.join(extracted, 'sub/big.bin')], { allowFailure: true }).status, 0)
  t.equal(fs.statSync(path.join(mounted.mountpoint, 'hello.txt')).mode & 0o7777, 0o444)
  t.equal(mounted.unmount().status, 0)
  const noUdf = mountImage(t, plain, ['ro', 'noudf'])
  t.equal(noUdf.result.status, 0, noUdf.result.stderr)
  t.ok(fs.readdirSync(noUdf.mountpoint).includes('HELLO.TXT'), 'noudf: the ISO9660 names')
  t.equal(noUdf.unmount().status, 0)
})

t.test('mount options: namespace=udf and noudf', async t => {
  t.equal(parseMountOptions(['ro,namespace=udf']).namespace, 'udf')
  t.equal(parseMountOptions(['noudf']).noudf, true)
  t.equal(parseMountOptions([]).noudf, false)
  t.throws(() => parseMountOptions(['noudf=1']), /takes no value/)
  t.throws(() => parseMountOptions(['namespace=hfs']), /unknown namespace "hfs" \(rockridge, udf, joliet or iso9660\)/)
})
