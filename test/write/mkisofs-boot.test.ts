import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { bootInQemu, checkBootInfoTable, entriesOf, ISOLINUX, writeIsolinuxTree } from '../helpers/boot'
import { isoinfoNames, isovfyErrors } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * `isotool mkisofs` El Torito and hybrid flags, each image set against the one genisoimage or
 * `xorriso -as mkisofs` makes from the same tree and flags (genisoimage has no -e or
 * -eltorito-platform; xorriso has no -boot-load-seg or -no-boot), as xorriso -report_el_torito,
 * -report_system_area, dumpet, isoinfo and qemu read them.
 */

const dir = scratch(t, 'mkisofs-boot')
const isotool = path.join(__dirname, '../../../bin/isotool')

function ours (out: string, args: string[], ...sources: string[]): string {
  run(process.execPath, [isotool, 'mkisofs', '-quiet', ...args, '-o', out, ...sources])
  return out
}

function oursFails (args: string[], ...sources: string[]): { status: number, stderr: string } {
  const r = run(process.execPath, [isotool, 'mkisofs', '-quiet', ...args, '-o', path.join(dir, 'refused.iso'), ...sources], { allowFailure: true })
  return { status: r.status, stderr: r.stderr }
}

/** A 1.44 MB floppy image, a disk image with one partition (for -hard-disk-boot), a small EFI image. */
function bootFiles (root: string): void {
  const disk = Buffer.alloc(64 * 1024)
  disk.writeUInt8(0x83, 446 + 4)
  disk.writeUInt32LE(1, 446 + 8)
  disk.writeUInt32LE(127, 446 + 12)
  disk.writeUInt16LE(0xaa55, 510)
  writeTree(root, {
    'efi.img': Buffer.alloc(1440 * 1024, 0xef),
    'floppy.img': Buffer.alloc(1440 * 1024, 0xf1),
    'disk.img': disk,
    'readme.txt': 'not a boot file\n'
  })
}

const src = path.join(dir, 'src')
writeIsolinuxTree(src, 'isomount-boot-flags')
bootFiles(src)

/** The catalog as xorriso reads it, LBAs left out (they depend on each writer's layout). */
function entries (iso: string): ReturnType<typeof entriesOf> {
  return entriesOf(xorrisoBootReport(iso).images)
}

function catalogPath (iso: string): string | undefined {
  return /^El Torito cat path\s*:\s*(\S+)/m.exec(run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']).stdout)?.[1]
}

t.test('a boot file hidden from every tree still boots, as genisoimage makes it', async t => {
  // genisoimage -boot-info-table patches the boot file in the source tree: it gets a copy of its own.
  const theirSrc = path.join(dir, 'hidden-theirs-src')
  fs.cpSync(src, theirSrc, { recursive: true })
  for (const flags of [
    ['-R'],
    ['-R', '-J', '-hide-joliet', 'isolinux.bin'],
    []
  ]) {
    await t.test(`-hide isolinux.bin ${flags.join(' ')}`, async t => {
      const args = [...flags, '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-hide', 'isolinux.bin']
      const iso = ours(path.join(dir, `hidden${flags.join('')}.iso`), args, src)
      const theirs = genisoimage(path.join(dir, `hidden${flags.join('')}-g.iso`), args, theirSrc)
      for (const ns of ['', '-R', '-J'] as const) {
        if ((ns === '-R' && !flags.includes('-R')) || (ns === '-J' && !flags.includes('-J'))) continue
        const names = isoinfoNames(iso, ns)
        t.notOk(names.some(n => /isolinux\.bin$/i.test(n)), `isoinfo ${ns || '(ISO9660)'} -l lists no isolinux.bin`)
        t.same(names, isoinfoNames(theirs, ns), `isoinfo ${ns || '(ISO9660)'} -l lists what genisoimage's image lists`)
      }
      const report = xorrisoBootReport(iso)
      t.same(entriesOf(report.images), [{ index: 1, platform: 'BIOS', bootable: true, emulation: 'none', loadSegment: 0, sectors: 4 }],
        'xorriso: the entry is there, with no path (no directory record points at the file)')
      t.same(entries(iso), entries(theirs), 'the entry genisoimage writes')
      const bytes = fs.readFileSync(iso)
      const lba = report.images[0].lba
      const bootFile = bytes.subarray(lba * 2048, lba * 2048 + fs.statSync(ISOLINUX.bin).size)
      checkBootInfoTable(t, bootFile, lba, 'the hidden isolinux.bin')
      t.match(isovfyErrors(iso), /No errors found/, 'isovfy finds no error')
      t.match(await bootInQemu(t, iso, 'cd', 'isomount-boot-flags'), /Loading \/isomount-boot-flags/, 'qemu boots it: isolinux runs and reads its config')
    })
  }
})

t.test('a file hidden from every tree that is no boot file is left out', async t => {
  // genisoimage still writes the data of such a file, which nothing can reach; we write nothing for it.
  const args = ['-R', '-J', '-hide', 'readme.txt', '-hide-joliet', 'readme.txt']
  const iso = ours(path.join(dir, 'hidden-plain.iso'), args, src)
  const theirs = genisoimage(path.join(dir, 'hidden-plain-g.iso'), args, src)
  for (const ns of ['', '-R', '-J'] as const) {
    t.same(isoinfoNames(iso, ns), isoinfoNames(theirs, ns), `isoinfo ${ns || '(ISO9660)'}: the names genisoimage writes, readme.txt not among them`)
  }
  t.notOk(fs.readFileSync(iso).includes('not a boot file'), 'its data is not in the image')
  t.ok(fs.readFileSync(theirs).includes('not a boot file'), '(genisoimage writes it unreferenced)')
})

t.test('boot options belong to the entry they are given in, as xorriso -as mkisofs reads them', async t => {
  const cases: string[][] = [
    // The reviewer's cases: the platform applies to the next -b, not to the entry before it.
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'efi', '-eltorito-alt-boot', '-b', 'efi.img', '-no-emul-boot'],
    ['-eltorito-platform', 'efi', '-b', 'efi.img', '-no-emul-boot'],
    ['-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-b', 'isolinux/isolinux.bin'],
    // A platform change closes the entry; the platform stays in force for later -b.
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'efi', '-b', 'efi.img', '-no-emul-boot'],
    ['-eltorito-platform', 'efi', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-alt-boot', '-b', 'efi.img', '-no-emul-boot'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'efi'],
    // Numbers 0-255 and xorriso's names.
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', '0x42', '-b', 'efi.img', '-no-emul-boot'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', '200', '-b', 'efi.img', '-no-emul-boot'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'PPC', '-b', 'efi.img', '-no-emul-boot', '-boot-load-size', 'full'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'Mac', '-b', 'efi.img', '-no-emul-boot'],
    // The same platform again: the second -b replaces the image of the same entry.
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-platform', 'x86', '-b', 'efi.img'],
    // -e is EFI for its entry only, and emulates a floppy unless -no-emul-boot says otherwise.
    ['-e', 'efi.img', '-no-emul-boot', '-eltorito-alt-boot', '-b', 'isolinux/isolinux.bin', '-no-emul-boot'],
    ['-e', 'efi.img'],
    // An empty entry is none; options given before the next -b belong to it.
    ['-no-emul-boot', '-b', 'isolinux/isolinux.bin', '-eltorito-alt-boot', '-eltorito-alt-boot', '-b', 'floppy.img'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-alt-boot', '-no-emul-boot', '-boot-load-size', '4', '-b', 'efi.img'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-b', 'disk.img', '-hard-disk-boot'],
    ['-c', 'isolinux/boot.cat', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot']
  ]
  for (const [i, flags] of cases.entries()) {
    // xorriso always writes Rock Ridge; so does our image here, so that both report the same paths.
    const iso = ours(path.join(dir, `entries-${i}.iso`), ['-R', ...flags], src)
    const theirs = xorrisoMkisofs(path.join(dir, `entries-${i}-x.iso`), ['-R', ...flags], src)
    t.same(entries(iso), entries(theirs), `${flags.join(' ')}: the entries xorriso -as mkisofs writes`)
    t.equal(catalogPath(iso), catalogPath(theirs), `${flags.join(' ')}: the catalog where xorriso puts it`)
  }
  t.same(entries(path.join(dir, 'entries-0.iso')).map(e => e.platform), ['BIOS', 'UEFI'], 'the reviewer\'s case: entry 1 BIOS, entry 2 UEFI')
  t.same(entries(path.join(dir, 'entries-6.iso')).map(e => e.platform), ['BIOS', '0x42'], 'a numeric platform id is recorded as given')

  const dumpet = run('dumpet', ['-i', path.join(dir, 'entries-0.iso')]).stdout
  t.match(dumpet, /Validation Entry:\s*\n[^\n]*\n\s*PlatformId: 0x00 \(80x86\)/, 'dumpet: the validation entry (default entry) is x86')
  t.match(dumpet, /Section Header Entry:\s*\n[^\n]*\n\s*PlatformId: 0xef \(EFI\)/, 'dumpet: the section is EFI')

  const bad = oursFails(['-R', '-eltorito-platform', '256', '-b', 'efi.img'], src)
  t.equal(bad.status, 2, '-eltorito-platform 256 exits 2 (xorriso: "Unrecognized El Torito Platform Id")')
  t.match(bad.stderr, /-eltorito-platform.*256/, 'naming the option and the value')
  t.equal(oursFails(['-R', '-eltorito-platform', 'ppc', '-b', 'efi.img'], src).status, 2, 'so does "ppc" (xorriso takes "PPC" only)')
})

t.test('entries genisoimage makes the same: -hard-disk-boot, -no-boot, -boot-load-seg, several -eltorito-alt-boot', async t => {
  const cases: string[][] = [
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-seg', '0x1000', '-no-boot', '-eltorito-alt-boot', '-b', 'disk.img', '-hard-disk-boot'],
    ['-b', 'floppy.img'],
    ['-no-emul-boot', '-boot-load-size', '4', '-b', 'isolinux/isolinux.bin', '-eltorito-alt-boot', '-b', 'floppy.img', '-eltorito-alt-boot', '-b', 'efi.img', '-no-emul-boot'],
    ['-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-b', 'efi.img']
  ]
  for (const [i, flags] of cases.entries()) {
    const iso = ours(path.join(dir, `g-entries-${i}.iso`), ['-R', ...flags], src)
    const theirs = genisoimage(path.join(dir, `g-entries-${i}-g.iso`), ['-R', ...flags], src)
    t.same(entries(iso), entries(theirs), `${flags.join(' ')}: the entries genisoimage writes`)
  }
  const first = entries(path.join(dir, 'g-entries-0.iso'))
  t.same(first.map(e => [e.bootable, e.emulation, e.loadSegment]), [[false, 'none', 0x1000], [true, 'hd', 0]], 'not bootable, loaded at 0x1000; then a hard disk')
  const dumpet = run('dumpet', ['-i', path.join(dir, 'g-entries-0.iso')]).stdout
  t.match(dumpet, /Default Entry:\s*\n\s*Entry is not bootable\n[^\n]*\n\s*Media load segment: 0x1000/, 'dumpet: the default entry is not bootable, loaded at segment 0x1000')
  t.match(dumpet, /hard disk emulation[\s\S]*System type: 131/, 'dumpet: the hard disk entry records the partition type (0x83)')
})

t.test('the boot catalog: /boot.catalog by default, -c elsewhere, -hide as genisoimage applies it', async t => {
  const plain = ours(path.join(dir, 'cat-default.iso'), ['-R', '-J', '-b', 'isolinux/isolinux.bin', '-no-emul-boot'], src)
  t.equal(catalogPath(plain), '/boot.catalog', 'no -c: /boot.catalog in the root')
  t.equal(catalogPath(xorrisoMkisofs(path.join(dir, 'cat-default-x.iso'), ['-R', '-J', '-b', 'isolinux/isolinux.bin', '-no-emul-boot'], src)), '/boot.catalog', '(xorriso too)')
  const theirs = genisoimage(path.join(dir, 'cat-default-g.iso'), ['-R', '-J', '-b', 'isolinux/isolinux.bin', '-no-emul-boot'], src)
  t.equal(catalogPath(theirs), '/boot.catalog', '(genisoimage too)')
  for (const ns of ['', '-R', '-J'] as const) t.same(isoinfoNames(plain, ns), isoinfoNames(theirs, ns), `isoinfo ${ns || '(ISO9660)'}: the names genisoimage writes`)

  for (const flags of [
    ['-R', '-J', '-c', 'isolinux/boot.cat', '-hide', 'isolinux/boot.cat'],
    ['-R', '-J', '-c', 'isolinux/boot.cat', '-hide', 'boot.cat'],
    ['-R', '-c', 'isolinux/boot.cat', '-hide', 'isolinux/boot.cat'],
    ['-c', 'isolinux/boot.cat']
  ]) {
    const args = [...flags, '-b', 'isolinux/isolinux.bin', '-no-emul-boot']
    const iso = ours(path.join(dir, 'cat.iso'), args, src)
    const reference = genisoimage(path.join(dir, 'cat-g.iso'), args, src)
    for (const ns of ['', '-R', '-J'] as const) {
      if ((ns === '-J' && !flags.includes('-J')) || (ns === '-R' && !flags.includes('-R'))) continue
      t.same(isoinfoNames(iso, ns), isoinfoNames(reference, ns), `${flags.join(' ')}: isoinfo ${ns || '(ISO9660)'} lists the catalog where genisoimage's image does`)
    }
    t.same(entries(iso), entries(reference), `${flags.join(' ')}: the entry genisoimage writes`)
  }
})

t.test('-isohybrid-gpt-basdat: the marked entry a Basic Data partition, as xorriso writes it', async t => {
  /**
   * What xorriso -report_system_area says of partitions, positions left out (each writer lays out its own).
   * GPT entries are numbered in disk order by both writers, and the files lie in a different order (ours as
   * genisoimage places boot images, first): each GPT entry is compared whole, whatever its number.
   */
  const systemArea = (iso: string): string[] => {
    const lines = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']).stdout.split('\n')
      .filter(l => /^(MBR partition (path)?|GPT type GUID|GPT partname local|GPT partition flags|GPT partition path|System area summary)\s*:/.test(l))
      .map(l => /^MBR partition\s*:/.test(l) ? l.replace(/\s+\d+\s+\d+\s*$/, '') : l)
    const gpt = new Map<string, string[]>()
    for (const l of lines) {
      const m = /^(GPT [^:]*?)\s*:\s*(\d+)\s+(.*)$/.exec(l)
      if (m !== null) gpt.set(m[2], [...gpt.get(m[2]) ?? [], `${m[1]}: ${m[3]}`])
    }
    return [...lines.filter(l => !l.startsWith('GPT ')), ...[...gpt.values()].map(entry => entry.join(' | ')).sort()]
  }
  const base = ['-R', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-isohybrid-mbr', ISOLINUX.mbr]
  const theirSrc = path.join(dir, 'gpt-theirs-src')
  fs.cpSync(src, theirSrc, { recursive: true })
  for (const [label, flags, partitions] of [
    ['given after -e: the EFI image', [...base, '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'], 2],
    ['given before -eltorito-alt-boot: isolinux.bin', [...base, '-isohybrid-gpt-basdat', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot'], 2],
    ['given for both entries', [...base, '-isohybrid-gpt-basdat', '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'], 3]
  ] as const) {
    const iso = ours(path.join(dir, 'gpt.iso'), [...flags], src)
    const theirs = xorrisoMkisofs(path.join(dir, 'gpt-x.iso'), [...flags], theirSrc)
    const area = systemArea(iso)
    t.same(area, systemArea(theirs), `${label}: partitions, types, names and flags as xorriso writes them`)
    t.equal(area.filter(l => /GPT type GUID: a2a0d0ebe5b9334487c068b6b72699c7/.test(l)).length, partitions,
      `${label}: every GPT partition is Basic Data (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7), none an EFI System Partition`)
  }
  t.equal(oursFails(['-R', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-isohybrid-gpt-basdat'], src).status, 2, 'without -isohybrid-mbr: exit 2 (xorriso: "works only with -isohybrid-mbr")')
})
