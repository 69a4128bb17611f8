import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage, statOf, type Namespace } from '../../src'
import { guidToString } from '../../src/iso/codec/gpt'
import { extractWithBsdtar } from '../helpers/readers'
import { DEBIAN_IMAGES, genisoimage, scratch, writeTree, xorrisoMkisofs } from '../helpers/tools'
import { sha256, snapshot, type TreeEntry } from '../helpers/tree'
import { XORRISO_EMULATION, XORRISO_PLATFORM, xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * El Torito catalogs and hybrid system areas as the library parses them, against xorriso's reports of
 * the same images; and the real images Debian ships, against bsdtar's extraction.
 */

const ISOLINUX = '/usr/lib/ISOLINUX/isolinux.bin'
const ISOHDPFX = '/usr/lib/ISOLINUX/isohdpfx.bin'
const dir = scratch(t, 'boot-parse')

/** A 1 MiB disk image with an MBR holding one partition (what hard-disk emulation boots). */
function hardDiskImage (): Buffer {
  const disk = Buffer.alloc(1024 * 1024)
  disk.writeUInt32LE(1, 446 + 8)
  disk.writeUInt32LE(2047, 446 + 12)
  disk[446] = 0x80
  disk[446 + 4] = 0x83
  disk[510] = 0x55
  disk[511] = 0xaa
  return disk
}

/** A FAT-sized placeholder for an EFI boot image (its content does not matter to the catalog). */
const efiImage = Buffer.alloc(1440 * 1024, 0xef)

const src = path.join(dir, 'src')
writeTree(src, {
  isolinux: { 'isolinux.bin': fs.readFileSync(ISOLINUX), 'isolinux.cfg': 'DEFAULT x\n' },
  'floppy.img': Buffer.alloc(1474560, 0xf1),
  'disk.img': hardDiskImage(),
  'alt.bin': Buffer.alloc(8192, 0xa1),
  'efi.img': efiImage
})

async function expectSameBootEntries (t: Test, iso: string, image: IsoImage): Promise<void> {
  const report = xorrisoBootReport(iso)
  t.equal(image.elTorito?.catalogLba, report.catalogLba, 'catalog LBA as xorriso reports it')
  const ours = image.elTorito?.images ?? []
  t.equal(ours.length, report.images.length, 'as many entries as xorriso reports')
  for (const [i, entry] of ours.entries()) {
    const theirs = report.images[i]
    t.same({
      platform: XORRISO_PLATFORM[entry.platform],
      bootable: entry.bootable,
      emulation: XORRISO_EMULATION[entry.emulation],
      loadSegment: entry.loadSegment,
      sectors: entry.sectorCount,
      lba: entry.loadLba
    }, {
      platform: theirs.platform,
      bootable: theirs.bootable,
      emulation: theirs.emulation,
      loadSegment: theirs.loadSegment,
      sectors: theirs.sectors,
      lba: theirs.lba
    }, `entry ${i + 1} as xorriso reports it`)
  }
}

const bootCases: Array<{ name: string, make: (out: string) => string, entries: number, infoTable?: boolean }> = [
  {
    name: 'no emulation with boot info table (isolinux)',
    make: out => genisoimage(out, ['-R', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table'], src),
    entries: 1,
    infoTable: true
  },
  { name: '1.44 MB floppy emulation', make: out => genisoimage(out, ['-R', '-b', 'floppy.img', '-c', 'boot.cat'], src), entries: 1 },
  { name: 'hard-disk emulation', make: out => genisoimage(out, ['-R', '-b', 'disk.img', '-hard-disk-boot', '-c', 'boot.cat'], src), entries: 1 },
  {
    name: 'several entries (-eltorito-alt-boot), load segment, not bootable',
    make: out => genisoimage(out, ['-R', '-b', 'isolinux/isolinux.bin', '-c', 'boot.cat', '-no-emul-boot', '-boot-load-seg', '0x7c0',
      '-eltorito-alt-boot', '-b', 'alt.bin', '-no-emul-boot', '-no-boot'], src),
    entries: 2
  },
  {
    name: 'BIOS and EFI entries, isohybrid MBR and GPT (xorriso)',
    make: out => xorrisoMkisofs(out, ['-R', '-J', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4',
      '-boot-info-table', '-isohybrid-mbr', ISOHDPFX, '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'], src),
    entries: 2,
    infoTable: true
  }
]

for (const c of bootCases) {
  t.test(c.name, async t => {
    const iso = c.make(path.join(dir, `${c.name.replace(/\W+/g, '_')}.iso`))
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    t.same(image.warnings, [])
    t.equal(image.elTorito?.images.length, c.entries, 'entries found')
    await expectSameBootEntries(t, iso, image)
    if (c.infoTable !== undefined) t.equal(image.elTorito?.images[0].bootInfoTable, c.infoTable, 'boot info table recognised')
    // The model maps entries onto files: the boot file's data is what the entry loads.
    const boot = await image.bootConfiguration()
    t.ok(boot !== undefined, 'boot configuration built')
    const first = boot?.defaultImage
    t.equal((first?.payload.data as { lba?: number }).lba, image.elTorito?.images[0].loadLba, 'default entry points at its data')
    // Once the boot file's directory is read, the entry names that file (and follows it through edits).
    for await (const { node } of image.walk('/')) void node
    t.ok(first?.payload.isFile, 'bound to the boot file once its directory is read')
  })
}

t.test('isohybrid MBR and GPT as xorriso reports them', async t => {
  const iso = xorrisoMkisofs(path.join(dir, 'hybrid.iso'), ['-R', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot',
    '-boot-load-size', '4', '-boot-info-table', '-isohybrid-mbr', ISOHDPFX, '-eltorito-alt-boot', '-e', 'efi.img', '-no-emul-boot', '-isohybrid-gpt-basdat'], src)
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  const report = xorrisoBootReport(iso)
  const mbr = (image.systemArea.mbr?.partitions ?? []).map((p, i) => ({ index: i + 1, status: p.status, type: p.type, start: p.lbaStart, blocks: p.sectors }))
    .filter(p => p.blocks > 0)
  t.same(mbr, report.mbr, 'MBR partitions')
  t.same((image.systemArea.gpt?.partitions ?? []).map((p, i) => ({ index: i + 1, start: p.firstLba, size: p.lastLba - p.firstLba + 1 })), report.gpt, 'GPT partitions')
  t.ok(image.systemArea.gpt?.headerCrcValid, 'GPT header CRC valid')
  t.ok(image.systemArea.gpt?.entriesCrcValid, 'GPT entries CRC valid')
  t.equal(image.systemArea.isohybridBootLba512, (image.elTorito?.images[0].loadLba ?? 0) * 4, 'isohybrid pointer at MBR byte 432 is the BIOS boot image')
  t.match(guidToString(image.systemArea.gpt?.partitions[0].typeGuid ?? Buffer.alloc(16)), /^[0-9a-f-]{36}$/, 'GUIDs print')
  const boot = await image.bootConfiguration()
  const efi = boot?.sections[0].images[0].payload
  const covers = image.partitions().map(p => ({ table: p.table, covers: p.covers }))
  t.same(covers, [{ table: 'mbr', covers: 'device' }, { table: 'mbr', covers: 'region' }, { table: 'gpt', covers: 'volume' }, { table: 'gpt', covers: 'region' }],
    'MBR and GPT entries: the image, and the EFI boot image (not yet bound to its file)')
  const model = image.systemAreaModel()
  const efiEntries = [model?.mbr?.slots[1]?.coverage, model?.gpt?.slots[1]?.coverage].map(c => c?.kind === 'payload' ? c.payload : undefined)
  t.ok(efiEntries.every(p => p === efi), 'MBR partition 2, GPT partition 2 and the EFI catalog entry share one payload')
})

/** What the library reads from a namespace, in snapshot() form (no attributes). */
async function libraryContent (image: IsoImage, namespace: Namespace): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {}
  for await (const { path: p, node } of image.walk('/', namespace)) {
    const st = statOf(node)
    const rel = p.replace(/^\//, '')
    if (st.kind === 'directory') out[rel] = { type: 'dir' }
    else if (st.kind === 'symlink') out[rel] = { type: 'symlink', target: node.inode.symlinkTarget as string }
    else out[rel] = { type: 'file', size: st.size, sha256: sha256(await image.readFile(p, namespace)) }
  }
  return out
}

function contentSnapshot (root: string): Record<string, TreeEntry> {
  return Object.fromEntries(Object.entries(snapshot(root)).map(([p, e]) => [p, Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as TreeEntry]))
}

for (const [name, iso] of Object.entries(DEBIAN_IMAGES)) {
  t.test(`Debian's ${path.basename(iso)}`, { skip: fs.existsSync(iso) ? false : `${iso} is not installed (scripts/setup.sh installs it)` }, async t => {
    const image = await IsoImage.open(iso)
    t.teardown(() => image.close())
    t.same(image.warnings, [], 'read without irregularities')
    const extracted = extractWithBsdtar(iso, path.join(dir, `bsdtar-${name}`))
    t.same(await libraryContent(image, image.defaultNamespace), contentSnapshot(extracted), 'every file equals bsdtar\'s extraction')
    await expectSameBootEntries(t, iso, image)
  })
}
