import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { ISOLINUX } from '../helpers/boot'
import { ISOTOOL } from '../helpers/mount'
import { run, scratch, writeTree } from '../helpers/tools'

/*
 * xorriso -as mkisofs's system-area options (issue 10 §5, issue 13) through `isotool mkisofs`, each command
 * compared with xorriso's own output for the same command: `xorriso -report_system_area plain` and
 * `-report_el_torito as_mkisofs` must say the same, but for what depends on where things land (the images'
 * contents are laid out differently), GUIDs and dates. The partition tables must also be valid (sgdisk -v)
 * and the El Torito images where the entries say.
 */

const dir = scratch(t, 'mkisofs-hybrid')
const src = path.join(dir, 'src')
const grubImage = path.join(dir, 'eltorito.img')
run('grub-mkimage', ['-O', 'i386-pc-eltorito', '-o', grubImage, '-p', '/boot/grub', 'biosdisk', 'iso9660', 'normal', 'echo'])
writeTree(src, {
  isolinux: { 'isolinux.bin': fs.readFileSync(ISOLINUX.bin), 'isolinux.cfg': 'DEFAULT x\n' },
  boot: { grub: { 'grub.cfg': 'echo hello\n', 'i386-pc': { 'eltorito.img': fs.readFileSync(grubImage) } } },
  'readme.txt': 'hello\n'
})
const efi = path.join(dir, 'efi.img')
run('dd', ['if=/dev/zero', `of=${efi}`, 'bs=1k', 'count=2880', 'status=none'])
run('mkfs.vfat', [efi])
fs.copyFileSync(efi, path.join(src, 'efi.img'))
const GRUB_MBR = '/usr/lib/grub/i386-pc/boot_hybrid.img'
const ISOLINUX_BOOT = ['-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table']
const GRUB_BOOT = ['-c', '/boot.catalog', '-b', '/boot/grub/i386-pc/eltorito.img', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info']
const EFI_APPENDED = ['-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::', '-no-emul-boot']

const cases: Array<{ name: string, args: string[] }> = [
  {
    name: 'the issue\'s Ubuntu-style layout (isolinux, ESP appended as GPT)',
    args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-append_partition', '2', '0xef', efi, '-appended_part_as_gpt', ...EFI_APPENDED, '-isohybrid-gpt-basdat']
  },
  {
    name: 'Ubuntu 22.04\'s own command (GRUB MBR, partition offset 16, ESP appended as GPT)',
    args: ['--grub2-mbr', GRUB_MBR, '--protective-msdos-label', '-partition_cyl_align', 'off', '-partition_offset', '16', '--mbr-force-bootable',
      '-append_partition', '2', '28732ac11ff8d211ba4b00a0c93ec93b', efi, '-appended_part_as_gpt', '-iso_mbr_part_type', 'a2a0d0ebe5b9334487c068b6b72699c7',
      ...GRUB_BOOT, ...EFI_APPENDED]
  },
  {
    name: 'debian-cd\'s (isohybrid, partition offset 16, ESP appended in the MBR, marked in a GPT)',
    args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-partition_offset', '16', '-append_partition', '2', '0xef', efi, ...EFI_APPENDED, '-isohybrid-gpt-basdat']
  },
  { name: 'isohybrid, ESP appended in the MBR', args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-append_partition', '2', '0xef', efi] },
  { name: 'isohybrid, EFI image in the tree marked in a GPT', args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'] },
  { name: 'isohybrid with an Apple Partition Map', args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-isohybrid-apm-hfsplus'] },
  { name: 'GRUB MBR with a protective MBR label and an appended partition', args: ['--grub2-mbr', GRUB_MBR, '--protective-msdos-label', ...GRUB_BOOT, '-append_partition', '2', '0xef', efi] },
  { name: 'a protective MBR label alone', args: [...ISOLINUX_BOOT, '--protective-msdos-label'] },
  { name: 'a partition offset alone', args: [...ISOLINUX_BOOT, '-partition_offset', '16'] },
  { name: 'isohybrid with -iso_mbr_part_type 0x83', args: [...ISOLINUX_BOOT, '-isohybrid-mbr', ISOLINUX.mbr, '-iso_mbr_part_type', '0x83'] }
]

/** What the two reports say apart from addresses, sizes, GUIDs and dates. */
function comparable (iso: string): { systemArea: string[], elTorito: string[] } {
  const report = (what: string): string[] => run('xorriso', ['-indev', iso, '-report_system_area', 'plain', '-report_el_torito', what], { allowFailure: true }).stdout.split('\n')
  const systemArea = report('plain')
    .filter(l => /^(System area summary|Partition offset|MBR partition  |GPT (entry array|partname local|type GUID|partition flags)|APM (block size|partition name|partition type)|El Torito (images|boot img|img opts|img path))/.test(l))
    .map(l => l.startsWith('MBR partition  ') ? l.split(/\s+/).slice(0, 6).join(' ') : l) // status and type, not start and size
    .map(l => l.startsWith('El Torito boot img') ? l.replace(/\s+\d+$/, '') : l) // not the LBA
    .map(l => l.replace(/^(GPT entry array\s*:\s*\d+\s+\d+).*/, '$1')) // "separated"/"overlapping" follows the sizes
  const elTorito = report('as_mkisofs')
    .filter(l => l.startsWith('-') && !l.startsWith('--modification-date'))
    .map(l => l.replace(/'[^']*\.iso'/g, "'IMAGE'").replace(/:\d+d-\d+d:/g, ':N-N:').replace(/_start_\d+s_/g, '_start_Ns_').replace(/^(-boot-load-size )\d+$/, '$1N'))
  return { systemArea, elTorito }
}

/** Whether the primary volume descriptor's size reaches the end of the file (appended partitions included). */
function volumeCoversPartitions (iso: string): boolean {
  const bytes = fs.readFileSync(iso)
  return bytes.readUInt32LE(16 * 2048 + 80) * 2048 >= bytes.length
}

for (const c of cases) {
  t.test(c.name, async t => {
    const ours = path.join(dir, `ours-${cases.indexOf(c)}.iso`)
    const theirs = path.join(dir, `xorriso-${cases.indexOf(c)}.iso`)
    // Each tool has its own default volume id (genisoimage's CDROM, xorriso's ISOIMAGE): given here.
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-r', '-J', '-V', 'HYBRID', ...c.args, '-o', theirs, src])
    const result = run(process.execPath, [ISOTOOL, 'mkisofs', '-quiet', '-r', '-J', '-V', 'HYBRID', ...c.args, '-o', ours, src], { allowFailure: true })
    t.equal(result.status, 0, `isotool mkisofs succeeds: ${result.stderr}`)
    const expected = comparable(theirs)
    const actual = comparable(ours)
    t.same(actual.systemArea, expected.systemArea, 'xorriso -report_system_area says the same')
    t.same(actual.elTorito, expected.elTorito, 'xorriso -report_el_torito as_mkisofs says the same')
    // sgdisk finds fault with some of xorriso's own layouts (an isohybrid partition from block 0 overlaps
    // the GPT): ours must be as clean as xorriso's.
    const verdict = (iso: string): string => /No problems found/.test(run('sgdisk', ['-v', iso], { allowFailure: true }).stdout) ? 'no problems' : 'problems'
    if (expected.systemArea.some(l => l.startsWith('GPT'))) t.equal(verdict(ours), verdict(theirs), 'sgdisk -v: as clean as xorriso\'s image')
    t.equal(volumeCoversPartitions(ours), volumeCoversPartitions(theirs), 'the volume size covers the appended partitions where xorriso\'s does')
    // The El Torito images are where the entries say, with what was given.
    const image = await IsoImage.open(ours)
    t.teardown(() => image.close())
    const entries = image.elTorito?.images ?? []
    const bytes = fs.readFileSync(ours)
    for (const entry of entries) {
      const expectedStart = entry.platform === 0xef && c.args.includes('--interval:appended_partition_2:all::')
        ? fs.readFileSync(efi).subarray(0, 2048)
        : undefined
      if (expectedStart !== undefined) t.ok(bytes.subarray(entry.loadLba * 2048, entry.loadLba * 2048 + 2048).equals(expectedStart), 'the EFI entry boots the appended ESP')
    }
    if (c.args.includes('--grub2-boot-info')) {
      const lba = entries[0].loadLba
      t.equal(bytes.readBigUInt64LE(lba * 2048 + 2548), BigInt(lba) * 4n + 5n, '--grub2-boot-info: eltorito.img knows its address')
    }
    if (c.args.includes('--grub2-mbr')) t.equal(bytes.readBigUInt64LE(432), BigInt(entries[0].loadLba) * 4n + 4n, '--grub2-mbr: MBR byte 432 names the BIOS image + 4')
  })
}

t.test('--grub2-mbr from an interval of an existing ISO (Ubuntu\'s remaster recipe)', async t => {
  const template = path.join(dir, 'xorriso-1.iso')
  const out = path.join(dir, 'from-interval.iso')
  const args = ['-quiet', '-r', '-J', '--grub2-mbr', `--interval:local_fs:0s-15s:zero_mbrpt,zero_gpt:${template}`, '--protective-msdos-label', ...GRUB_BOOT, '-o', out, src]
  t.equal(run(process.execPath, [ISOTOOL, 'mkisofs', ...args], { allowFailure: true }).status, 0, 'accepted')
  const original = fs.readFileSync(template)
  const bytes = fs.readFileSync(out)
  t.ok(bytes.subarray(0, 432).equals(original.subarray(0, 432)), 'the boot code is the template\'s')
  t.match(run('xorriso', ['-indev', out, '-report_system_area', 'plain'], { allowFailure: true }).stdout, /System area summary: MBR protective-msdos-label grub2-mbr/)
})

t.test('unsupported interval sources are refused, saying why', async t => {
  const out = path.join(dir, 'refused.iso')
  const result = run(process.execPath, [ISOTOOL, 'mkisofs', '--grub2-mbr', '--interval:imported_iso:0s-15s::', ...GRUB_BOOT, '-o', out, src], { allowFailure: true })
  t.equal(result.status, 1)
  t.match(result.stderr, /imported_iso.*-indev/)
  t.notOk(fs.existsSync(out), 'nothing written')
})
