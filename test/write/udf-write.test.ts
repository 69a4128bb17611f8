import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { parseMkisofsArgs } from '../../src/cli/mkisofs-args'
import { ImageExtentsSource } from '../../src/iso/model/data-source'
import { isovfyErrors, pycdlibListing } from '../helpers/readers'
import { run, scratch, writeTree } from '../helpers/tools'
import { ourUdfListing, pycdlibImage, sevenZipUdfExtract, sevenZipUdfListing, udfinfo, udfShape, withoutHashes, type Entry, type UdfShape } from '../helpers/udf'

/*
 * isotool mkisofs -udf: a bridge image whose UDF tree is read by 7-Zip, udfinfo and pycdlib as the same
 * tree genisoimage -udf writes for the same files, with each file's data recorded once (the UDF entry
 * points at the extent the ISO9660 record does). Symbolic links and fifos are empty files in UDF, as
 * genisoimage records them.
 */

const dir = scratch(t, 'udf-write')
const src = path.join(dir, 'src')
const isotool = path.join(__dirname, '../../../bin/isotool')
const many: Record<string, string> = {}
// More identifiers than one 2 KiB block holds: the directory's data takes several blocks.
for (let i = 0; i < 120; i++) many[`file-with-a-longish-name-${String(i).padStart(3, '0')}.txt`] = `${i}\n`
writeTree(src, {
  'a.txt': 'hello\n',
  'empty': '',
  'Ünïcödé €uro.txt': 'unicode\n',
  'big.bin': Buffer.alloc(300000, 0x5a),
  sub: { 'b.txt': 'world\n', deeper: { 'c.txt': 'deep\n' } },
  many,
  link: { symlink: 'a.txt' },
  hard: { hardlink: 'a.txt' }
})

function mkisofs (out: string, ...args: string[]): string {
  run(process.execPath, [isotool, 'mkisofs', '-quiet', ...args, '-o', out, src])
  return out
}

/** The source tree as 7-Zip lists a UDF tree: files with sizes, directories; links and fifos empty files. */
function sourceListing (): Record<string, Entry> {
  const listing: Record<string, Entry> = {}
  const walk = (host: string, prefix: string): void => {
    for (const name of fs.readdirSync(host)) {
      const p = path.join(host, name)
      const key = prefix + name
      const st = fs.lstatSync(p)
      if (st.isDirectory()) {
        listing[key] = { type: 'dir' }
        walk(p, key + '/')
      } else {
        listing[key] = { type: 'file', size: st.isFile() ? st.size : 0 }
      }
    }
  }
  walk(src, '')
  return listing
}

t.test('mkisofs -udf: 7-Zip, udfinfo and pycdlib read the UDF tree as genisoimage -udf writes it', async t => {
  const iso = mkisofs(path.join(dir, 'ours.iso'), '-R', '-J', '-udf')
  const reference = path.join(dir, 'genisoimage.iso')
  run('genisoimage', ['-quiet', '-R', '-J', '-udf', '-o', reference, src])

  const expected = sourceListing()
  t.same(sevenZipUdfListing(iso), expected, '7-Zip lists the source tree')
  t.same(sevenZipUdfListing(iso), sevenZipUdfListing(reference), 'the same as genisoimage -udf\'s')
  const out = sevenZipUdfExtract(iso, path.join(dir, 'x7z'))
  for (const name of ['a.txt', 'hard', 'Ünïcödé €uro.txt', 'big.bin', 'sub/deeper/c.txt', 'many/file-with-a-longish-name-119.txt']) {
    t.ok(fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(path.join(src, name))), `7-Zip extracts ${name}`)
  }

  const info = udfinfo(iso)
  const theirs = udfinfo(reference)
  t.equal(info.udfrev, '1.02')
  t.equal(info.integrity, 'closed')
  for (const key of ['numdirs', 'udfrev', 'integrity', 'accesstype']) t.equal(info[key], theirs[key], `udfinfo ${key}: ${theirs[key]}, as genisoimage's`)
  // Files are counted as Linux's udf counts them, by file entry: the hard link is one (genisoimage, which
  // writes an entry per name, counts 128).
  t.equal(info.numfiles, '127', 'udfinfo numfiles: one per file entry')
  t.equal(run('udfinfo', [iso]).stderr, '', 'udfinfo says nothing is wrong')
  t.equal(Number(info.freeblocks), 0, 'no free blocks (a read-only partition)')

  const py = pycdlibListing(iso, 'udf')
  t.same(Object.keys(py).sort(), Object.keys(expected).sort(), 'pycdlib walks the same UDF tree')
  const sha = (p: string): string => createHash('sha256').update(fs.readFileSync(path.join(src, p))).digest('hex')
  t.equal(py['big.bin'].sha256, sha('big.bin'), 'and reads big.bin')
  t.equal(py['Ünïcödé €uro.txt'].sha256, sha('Ünïcödé €uro.txt'), 'and a 16-bit (OSTA CS0) name')

  t.match(isovfyErrors(iso), /No errors found/, 'isovfy: the ISO9660 side is intact')
  const image = await IsoImage.open(iso, { strict: true })
  t.teardown(() => image.close())
  t.same(image.namespaces, ['rockridge', 'udf', 'joliet', 'iso9660'])
  const udf = withoutHashes(await ourUdfListing(image, false))
  t.same(udf, { ...expected, link: { type: 'symlink' } }, 'our reader: the same UDF tree (the link one node with its Rock Ridge symlink)')
  const inUdf = await image.lookup('/big.bin', 'udf')
  t.equal(inUdf, await image.lookup('/BIG.BIN', 'iso9660'), 'one node: the UDF entry and the ISO9660 record name the same data')
  t.ok(inUdf.inode.data instanceof ImageExtentsSource)
  t.equal((await image.lookup('/hard', 'udf')).inode, (await image.lookup('/a.txt', 'udf')).inode, 'a hard link is one UDF file entry')
})

/** What each revision records (codec/udf/revision.ts), as an independent reader would check it. */
const REVISIONS = [
  { text: '1.50', value: 0x0150, nsr: 'NSR02', version: 2, minRead: 0x0150 },
  { text: '2.00', value: 0x0200, nsr: 'NSR03', version: 3, minRead: 0x0200 },
  { text: '2.01', value: 0x0201, nsr: 'NSR03', version: 3, minRead: 0x0201 },
  { text: '2.50', value: 0x0250, nsr: 'NSR03', version: 3, minRead: 0x0250 },
  // UDF 2.60 changes only how media are written: a 2.50 reader reads it (Linux's udf_sb.h says so too).
  { text: '2.60', value: 0x0260, nsr: 'NSR03', version: 3, minRead: 0x0250 }
]

t.test('mkisofs -udf-rev 1.50 to 2.60: each revision as udfinfo, 7-Zip and pycdlib read it', async t => {
  const sha = (p: string): string => createHash('sha256').update(fs.readFileSync(path.join(src, p))).digest('hex')
  for (const rev of REVISIONS) {
    const iso = mkisofs(path.join(dir, `rev${rev.text}.iso`), '-R', '-J', '-udf-rev', rev.text)
    const info = udfinfo(iso)
    t.equal(info.udfrev, rev.minRead === rev.value ? rev.text : '2.50', `${rev.text}: udfinfo's revision (the minimum read revision)`)
    t.equal(info.udfwriterev, rev.text, `${rev.text}: udfinfo's write revision`)
    t.equal(run('udfinfo', [iso]).stderr, '', `${rev.text}: udfinfo says nothing is wrong`)
    t.same(sevenZipUdfListing(iso), sourceListing(), `${rev.text}: 7-Zip lists the source tree`)
    const py = pycdlibListing(iso, 'udf')
    t.equal(py['big.bin']?.sha256, sha('big.bin'), `${rev.text}: pycdlib reads big.bin`)
    t.equal(py['sub/deeper/c.txt']?.sha256, sha('sub/deeper/c.txt'), `${rev.text}: and sub/deeper/c.txt`)
    const shape = udfShape(iso)
    t.same(shape.nsr, [rev.nsr], `${rev.text}: ${rev.nsr} in the recognition sequence`)
    t.equal(shape.partitionContents, `+${rev.nsr}`, `${rev.text}: and in the partition contents`)
    t.same(shape.descriptorVersions, [rev.version], `${rev.text}: descriptor version ${rev.version} throughout`)
    t.same([shape.domain.revision, shape.fileSetDomainRevision, shape.lvInfoRevision], [rev.value, rev.value, rev.value], `${rev.text}: the domain and LV info suffixes`)
    t.same([shape.integrity.minRead, shape.integrity.minWrite, shape.integrity.maxWrite], [rev.minRead, rev.value, rev.value], `${rev.text}: the integrity descriptor's revisions`)
    const image = await IsoImage.open(iso, { strict: true })
    t.equal(image.extensions.udf?.revision, rev.text, `${rev.text}: our reader`)
    t.same(image.readOnlyReasons, [], `${rev.text}: writable (a commit keeps the revision)`)
    await image.close()
  }
})

t.test('the library: IsoImage.create({ udf: \'2.60\' }) and \'2.50\', as pycdlib creates its 2.60 images', async t => {
  for (const udf of ['2.50', '2.60'] as const) {
    const image = IsoImage.create({ rockRidge: true, joliet: true, udf })
    t.equal(image.extensions.udf?.revision, udf, `${udf}: the new image says so`)
    await image.addDirectory('/docs')
    await image.addFile('/docs/readme.txt', Buffer.from(`made as UDF ${udf}\n`))
    const iso = path.join(dir, `created${udf}.iso`)
    await image.write(iso)
    await image.close()
    t.equal(udfinfo(iso).udfwriterev, udf, `${udf}: udfinfo`)
    t.equal(run('udfinfo', [iso]).stderr, '', `${udf}: udfinfo says nothing is wrong`)
    const out = sevenZipUdfExtract(iso, path.join(dir, `x-created${udf}`))
    t.equal(fs.readFileSync(path.join(out, 'docs/readme.txt'), 'utf8'), `made as UDF ${udf}\n`, `${udf}: 7-Zip extracts the file`)
    t.equal(pycdlibListing(iso, 'udf')['docs/readme.txt']?.sha256, createHash('sha256').update(`made as UDF ${udf}\n`).digest('hex'), `${udf}: pycdlib reads it`)
  }
  t.throws(() => IsoImage.create({ udf: '1.01' as '1.02' }), { code: 'BAD_ARGUMENT', message: /UDF revision 1\.01 is not written/ })
})

t.test('UDF 2.60: the shape pycdlib writes for the same tree, with the revision recorded where pycdlib records 1.02', async t => {
  const tree = path.join(dir, 'pytree')
  writeTree(tree, { 'a.txt': 'hello\n', dir1: { 'b.txt': 'x'.repeat(5000), sub: { 'c.txt': 'deep\n' } }, empty: '' })
  const ours = path.join(dir, 'ours260.iso')
  run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-udf-rev', '2.60', '-o', ours, tree])
  const theirs = pycdlibImage(path.join(dir, 'pycdlib260.iso'), `
iso.new(udf='2.60', rock_ridge='1.09', joliet=3)
iso.add_fp(io.BytesIO(b'hello\\n'), 6, '/A.TXT;1', rr_name='a.txt', joliet_path='/a.txt', udf_path='/a.txt')
iso.add_fp(io.BytesIO(b''), 0, '/EMPTY.;1', rr_name='empty', joliet_path='/empty', udf_path='/empty')
iso.add_directory('/DIR1', rr_name='dir1', joliet_path='/dir1', udf_path='/dir1')
iso.add_fp(io.BytesIO(b'x' * 5000), 5000, '/DIR1/B.TXT;1', rr_name='b.txt', joliet_path='/dir1/b.txt', udf_path='/dir1/b.txt')
iso.add_directory('/DIR1/SUB', rr_name='sub', joliet_path='/dir1/sub', udf_path='/dir1/sub')
iso.add_fp(io.BytesIO(b'deep\\n'), 5, '/DIR1/SUB/C.TXT;1', rr_name='c.txt', joliet_path='/dir1/sub/c.txt', udf_path='/dir1/sub/c.txt')
`)
  const a = udfShape(ours)
  const b = udfShape(theirs)
  // The fields that make the shape: where things are, one plain partition, plain file entries (not
  // extended ones) with short allocation descriptors, strategy 4, the counts, the identifiers.
  for (const key of ['partitionStart', 'partitionMaps', 'fileSetLocation', 'accessType'] as const) t.same(a[key], b[key], `${key}: as pycdlib's`)
  t.same([a.domain.identifier, a.domain.flags], [b.domain.identifier, b.domain.flags], 'domain "*OSTA UDF Compliant", write-protected (hard and soft)')
  t.same({ ...a.integrity, minRead: 0, minWrite: 0, maxWrite: 0 }, { ...b.integrity, minRead: 0, minWrite: 0, maxWrite: 0 }, 'closed integrity, the same file and directory counts')
  const entries = (s: UdfShape): string[] => s.entries.map(e => JSON.stringify(e)).sort()
  t.same(entries(a), entries(b), 'the same file entries: FE (261), strategy 4, short_ads, types, link counts, lengths')
  t.ok(a.entries.every(e => e.tagId === 261), 'plain file entries, as pycdlib writes')
  const names = (s: UdfShape): string[] => s.identifiers.map(i => `${i.characteristics}:${i.name}:${i.uniqueIdInIcb || i.characteristics === 10}`).sort()
  t.same(names(a), names(b), 'the same identifiers, each non-root ICB with its unique ID')
  // What differs, on purpose: pycdlib 1.12 calls its volume 2.60 but records 1.02 in every field that
  // says a revision; ours records 2.60 there, so that udfinfo and Linux read 2.60.
  t.same([b.nsr, b.descriptorVersions, b.domain.revision, b.integrity.maxWrite], [['NSR02'], [2], 0x0102, 0x0102], 'pycdlib\'s "2.60" records 1.02')
  t.same([a.nsr, a.descriptorVersions, a.domain.revision, a.integrity.minRead, a.integrity.maxWrite], [['NSR03'], [3], 0x0260, 0x0250, 0x0260], 'ours records 2.60')
  t.same(Object.keys(pycdlibListing(ours, 'udf')).sort(), Object.keys(pycdlibListing(theirs, 'udf')).sort(), 'pycdlib lists the same UDF tree in both')
  t.same(sevenZipUdfListing(ours), sevenZipUdfListing(theirs), '7-Zip too')
})

t.test('mkisofs -udf-metadata: a metadata partition (UDF 2.50, 2.60) as udfinfo and 7-Zip read it', async t => {
  const sha = (p: string): string => createHash('sha256').update(fs.readFileSync(path.join(src, p))).digest('hex')
  for (const rev of ['2.50', '2.60']) {
    const iso = mkisofs(path.join(dir, `meta${rev}.iso`), '-R', '-J', '-udf-rev', rev, '-udf-metadata')
    t.equal(udfinfo(iso).udfwriterev, rev, `${rev}: udfinfo`)
    t.equal(run('udfinfo', [iso]).stderr, '', `${rev}: udfinfo says nothing is wrong`)
    t.same(sevenZipUdfListing(iso), sourceListing(), `${rev}: 7-Zip lists the source tree`)
    const out = sevenZipUdfExtract(iso, path.join(dir, `x-meta${rev}`))
    for (const name of ['big.bin', 'sub/deeper/c.txt', 'many/file-with-a-longish-name-119.txt']) {
      t.equal(createHash('sha256').update(fs.readFileSync(path.join(out, name))).digest('hex'), sha(name), `${rev}: 7-Zip extracts ${name}`)
    }
    const shape = udfShape(iso)
    t.same(shape.partitionMaps, [1, 2], `${rev}: a type 1 map and a type 2 (metadata) map`)
    t.same(shape.fileSetLocation, { block: 0, partition: 1 }, `${rev}: the file set in the metadata partition`)
    t.same(shape.entries.filter(e => e.fileType >= 250).map(e => e.fileType), [250, 251], `${rev}: the metadata file's entry and its mirror's`)
    t.ok(shape.entries.filter(e => e.fileType === 5 && e.length > 0).every(e => e.adType === 1), `${rev}: files' data through long_ads (in the physical partition)`)
    t.ok(shape.entries.filter(e => e.fileType === 4).every(e => e.adType === 0), `${rev}: directories' through short_ads (in the metadata partition)`)
    t.ok(shape.identifiers.filter(i => i.characteristics !== 10).every(i => i.uniqueIdInIcb), `${rev}: identifiers carry unique IDs`)
    const image = await IsoImage.open(iso, { strict: true })
    t.same(image.origin?.udf?.map.partitions.map(p => p.kind), ['physical', 'metadata'], `${rev}: our reader goes through the metadata file`)
    t.same(withoutHashes(await ourUdfListing(image, false)), { ...sourceListing(), link: { type: 'symlink' } }, `${rev}: and reads the tree`)
    t.same(image.readOnlyReasons, [], `${rev}: writable`)
    await image.close()
  }
  // pycdlib 1.12 cannot open a logical volume with two partition maps (it measures the second map against
  // what is left after the first: "Partition map goes beyond end of data"), whoever wrote it.
  t.throws(() => parseMkisofsArgs(['-udf-rev', '2.01', '-udf-metadata', 'x']) && IsoImage.create({ udf: { revision: '2.01', metadataPartition: true } }), { message: /metadata partition needs UDF 2\.50 or later/ }, 'refused below 2.50')
  t.equal(parseMkisofsArgs(['-udf', '-udf-metadata', 'x']).udfRevision, undefined, '-udf -udf-metadata: 2.60 (the metadata partition\'s default), not -udf\'s 1.02')
})

t.test('a file over 4 GiB: one UDF file, a multi-extent ISO9660 file', async t => {
  const big = path.join(dir, 'big')
  fs.mkdirSync(big)
  const size = 2 ** 32 + 64 * 1024
  const marks: Array<[number, string]> = [[0, 'START'], [2 ** 32 - 3, 'ACROSS'], [size - 3, 'END']]
  const fd = fs.openSync(path.join(big, 'install.wim'), 'w')
  for (const [at, text] of marks) fs.writeSync(fd, text, at)
  fs.closeSync(fd)
  const iso = path.join(dir, 'big.iso')
  // Through dd conv=sparse: the image's 4 GiB of zeros take no disk.
  run('sh', ['-c', `'${process.execPath}' '${isotool}' mkisofs -quiet -R -udf -iso-level 3 '${big}' | dd of='${iso}' bs=1M conv=sparse iflag=fullblock status=none`])
  t.equal(sevenZipUdfListing(iso)['install.wim']?.size, size, '7-Zip: one file of 4 GiB + 64 KiB')
  t.equal(run('udfinfo', [iso]).stderr, '', 'udfinfo says nothing is wrong')
  const isoinfo = run('isoinfo', ['-l', '-i', iso]).stdout
  t.equal(isoinfo.split('\n').filter(l => l.includes('INSTALL.WIM')).length, 2, 'isoinfo: two ISO9660 records (a multi-extent file)')
  const image = await IsoImage.open(iso, { strict: true })
  t.teardown(() => image.close())
  const node = await image.lookup('/install.wim', 'udf')
  t.equal(node.inode.size, size)
  for (const [at, text] of marks) {
    const buf = Buffer.alloc(text.length)
    await node.inode.data.read(buf, 0, buf.length, at)
    t.equal(buf.toString(), text, `"${text}" at byte ${at}`)
  }
})

t.test('mkisofs -udf -hide with El Torito: a Windows-shaped image, its UDF tree and boot entries as genisoimage writes them', async t => {
  const win = path.join(dir, 'win')
  writeTree(win, {
    'README.TXT': 'Windows Setup\n',
    boot: { 'etfsboot.com': Buffer.alloc(2048, 0xeb), bcd: 'bcd\n' },
    efi: { microsoft: { boot: { 'efisys.bin': Buffer.alloc(1474560, 0xf0) } } },
    sources: { 'install.wim': Buffer.alloc(200000, 0x1d) }
  })
  const args = ['-udf', '-V', 'WINSETUP', '-hide', 'boot', '-hide', 'efi', '-hide', 'sources', '-hide', 'boot.catalog',
    '-b', 'boot/etfsboot.com', '-no-emul-boot', '-boot-load-size', '4', '-eltorito-alt-boot', '-e', 'efi/microsoft/boot/efisys.bin', '-no-emul-boot']
  const ours = path.join(dir, 'win-ours.iso')
  const theirs = path.join(dir, 'win-genisoimage.iso')
  run(process.execPath, [isotool, 'mkisofs', '-quiet', ...args, '-o', ours, win])
  run('genisoimage', ['-quiet', ...args, '-o', theirs, win])
  const files = (iso: string): string[] => Object.keys(sevenZipUdfListing(iso)).sort()
  t.same(files(ours), files(theirs), '7-Zip lists the same UDF tree (-hide hides from ISO9660 only)')
  t.same(run('isoinfo', ['-f', '-i', ours]).stdout.split('\n').filter(l => l !== '').sort(), ['/README.TXT;1'], 'the ISO9660 side holds the README only')
  const eltorito = (iso: string): string => run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']).stdout.split('\n')
    .filter(l => /^El Torito (boot img|img)/.test(l)).map(l => l.replace(/\s+\d+\s*$/, '')).join('\n')
  t.equal(eltorito(ours), eltorito(theirs), 'the same El Torito entries (xorriso)')
  t.equal(run('udfinfo', [ours]).stderr, '', 'udfinfo says nothing is wrong')
  const image = await IsoImage.open(ours, { strict: true })
  t.teardown(() => image.close())
  t.equal(image.defaultNamespace, 'udf')
  const etfsboot = await image.lookup('/boot/etfsboot.com')
  const boot = await image.bootConfiguration()
  t.equal(boot?.defaultImage.payload.holder, etfsboot.inode, 'the BIOS entry is the UDF tree\'s etfsboot.com (one copy)')
})
