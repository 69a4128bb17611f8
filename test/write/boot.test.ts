import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { bootInQemu, checkBootInfoTable, entriesOf, imageSectors, isolinuxConfig, ISOLINUX, ISOLINUX_FLAGS, writeIsolinuxTree } from '../helpers/boot'
import { extractWithBsdtar } from '../helpers/readers'
import { DEBIAN_IMAGES, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { snapshot } from '../helpers/tree'
import { xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * Boot records we create or keep, judged by xorriso's and dumpet's reading of them, by a boot info table
 * check written here from the El Torito/mkisofs definition, and by qemu actually booting isolinux.
 */

const dir = scratch(t, 'boot-write')
const isotool = path.join(__dirname, '../../../bin/isotool')


t.test('the isolinux recipe through isotool mkisofs', async t => {
  const src = path.join(dir, 'isolinux-src')
  writeIsolinuxTree(src, 'isomount-mkisofs')
  const iso = path.join(dir, 'isolinux.iso')
  run(process.execPath, [isotool, 'mkisofs', '-quiet', '-R', '-J', '-V', 'BOOT', ...ISOLINUX_FLAGS, '-o', iso, src])
  const report = xorrisoBootReport(iso)
  t.same(entriesOf(report.images), [{ index: 1, platform: 'BIOS', bootable: true, emulation: 'none', loadSegment: 0, sectors: 4, path: '/isolinux/isolinux.bin' }],
    'xorriso: one bootable no-emulation BIOS entry loading 4 sectors of /isolinux/isolinux.bin')
  t.same(report.mbr, [{ index: 1, status: 0x80, type: 0x17, start: 0, blocks: imageSectors(iso) }], 'xorriso: an active MBR partition covering the image')
  const dumpet = run('dumpet', ['-i', iso]).stdout
  t.match(dumpet, /Boot Media emulation type: no emulation/, 'dumpet reads the catalog')
  t.match(dumpet, new RegExp(`Load LBA: ${report.images[0].lba} `), 'dumpet and xorriso agree on the boot image LBA')
  const booted = fs.readFileSync(path.join(extractWithBsdtar(iso, path.join(dir, 'isolinux-x')), 'isolinux/isolinux.bin'))
  checkBootInfoTable(t, booted, report.images[0].lba, 'isolinux.bin')
  t.match(await bootInQemu(t, iso, 'cd', 'isomount-mkisofs'), /Loading \/isomount-mkisofs/, 'qemu boots it as a CD: isolinux reads its config')
  t.match(await bootInQemu(t, iso, 'disk', 'isomount-mkisofs'), /Loading \/isomount-mkisofs/, 'qemu boots it as a hard disk through the isohybrid MBR')
})

t.test('El Torito entries of every kind through the API, as xorriso and dumpet read them', async t => {
  const disk = Buffer.alloc(1024 * 1024)
  disk.writeUInt32LE(1, 446 + 8)
  disk.writeUInt32LE(2047, 446 + 12)
  disk[446 + 4] = 0x83
  disk.writeUInt16LE(0xaa55, 510)
  const image = IsoImage.create({ rockRidge: true, joliet: true })
  await image.addDirectory('/boot')
  await image.addFile('/boot/isolinux.bin', fs.readFileSync(ISOLINUX.bin))
  await image.addFile('/boot/floppy.img', Buffer.alloc(1474560, 0xf1))
  await image.addFile('/boot/disk.img', disk)
  await image.addFile('/boot/efi.img', Buffer.alloc(1440 * 1024, 0xef))
  await image.addFile('/boot/ppc.bin', Buffer.alloc(4096, 0x99))
  await image.addElTorito({ bootFile: '/boot/isolinux.bin', catalogPath: '/boot/boot.cat', emulation: 'none', loadSize: 4, bootInfoTable: true })
  await image.addElTorito({ bootFile: '/boot/floppy.img', emulation: 'floppy' })
  await image.addElTorito({ bootFile: '/boot/disk.img', emulation: 'hard-disk', loadSegment: 0x1000 })
  await image.addElTorito({ bootFile: '/boot/efi.img', platform: 'efi', emulation: 'none' })
  await image.addElTorito({ bootFile: '/boot/ppc.bin', platform: 'ppc', emulation: 'none', bootable: false })
  const iso = path.join(dir, 'entries.iso')
  await image.write(iso)
  const report = xorrisoBootReport(iso)
  t.same(entriesOf(report.images), [
    { index: 1, platform: 'BIOS', bootable: true, emulation: 'none', loadSegment: 0, sectors: 4, path: '/boot/isolinux.bin' },
    { index: 2, platform: 'BIOS', bootable: true, emulation: 'fd1.4', loadSegment: 0, sectors: 1, path: '/boot/floppy.img' },
    { index: 3, platform: 'BIOS', bootable: true, emulation: 'hd', loadSegment: 0x1000, sectors: 1, path: '/boot/disk.img' },
    { index: 4, platform: 'UEFI', bootable: true, emulation: 'none', loadSegment: 0, sectors: 2880, path: '/boot/efi.img' },
    { index: 5, platform: 'PPC', bootable: false, emulation: 'none', loadSegment: 0, sectors: 8, path: '/boot/ppc.bin' }
  ], 'xorriso reads every entry as asked (platform, emulation, load segment and size, path)')
  const dumpet = run('dumpet', ['-i', iso]).stdout
  t.equal((dumpet.match(/^Section Header Entry:/gm) ?? []).length, 3, 'dumpet: a section per further platform run (BIOS, EFI, PPC)')
  t.match(dumpet, /1\.44MB floppy diskette emulation/, 'dumpet: the floppy emulation')
  t.match(dumpet, /hard disk emulation\n\s*Media load segment: 0x1000\n\s*System type: 131/, 'dumpet: the hard-disk emulation, with the partition type of the disk image (El Torito 2.2)')
  const extracted = extractWithBsdtar(iso, path.join(dir, 'entries-x'))
  checkBootInfoTable(t, fs.readFileSync(path.join(extracted, 'boot/isolinux.bin')), report.images[0].lba, 'isolinux.bin')

  const reopened = await IsoImage.open(iso)
  await reopened.removeElTorito()
  const without = path.join(dir, 'entries-removed.iso')
  await reopened.write(without)
  await reopened.close()
  t.same(xorrisoBootReport(without).images, [], 'after removeElTorito xorriso finds no boot entry')
  t.notOk(fs.existsSync(path.join(extractWithBsdtar(without, path.join(dir, 'removed-x')), 'boot/boot.cat')), 'and the catalog file is gone')
})

t.test('a hidden catalog and the MBR+GPT hybrid for EFI', async t => {
  const src = path.join(dir, 'gpt-src')
  writeIsolinuxTree(src, 'isomount-gpt')
  writeTree(src, { 'efi.img': Buffer.alloc(1440 * 1024, 0xef) })
  const image = IsoImage.create({ rockRidge: true, joliet: true })
  const { importHostTree } = await import('../../src/iso/edit/host-import')
  await importHostTree(image, src, '/')
  await image.addElTorito({ bootFile: '/isolinux/isolinux.bin', hiddenCatalog: true, loadSize: 4, bootInfoTable: true, emulation: 'none' })
  await image.addElTorito({ bootFile: '/efi.img', platform: 'efi', emulation: 'none' })
  await image.addIsohybrid({ mbr: fs.readFileSync(ISOLINUX.mbr), gpt: true })
  const iso = path.join(dir, 'gpt.iso')
  await image.write(iso)
  const report = xorrisoBootReport(iso)
  t.equal(report.images.length, 2, 'two entries')
  t.notOk(run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']).stdout.includes('cat path'), 'the catalog has no directory entry')
  t.ok(report.gpt.length >= 1, 'xorriso finds a GPT')
  const efiEntry = report.images[1]
  t.ok(report.gpt.some(p => p.start === efiEntry.lba * 4 && p.size === 1440 * 2), 'a GPT partition is the EFI boot image (as xorriso -isohybrid-gpt-basdat)')
  t.match(run('xorriso', ['-indev', iso, '-report_system_area', 'plain']).stdout, /GPT/, 'xorriso summarises the system area as GPT')
  t.match(await bootInQemu(t, iso, 'disk', 'isomount-gpt'), /Loading \/isomount-gpt/, 'qemu boots it as a hard disk')
})

/** Edits an opened image the way a user customises a boot medium; returns the written image. */
async function customise (source: string, out: string, configPath: string | undefined, config: string): Promise<void> {
  const image = await IsoImage.open(source)
  if (configPath !== undefined) {
    await image.remove(configPath)
    await image.addFile(configPath, Buffer.from(config))
  }
  await image.addDirectory('/extra')
  await image.addFile('/extra/large.bin', Buffer.alloc(64 * 1024 * 1024, 0x4c))
  await image.addFile('/extra/to-rename.txt', Buffer.from('rename me\n'))
  await image.rename('/extra/to-rename.txt', '/extra/renamed.txt')
  await image.write(out)
  await image.close()
}

t.test('hybrid: editing isolinux images made by genisoimage and xorriso keeps them bootable', async t => {
  const src = path.join(dir, 'hybrid-src')
  writeIsolinuxTree(src, 'isomount-before')
  const made = {
    xorriso: xorrisoMkisofs(path.join(dir, 'by-xorriso.iso'), ['-R', '-J', ...ISOLINUX_FLAGS], src),
    genisoimage: (() => {
      const out = path.join(dir, 'by-genisoimage.iso')
      run('genisoimage', ['-quiet', '-R', '-J', ...ISOLINUX_FLAGS.slice(0, -2), '-o', out, src])
      return out
    })()
  }
  for (const [maker, iso] of Object.entries(made)) {
    const before = xorrisoBootReport(iso)
    const out = path.join(dir, `edited-${maker}.iso`)
    await customise(iso, out, '/isolinux/isolinux.cfg', isolinuxConfig(`isomount-${maker}`))
    const after = xorrisoBootReport(out)
    t.same(entriesOf(after.images), entriesOf(before.images), `${maker}: the same El Torito entries`)
    const extracted = extractWithBsdtar(out, path.join(dir, `edited-${maker}-x`))
    checkBootInfoTable(t, fs.readFileSync(path.join(extracted, 'isolinux/isolinux.bin')), after.images[0].lba, `${maker}: isolinux.bin`)
    t.same(Object.keys(snapshot(extracted)).sort(), [
      'extra', 'extra/large.bin', 'extra/renamed.txt', 'isolinux', 'isolinux/boot.cat', 'isolinux/isolinux.bin', 'isolinux/isolinux.cfg', 'isolinux/ldlinux.c32'
    ], `${maker}: bsdtar sees the edited tree`)
    if (before.mbr.length > 0) {
      t.same(after.mbr, [{ ...before.mbr[0], blocks: imageSectors(out) }], `${maker}: the MBR partition grows with the image`)
      t.match(await bootInQemu(t, out, 'disk', `isomount-${maker}`), new RegExp(`Loading /isomount-${maker}`), `${maker}: boots as a disk with the new config`)
    }
    t.match(await bootInQemu(t, out, 'cd', `isomount-${maker}`), new RegExp(`Loading /isomount-${maker}`), `${maker}: boots as a CD with the new config`)
  }
})

t.test('hybrid: Debian\'s ipxe.iso edited keeps its BIOS and EFI entries and its isohybrid MBR', async t => {
  const out = path.join(dir, 'ipxe-edited.iso')
  const before = xorrisoBootReport(DEBIAN_IMAGES.ipxe)
  await customise(DEBIAN_IMAGES.ipxe, out, undefined, '')
  const after = xorrisoBootReport(out)
  t.same(entriesOf(after.images), entriesOf(before.images), 'the same two entries (BIOS isolinux.bin, UEFI efi.img)')
  // ipxe.iso is cylinder-aligned (xorriso "cyl-align-on"): the partition covers whole 1 MiB cylinders.
  t.equal(after.mbr.length, 1, 'one MBR partition')
  t.same({ ...after.mbr[0], blocks: 0 }, { ...before.mbr[0], blocks: 0 }, 'the same partition type, status and start')
  t.ok(after.mbr[0].blocks >= imageSectors(out) - 1 && after.mbr[0].blocks % 2048 === 0, 'covering the grown image in whole cylinders')
  const extracted = extractWithBsdtar(out, path.join(dir, 'ipxe-x'))
  checkBootInfoTable(t, fs.readFileSync(path.join(extracted, 'isolinux.bin')), after.images[0].lba, 'isolinux.bin')
  // isolinux.bin differs by its boot info table and boot.cat by the LBAs it holds; both are checked above.
  const original = snapshot(extractWithBsdtar(DEBIAN_IMAGES.ipxe, path.join(dir, 'ipxe-orig-x')), { skip: /^(isolinux\.bin|boot\.cat)$/ })
  const edited = snapshot(extracted, { skip: /^(isolinux\.bin|boot\.cat)$|^extra/ })
  t.same(edited, original, 'every other original file is unchanged')
})

t.test('grub-rescue-cdrom.iso (GRUB boot_hybrid.img MBR, a 0xcd partition from block 1, grub2 boot info) edited stays valid', async t => {
  const out = path.join(dir, 'grub-edited.iso')
  const image = await IsoImage.open(DEBIAN_IMAGES.grubRescue)
  t.same(image.readOnlyReasons, [], 'nothing keeps it read-only')
  await image.addFile('/extra.txt', Buffer.alloc(3 * 1024 * 1024, 0x61))
  await image.write(out)
  await image.close()
  const before = xorrisoBootReport(DEBIAN_IMAGES.grubRescue)
  const after = xorrisoBootReport(out)
  t.same(entriesOf(after.images), entriesOf(before.images), 'the same El Torito entry')
  t.same(after.mbr.map(p => ({ ...p, blocks: 0 })), before.mbr.map(p => ({ ...p, blocks: 0 })), 'the same MBR partition (type 0xcd from block 1)')
  t.equal(after.mbr[0].blocks, imageSectors(out) - 1, 'covering the grown image from block 1')
  const bytes = fs.readFileSync(out)
  const lba = after.images[0].lba
  t.equal(bytes.readBigUInt64LE(432), BigInt(lba) * 4n + 4n, 'MBR byte 432: the boot image\'s 512-byte address + 4 (xorriso --grub2-mbr)')
  t.equal(bytes.readBigUInt64LE(lba * 2048 + 2548), BigInt(lba) * 4n + 5n, 'byte 2548 of eltorito.img: its 2 KiB address x 4 + 5 (--grub2-boot-info)')
  const original = fs.readFileSync(DEBIAN_IMAGES.grubRescue)
  t.ok(bytes.subarray(0, 432).equals(original.subarray(0, 432)), 'GRUB\'s boot code is carried byte for byte')
  t.equal(bytes.readUInt32LE(440), original.readUInt32LE(440), 'and so is the disk signature')
  const report = run('xorriso', ['-indev', out, '-report_system_area', 'plain'], { allowFailure: true }).stdout
  t.match(report, /System area summary: MBR protective-msdos-label grub2-mbr/, 'xorriso recognises the system area as before')
})
