import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { ImageExtentsSource } from '../../src/iso/model/data-source'
import { run, scratch, writeTree } from '../helpers/tools'
import { sevenZipUdfListing, udfinfo } from '../helpers/udf'

/*
 * An image shaped like Windows install media, built by genisoimage: the real tree (boot/, efi/microsoft/
 * boot/, sources/ with an install.wim over 4 GiB) only in UDF, an ISO9660 side holding a README, and
 * El Torito entries for BIOS and EFI. genisoimage -allow-limited-size records the large file whole in
 * UDF (several allocation descriptors) and cut to its size modulo 4 GiB on the ISO9660 side, as Windows
 * media carry it. The image is written through dd conv=sparse, so its 4 GiB of zeros take no disk.
 */

const dir = scratch(t, 'udf-windows')
const src = path.join(dir, 'src')
const SIZE = 2 ** 32 + 64 * 1024
const marks: Array<[number, string]> = [[0, 'START'], [2 ** 32 - 3, 'ACROSS'], [SIZE - 3, 'END']]
writeTree(src, {
  'README.TXT': 'Windows Setup\n',
  boot: { 'etfsboot.com': Buffer.alloc(2048, 0xeb), 'bcd': 'bcd\n' },
  efi: { microsoft: { boot: { 'efisys.bin': Buffer.alloc(1474560, 0xf0), 'bcd': 'efi bcd\n' } } },
  sources: { 'boot.wim': Buffer.alloc(100000, 0xb0) }
})
const wim = path.join(src, 'sources/install.wim')
const fd = fs.openSync(wim, 'w')
for (const [at, text] of marks) fs.writeSync(fd, text, at)
fs.closeSync(fd)
const iso = path.join(dir, 'win.iso')
run('sh', ['-c', `genisoimage -quiet -udf -allow-limited-size -V WINSETUP -hide boot -hide efi -hide sources -hide boot.catalog \
  -b boot/etfsboot.com -no-emul-boot -boot-load-size 4 -eltorito-alt-boot -e efi/microsoft/boot/efisys.bin -no-emul-boot '${src}' \
  | dd of='${iso}' bs=1M conv=sparse iflag=fullblock status=none`])

t.test('Windows-shaped install media read through the udf namespace', async t => {
  t.ok(fs.statSync(iso).size > SIZE, 'the image is over 4 GiB')
  const image = await IsoImage.open(iso, { strict: true })
  t.teardown(() => image.close())
  t.equal(image.defaultNamespace, 'udf', 'no Rock Ridge: UDF is the default')
  t.same((await image.readdir('/', 'iso9660')).map(e => e.name), ['README.TXT'], 'the ISO9660 side holds only the README')
  const top = (await image.readdir('/')).map(e => e.name).sort()
  t.same(top, ['README.TXT', 'boot', 'boot.catalog', 'efi', 'sources'])
  const readme = await image.lookup('/README.TXT', 'udf')
  t.equal(readme, await image.lookup('/README.TXT', 'iso9660'), 'the README is one node in both trees')

  const node = await image.lookup('/sources/install.wim', 'udf')
  t.equal(node.inode.size, SIZE, 'install.wim is one file of 4 GiB + 64 KiB')
  t.equal(sevenZipUdfListing(iso)['sources/install.wim']?.size, SIZE, '7-Zip agrees')
  const sections = (node.inode.data as ImageExtentsSource).sections
  t.equal(sections.reduce((sum, s) => sum + s.length, 0), SIZE)
  for (const [at, text] of marks) {
    const buf = Buffer.alloc(text.length)
    t.equal(await node.inode.data.read(buf, 0, buf.length, at), text.length)
    t.equal(buf.toString('latin1'), text, `"${text}" at byte ${at}`)
  }
  t.equal((await image.readFile('/efi/microsoft/boot/bcd')).toString(), 'efi bcd\n')
  const info = udfinfo(iso)
  let files = 0
  for await (const { node: n } of image.walk('/')) if (!n.isDirectory) files++
  t.equal(files, Number(info.numfiles), `udfinfo counts ${info.numfiles} files, as we list them`)
  const boot = await image.bootConfiguration()
  t.equal(boot?.defaultImage.payload.holder, (await image.lookup('/boot/etfsboot.com')).inode, 'the BIOS boot entry is the UDF tree\'s etfsboot.com')
  t.equal(boot?.sections[0]?.images[0]?.payload.holder, (await image.lookup('/efi/microsoft/boot/efisys.bin')).inode, 'the EFI one its efisys.bin')
})
