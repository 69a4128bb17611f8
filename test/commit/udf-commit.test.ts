import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { entityId } from '../../src/iso/codec/udf/entity-id'
import type { PartitionMap, Type1PartitionMap } from '../../src/iso/codec/udf/partition-maps'
import { readOnlyReasonsOf } from '../../src/iso/read/read-only-reasons'
import type { UdfVolume } from '../../src/iso/read/udf/volume'
import { isomount, mountImage } from '../helpers/mount'
import { pycdlibListing } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { mkudffs, pycdlibImage, sevenZipUdfExtract, sevenZipUdfListing, udfinfo, udfShape } from '../helpers/udf'

/*
 * Issue 11 §4: a commit of a bridge image keeps its UDF tree the same tree as the others. isomount writes
 * the UDF tree whole from the model (a remaster), so such an image is writable, and every commit
 * remasters it; afterwards 7-Zip (which reads UDF first, as Windows does), udfinfo and pycdlib read the
 * edited tree. Images whose UDF tree isomount cannot write again stay read-only, saying why.
 */

const dir = scratch(t, 'udf-commit')
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': 'alpha\n', 'gone.txt': 'bye\n', docs: { 'b.txt': 'beta\n' } })

/** udfinfo's complaints about an image (none: empty). */
function udfinfoErrors (iso: string): string {
  return run('udfinfo', [iso]).stderr
}

/** A file's content replaced through the library, as a write through the mount replaces it. */
async function replaceContent (image: IsoImage, file: string, content: string): Promise<void> {
  const data = image.edits.editableData(await image.lookup(file))
  const text = Buffer.from(content)
  await data.truncate(0)
  await data.write(text, 0, text.length, 0)
}

t.test('genisoimage -udf: adds, changes, renames, removes and modes reach the UDF tree', async t => {
  const iso = genisoimage(path.join(dir, 'bridge.iso'), ['-udf', '-R', '-J'], src)
  const image = await IsoImage.open(iso)
  t.same(image.readOnlyReasons, [], 'writable: its UDF tree is written again whole')
  await image.addFile('/autounattend.xml', Buffer.from('<unattend/>\n'))
  await replaceContent(image, '/a.txt', 'alpha, changed and longer\n')
  await image.rename('/docs/b.txt', '/docs/renamed.txt')
  await image.remove('/gone.txt')
  await image.addDirectory('/new')
  await image.setAttributes('/docs/renamed.txt', { mode: 0o600 })
  await t.rejects(image.commit({ mode: 'inplace' }), { code: 'UNSUPPORTED', message: /UDF file system, which is written whole/ }, 'commit=inplace refused, saying why')
  await t.rejects(image.commit({ mode: 'append' }), { code: 'UNSUPPORTED', message: /cannot commit by appending: the image has a UDF/ }, 'commit=append too')
  const result = await image.commit()
  t.equal(result.mode, 'remaster', 'remastered (the UDF tree is written whole)')
  t.equal(image.origin?.udf?.integrityUse?.files, 3, 'the UDF volume is read again after the commit')
  // A second commit from the same model, as a mount's sync then unmount makes.
  await image.addFile('/docs/second.txt', Buffer.from('second\n'))
  t.equal((await image.commit()).mode, 'remaster')
  await image.remove('/docs/second.txt')
  t.equal((await image.commit()).mode, 'remaster', 'and a third, back to the tree checked below')
  await image.close()

  t.same(Object.keys(sevenZipUdfListing(iso)).sort(), ['a.txt', 'autounattend.xml', 'docs', 'docs/renamed.txt', 'new'], '7-Zip lists the edited tree')
  const out = sevenZipUdfExtract(iso, path.join(dir, 'x-bridge'))
  t.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha, changed and longer\n', '7-Zip reads the new content')
  t.equal(fs.readFileSync(path.join(out, 'autounattend.xml'), 'utf8'), '<unattend/>\n', 'and the new file')
  t.equal(udfinfoErrors(iso), '', 'udfinfo says nothing is wrong')
  const info = udfinfo(iso)
  t.equal(info.numfiles, '3', 'udfinfo counts the files')
  t.equal(info.numdirs, '3', 'and the directories')
  const py = pycdlibListing(iso, 'udf')
  t.same(Object.keys(py).sort(), ['a.txt', 'autounattend.xml', 'docs', 'docs/renamed.txt', 'new'], 'pycdlib walks the same')
  t.match(run('isoinfo', ['-R', '-l', '-i', iso]).stdout, /autounattend\.xml/, 'the Rock Ridge tree has the file too')

  const again = await IsoImage.open(iso, { strict: true })
  t.teardown(() => again.close())
  t.equal((await again.stat('/docs/renamed.txt', 'udf')).mode & 0o7777, 0o600, 'the mode reached the UDF entry')
  t.equal((await again.readFile('/a.txt', 'udf')).toString(), 'alpha, changed and longer\n')
})

t.test('Windows-shaped media: autounattend.xml added through the mount reaches the UDF tree; El Torito unchanged', async t => {
  const win = path.join(dir, 'win')
  writeTree(win, {
    'README.TXT': 'Windows Setup\n',
    boot: { 'etfsboot.com': Buffer.alloc(2048, 0xeb), bcd: 'bcd\n' },
    efi: { microsoft: { boot: { 'efisys.bin': Buffer.alloc(1474560, 0xf0), bcd: 'efi bcd\n' } } },
    sources: { 'boot.wim': Buffer.alloc(100000, 0xb0) }
  })
  // A sparse install.wim over 4 GiB; genisoimage -allow-limited-size records it whole in UDF, as Windows
  // media carry it, and dd conv=sparse keeps the image's zeros off the disk (the remaster keeps them off too).
  const size = 2 ** 32 + 64 * 1024
  const marks: Array<[number, string]> = [[0, 'START'], [2 ** 32 - 3, 'ACROSS'], [size - 3, 'END']]
  const fd = fs.openSync(path.join(win, 'sources/install.wim'), 'w')
  for (const [at, text] of marks) fs.writeSync(fd, text, at)
  fs.closeSync(fd)
  const iso = path.join(dir, 'win.iso')
  run('sh', ['-c', `genisoimage -quiet -udf -allow-limited-size -V WINSETUP -hide boot -hide efi -hide sources -hide boot.catalog \
    -b boot/etfsboot.com -no-emul-boot -boot-load-size 4 -eltorito-alt-boot -e efi/microsoft/boot/efisys.bin -no-emul-boot '${win}' \
    | dd of='${iso}' bs=1M conv=sparse iflag=fullblock status=none`])
  const eltorito = (): string => run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']).stdout.split('\n').filter(l => /^El Torito (boot img|img)/.test(l)).map(l => l.replace(/\s+\d+\s*$/, '')).join('\n')
  const bootBefore = eltorito()
  const mounted = mountImage(t, iso)
  t.equal(mounted.result.status, 0)
  t.notMatch(mounted.result.stderr, /read-only/, 'mounted read-write')
  t.same(fs.readdirSync(mounted.mountpoint).sort(), ['README.TXT', 'boot', 'boot.catalog', 'efi', 'sources'], 'the UDF tree is what the mount shows')
  fs.writeFileSync(path.join(mounted.mountpoint, 'autounattend.xml'), '<unattend>answers</unattend>\n')
  fs.writeFileSync(path.join(mounted.mountpoint, 'sources', 'ei.cfg'), '[Channel]\nRetail\n')
  // The commit remasters 4 GiB (mostly reading zeros): more than the helper's default wait on a busy machine.
  t.equal(isomount(['-u', mounted.mountpoint], { timeout: 600_000 }).status, 0, 'unmounted and committed')

  const listing = sevenZipUdfListing(iso)
  t.ok('autounattend.xml' in listing && 'sources/ei.cfg' in listing, '7-Zip lists both new files')
  t.equal(listing['sources/install.wim']?.size, size, 'install.wim is still one file of 4 GiB + 64 KiB')
  const out = path.join(dir, 'x-win')
  run('7z', ['x', '-y', '-tudf', `-o${out}`, iso, 'autounattend.xml', 'sources/ei.cfg'])
  t.equal(fs.readFileSync(path.join(out, 'autounattend.xml'), 'utf8'), '<unattend>answers</unattend>\n', '7-Zip extracts it with the right content')
  t.equal(fs.readFileSync(path.join(out, 'sources/ei.cfg'), 'utf8'), '[Channel]\nRetail\n')
  t.equal(udfinfoErrors(iso), '', 'udfinfo says nothing is wrong')
  t.equal(eltorito(), bootBefore, 'the El Torito entries are unchanged (platforms, emulation, load sizes)')
  t.ok(fs.statSync(iso).blocks * 512 < 1024 ** 3, 'the remastered image is still sparse')
  const image = await IsoImage.open(iso, { strict: true })
  t.teardown(() => image.close())
  const wim = await image.lookup('/sources/install.wim', 'udf')
  for (const [at, text] of marks) {
    const buf = Buffer.alloc(text.length)
    await wim.inode.data.read(buf, 0, buf.length, at)
    t.equal(buf.toString(), text, `install.wim: "${text}" at byte ${at}`)
  }
  const etfsboot = await image.lookup('/boot/etfsboot.com', 'udf')
  const efisys = await image.lookup('/efi/microsoft/boot/efisys.bin', 'udf')
  const boot = await image.bootConfiguration()
  t.equal(boot?.defaultImage.payload.holder, etfsboot.inode, 'the BIOS entry still points at etfsboot.com (one copy of its data)')
  t.equal(boot?.sections[0]?.images[0]?.payload.holder, efisys.inode, 'the EFI one at efisys.bin')
  t.same((await image.readdir('/', 'iso9660')).map(e => e.name).sort(), ['AUTOUNATTEND.XML', 'README.TXT'], 'the ISO9660 side: the README and the new file (a level 3 name)')
})

/** What says a UDF volume's revision: the domain's, and the integrity descriptor's three. */
function revisionFields (iso: string): number[] {
  const shape = udfShape(iso)
  return [shape.domain.revision, shape.integrity.minRead, shape.integrity.minWrite, shape.integrity.maxWrite]
}

/** 7-Zip's and pycdlib's view of a UDF file: its content. */
function udfContent (iso: string, name: string, label: string): { sevenZip: string, pycdlib: string | undefined } {
  const out = path.join(dir, `x-${label}`)
  fs.rmSync(out, { recursive: true, force: true })
  run('7z', ['x', '-y', '-tudf', `-o${out}`, iso, name])
  const py = pycdlibListing(iso, 'udf')
  return { sevenZip: fs.readFileSync(path.join(out, name), 'utf8'), pycdlib: py[name]?.sha256 }
}

const sha256Text = (text: string): string => createHash('sha256').update(text).digest('hex')

t.test('pycdlib "2.60" images: edited through the library and through a read-write mount', async t => {
  const make = (name: string): string => pycdlibImage(path.join(dir, name), `
iso.new(udf='2.60', rock_ridge='1.09', joliet=3)
iso.add_fp(io.BytesIO(b'alpha\\n'), 6, '/A.TXT;1', rr_name='a.txt', joliet_path='/a.txt', udf_path='/a.txt')
iso.add_directory('/DIR1', rr_name='dir1', joliet_path='/dir1', udf_path='/dir1')
iso.add_fp(io.BytesIO(b'beta\\n'), 5, '/DIR1/B.TXT;1', rr_name='b.txt', joliet_path='/dir1/b.txt', udf_path='/dir1/b.txt')
`)
  const lib = make('py-lib.iso')
  const before = revisionFields(lib)
  const image = await IsoImage.open(lib)
  t.same(image.readOnlyReasons, [], 'writable')
  await image.addFile('/dir1/new.txt', Buffer.from('new through the library\n'))
  await replaceContent(image, '/a.txt', 'alpha, changed\n')
  await image.commit()
  await image.close()
  t.same(revisionFields(lib), before, 'the revision fields are as pycdlib recorded them (1.02)')
  t.equal(udfinfoErrors(lib), '', 'udfinfo says nothing is wrong')
  t.same(Object.keys(sevenZipUdfListing(lib)).sort(), ['a.txt', 'dir1', 'dir1/b.txt', 'dir1/new.txt'], '7-Zip lists the edited tree')
  t.same(udfContent(lib, 'dir1/new.txt', 'py-lib'), { sevenZip: 'new through the library\n', pycdlib: sha256Text('new through the library\n') }, '7-Zip and pycdlib read the new file')
  t.same(udfContent(lib, 'a.txt', 'py-lib-a'), { sevenZip: 'alpha, changed\n', pycdlib: sha256Text('alpha, changed\n') }, 'and the changed one')

  const mounted = make('py-mount.iso')
  const m = mountImage(t, mounted)
  t.equal(m.result.status, 0)
  t.notMatch(m.result.stderr, /read-only/, 'mounted read-write')
  fs.writeFileSync(path.join(m.mountpoint, 'dir1', 'through-mount.txt'), 'through the mount\n')
  fs.rmSync(path.join(m.mountpoint, 'a.txt'))
  t.equal(m.unmount().status, 0, 'unmounted and committed')
  t.same(revisionFields(mounted), before, 'the revision is kept')
  t.equal(udfinfoErrors(mounted), '', 'udfinfo says nothing is wrong')
  t.same(Object.keys(sevenZipUdfListing(mounted)).sort(), ['dir1', 'dir1/b.txt', 'dir1/through-mount.txt'], '7-Zip lists the edited tree')
  t.same(udfContent(mounted, 'dir1/through-mount.txt', 'py-mount'), { sevenZip: 'through the mount\n', pycdlib: sha256Text('through the mount\n') }, '7-Zip and pycdlib read the new file')
})

t.test('images of each written revision keep it through a commit (2.60 through a mount too)', async t => {
  const isotool = path.join(__dirname, '../../../bin/isotool')
  for (const rev of ['1.50', '2.00', '2.50', '2.60']) {
    const iso = path.join(dir, `rev${rev}.iso`)
    run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-udf-rev', rev, '-o', iso, src])
    const before = revisionFields(iso)
    const infoBefore = udfinfo(iso)
    const image = await IsoImage.open(iso)
    t.same(image.readOnlyReasons, [], `${rev}: writable`)
    await image.addFile('/docs/added.txt', Buffer.from(`added to ${rev}\n`))
    await image.remove('/gone.txt')
    await image.commit()
    await image.close()
    t.same(revisionFields(iso), before, `${rev}: the domain and integrity revisions are as before`)
    t.equal(udfShape(iso).nsr[0], udfShape(iso).partitionContents.slice(1), `${rev}: the NSR descriptor agrees with the partition contents`)
    const info = udfinfo(iso)
    t.same([info.udfrev, info.udfwriterev], [infoBefore.udfrev, infoBefore.udfwriterev], `${rev}: udfinfo reads the same revisions (${info.udfrev}, written ${info.udfwriterev})`)
    t.equal(udfinfoErrors(iso), '', `${rev}: udfinfo says nothing is wrong`)
    t.same(Object.keys(sevenZipUdfListing(iso)).sort(), ['a.txt', 'docs', 'docs/added.txt', 'docs/b.txt'], `${rev}: 7-Zip lists the edited tree`)
    t.same(udfContent(iso, 'docs/added.txt', `rev${rev}`), { sevenZip: `added to ${rev}\n`, pycdlib: sha256Text(`added to ${rev}\n`) }, `${rev}: 7-Zip and pycdlib read the new file`)
  }
  const iso = path.join(dir, 'rev2.60.iso')
  const before = revisionFields(iso)
  const m = mountImage(t, iso)
  t.equal(m.result.status, 0)
  t.notMatch(m.result.stderr, /read-only/, '2.60: mounted read-write')
  fs.writeFileSync(path.join(m.mountpoint, 'autounattend.xml'), '<unattend/>\n')
  t.equal(m.unmount().status, 0, 'unmounted and committed')
  t.same(revisionFields(iso), before, '2.60 through the mount: still 2.60')
  t.equal(udfinfo(iso).udfwriterev, '2.60')
  t.equal(udfinfoErrors(iso), '', 'udfinfo says nothing is wrong')
  t.same(udfContent(iso, 'autounattend.xml', 'rev260-mount'), { sevenZip: '<unattend/>\n', pycdlib: sha256Text('<unattend/>\n') }, '7-Zip and pycdlib read the new file')
  const again = await IsoImage.open(iso, { strict: true })
  t.teardown(() => again.close())
  t.equal(again.extensions.udf?.revision, '2.60', 'our reader: 2.60')
})

t.test('a metadata partition (UDF 2.50 and 2.60, Blu-ray style) is kept through commits, by the library and a mount', async t => {
  const isotool = path.join(__dirname, '../../../bin/isotool')
  for (const rev of ['2.50', '2.60']) {
    const iso = path.join(dir, `meta${rev}.iso`)
    run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-udf-rev', rev, '-udf-metadata', '-o', iso, src])
    const before = revisionFields(iso)
    const image = await IsoImage.open(iso)
    t.same(image.readOnlyReasons, [], `${rev}: writable`)
    await image.addFile('/docs/added.txt', Buffer.from(`added to ${rev}\n`))
    await replaceContent(image, '/a.txt', 'alpha, changed\n')
    await image.remove('/gone.txt')
    await image.commit()
    await image.close()
    const shape = udfShape(iso)
    t.same(shape.partitionMaps, [1, 2], `${rev}: still a metadata partition`)
    t.same(revisionFields(iso), before, `${rev}: and the same revision`)
    t.equal(udfinfoErrors(iso), '', `${rev}: udfinfo says nothing is wrong`)
    t.same([udfinfo(iso).numfiles, udfinfo(iso).numdirs], ['3', '2'], `${rev}: udfinfo's counts`)
    t.same(Object.keys(sevenZipUdfListing(iso)).sort(), ['a.txt', 'docs', 'docs/added.txt', 'docs/b.txt'], `${rev}: 7-Zip lists the edited tree`)
    const out = sevenZipUdfExtract(iso, path.join(dir, `x-meta${rev}`))
    t.equal(fs.readFileSync(path.join(out, 'docs/added.txt'), 'utf8'), `added to ${rev}\n`, `${rev}: 7-Zip reads the new file`)
    t.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha, changed\n', `${rev}: and the changed one`)
  }
  const iso = path.join(dir, 'meta2.60.iso')
  const m = mountImage(t, iso)
  t.equal(m.result.status, 0)
  t.notMatch(m.result.stderr, /read-only/, 'mounted read-write')
  fs.mkdirSync(path.join(m.mountpoint, 'BDMV'))
  fs.writeFileSync(path.join(m.mountpoint, 'BDMV', 'index.bdmv'), 'INDX0200')
  t.equal(m.unmount().status, 0, 'unmounted and committed')
  t.same(udfShape(iso).partitionMaps, [1, 2], 'through the mount: still a metadata partition')
  t.equal(udfinfoErrors(iso), '', 'udfinfo says nothing is wrong')
  const out = sevenZipUdfExtract(iso, path.join(dir, 'x-meta-mount'))
  t.equal(fs.readFileSync(path.join(out, 'BDMV/index.bdmv'), 'utf8'), 'INDX0200', '7-Zip reads the file added through the mount')
  const again = await IsoImage.open(iso, { strict: true })
  t.teardown(() => again.close())
  t.equal((await again.readFile('/BDMV/index.bdmv', 'udf')).toString(), 'INDX0200', 'our reader, strict, through the metadata file')
})

t.test('images whose UDF tree is not written again stay read-only, saying why', async t => {
  const bridge = genisoimage(path.join(dir, 'noudf.iso'), ['-udf', '-R'], src)
  const noudf = await IsoImage.open(bridge, { udf: false })
  t.match(noudf.readOnlyReasons, [{ code: 'UDF', reason: /not read: noudf/ }], 'noudf: the UDF tree would go stale')
  await noudf.close()
  const only = mkudffs(path.join(dir, 'only.udf'), 'hd', '2.01', 4096, ['--blocksize=2048'])
  const udfOnly = await IsoImage.open(only)
  t.match(udfOnly.readOnlyReasons, [{ code: 'UDF', reason: /no ISO9660 volume/ }], 'a UDF file system alone')
  await t.rejects(udfOnly.requireUnderstood(), { code: 'READ_ONLY' }, 'what a commit checks refuses it')
  await udfOnly.close()

  // What a bridge's volume could hold that the writer does not keep, each on a volume genisoimage wrote:
  // a type 2 partition map of each kind, a system stream directory, a revision not written.
  const opened = await IsoImage.open(bridge)
  const volume = opened.origin?.udf
  const recognition = { udf: { identifier: 'NSR02' as const, lba: 20, spacing: 1 } }
  await opened.close()
  if (volume === undefined) throw new Error('no UDF volume read')
  const type1 = volume.logicalVolume.partitionMaps[0]
  const type2 = (kind: string): PartitionMap => ({ type: 2, kind, id: entityId(''), volumeSequenceNumber: 1, partitionNumber: 0 }) as unknown as PartitionMap
  const reasons = (change: Partial<UdfVolume>, maps?: PartitionMap[]): string => {
    const changed = { ...volume, ...change, logicalVolume: { ...volume.logicalVolume, partitionMaps: maps ?? [type1] } }
    return readOnlyReasonsOf(recognition, { volume: changed, bridge: true }).map(r => r.reason).join('; ')
  }
  t.equal(reasons({}), '', 'the bridge as genisoimage wrote it is writable')
  const metadata = { ...type2('metadata'), partitionNumber: (type1 as Type1PartitionMap).partitionNumber } as PartitionMap
  t.equal(reasons({ revision: 0x0260 }, [type1, metadata]), '', 'a metadata partition over the type 1 one, in UDF 2.60: writable')
  t.match(reasons({}, [type1, metadata]), /its metadata partition in a UDF 1\.02 volume/, 'in a 1.02 volume: refused, named')
  t.match(reasons({ revision: 0x0260 }, [type1, { ...metadata, partitionNumber: 7 } as PartitionMap]), /its metadata partition over partition 7/, 'over a partition no type 1 map holds: refused')
  t.match(reasons({}, [type2('sparable')]), /its sparable partition.*with a metadata partition over it or not/, 'a sparable one')
  t.match(reasons({}, [type2('virtual')]), /its virtual partition/, 'a virtual one')
  t.match(reasons({}, [type1, type1]), /its 2 partitions and 0 metadata partitions; isomount writes one of each at most/, 'two type 1 partitions')
  t.match(reasons({ revision: 0x0101 }), /UDF 1\.01; isomount writes UDF 1\.02, 1\.50, 2\.00, 2\.01, 2\.50, 2\.60/, 'a revision not written')
  for (const revision of [0x0102, 0x0150, 0x0200, 0x0201, 0x0250, 0x0260]) t.equal(reasons({ revision }), '', `UDF ${revision.toString(16)} with one type 1 partition: writable`)
  const streams = { ...volume.fileSet, systemStreamDirectory: { length: 2048, location: { block: 9, partition: 0 }, implementationUse: Buffer.alloc(6) } }
  t.match(reasons({ fileSet: streams }), /system stream directory/, 'a system stream directory (named streams would be lost)')
})
