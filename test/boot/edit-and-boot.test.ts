import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { allBootImages, bootOptionsFor, editFatFile, espPartitions, type BootMode, type BuiltImage } from '../helpers/boot-images'
import { entriesOf } from '../helpers/boot'
import { mountImage } from '../helpers/mount'
import { bootImage, type BootOutcome } from '../helpers/qemu'
import { run, scratch } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * Issue 10 §3: every image of the corpus (xorriso's Ubuntu and debian-cd layouts, grub-mkrescue's, isolinux
 * isohybrids, a floppy entry with an EFI image beyond the volume, Debian's ipxe, grub-rescue and memtest86+
 * ISOs) edited through the mount in each commit mode: the config its boot loaders read changed with sed
 * (a boot floppy's with mtools, copied out and back in), a 20 MB file added. Afterwards it boots on BIOS
 * and UEFI, as a CD and as a disk, wherever it booted before, and the loaders print the edited config; the
 * EFI System Partitions are byte for byte what they were; the partition tables are as valid as before
 * (sgdisk, fdisk), with the same disk GUID; xorriso reports the same El Torito entries.
 *
 * The edits run first, one after the other; their boots are queued at once and the harness runs two at a
 * time, as pristine.test.ts does.
 *
 * Every image is edited and checked in all three commit modes, but each of its boot modes is booted after
 * one of them, in turn (the image's index plus the mode's, modulo three), so that every (image, boot mode)
 * pair boots once and every commit mode boots on most images: 34 boots instead of 102, which kept the suite
 * within its time. `npm run test:boots` (ISOMOUNT_BOOT_MATRIX=full) boots every pair after every commit.
 */

/** The file's own test: boots outlive the subtest that queued them, and are stopped when the file ends. */
const root = t
// 30 edits and 34 boots (102 with the full matrix), two at a time: more on a loaded machine than the 10
// minutes .taprc allows a file.
t.setTimeout(30 * 60_000)
const FULL_MATRIX = process.env.ISOMOUNT_BOOT_MATRIX === 'full'
const dir = scratch(t, 'boot-edit')
const images = allBootImages(dir)
const COMMIT_MODES = ['auto', 'append', 'remaster'] as const

interface Queued { label: string, outcome: Promise<BootOutcome>, expect: string }
const queued: Queued[] = []

/** The ESPs the partition table names, with their bytes. */
function esps (image: string): Array<{ sectors: number, sha: string }> {
  const bytes = fs.readFileSync(image)
  return espPartitions(image).map(p => ({
    sectors: p.sectors,
    sha: createHash('sha256').update(bytes.subarray(p.start * 512, (p.start + p.sectors) * 512)).digest('hex')
  }))
}

function sgdiskVerdict (image: string): string {
  const out = run('sgdisk', ['-v', image], { allowFailure: true }).stdout
  return /No problems found/.test(out) ? 'no problems' : /Invalid partition data|Problem/i.test(out) ? 'problems' : 'no GPT'
}

function diskId (image: string): string | undefined {
  return (JSON.parse(run('sfdisk', ['--json', image], { allowFailure: true }).stdout || '{}') as { partitiontable?: { id?: string } }).partitiontable?.id
}

function overlaps (image: string): boolean {
  return /overlap/i.test(run('fdisk', ['-l', image], { allowFailure: true }).stdout + run('sfdisk', ['--verify', image], { allowFailure: true }).stdout)
}

/** Every config a loader of the image reads that names the marker's token, once each. */
function configsOf (image: BuiltImage): Array<NonNullable<BuiltImage['markers'][keyof BuiltImage['markers']]>['config']> {
  const seen = new Map<string, NonNullable<NonNullable<BuiltImage['markers']['bios']>['config']>>()
  for (const marker of Object.values(image.markers)) {
    const config = marker?.config
    if (config !== undefined) seen.set(`${config.path}:${config.inFat ?? ''}`, config)
  }
  return [...seen.values()]
}

for (const [imageIndex, image] of images.entries()) {
  for (const [commitIndex, commit] of COMMIT_MODES.entries()) {
    t.test(`${image.name} edited through the mount, commit=${commit}`, async t => {
      const work = path.join(dir, `${image.name}-${commit}.iso`)
      fs.copyFileSync(image.path, work)
      const before = { esps: esps(work), sgdisk: sgdiskVerdict(work), id: diskId(work), overlaps: overlaps(work), boot: xorrisoBootReport(work) }
      const token = `edited-${commit}`
      // grub-mkrescue's HFS+ tree (for Macs) cannot be kept valid: the user drops it (README).
      const options = [`commit=${commit}`, ...image.name === 'grub-mkrescue' ? ['nohfsplus'] : []]
      const m = mountImage(t, work, options)
      t.equal(m.result.status, 0, `mounted: ${m.result.stderr}`)
      t.notMatch(m.result.stderr, /read-only/, 'read-write, not read-only')
      for (const config of configsOf(image)) {
        if (config === undefined) continue
        const inMount = path.join(m.mountpoint, config.path)
        if (config.inFat !== undefined) {
          // A boot floppy: copied out, its config edited with mtools, copied back over it.
          const floppy = path.join(dir, `${image.name}-${commit}-floppy.img`)
          fs.copyFileSync(inMount, floppy)
          editFatFile(floppy, config.inFat, text => text.replaceAll(config.token, token))
          run('cp', [floppy, inMount])
        } else {
          run('sed', ['-i', `s/${config.token}/${token}/g`, inMount])
        }
      }
      run('dd', ['if=/dev/urandom', `of=${path.join(m.mountpoint, 'added.bin')}`, 'bs=1M', 'count=20', 'status=none'])
      const done = m.unmount()
      t.equal(done.status, 0, `isomount -u: ${done.stderr}`)
      t.match(done.stderr, /committed (in place|by appending|by remastering)/, 'committed')
      if (commit !== 'auto') t.match(done.stderr, commit === 'append' ? /by appending/ : /by remastering/, `as ${commit}`)

      const after = xorrisoBootReport(work)
      t.same(entriesOf(after.images), entriesOf(before.boot.images), 'xorriso -report_el_torito: the same entries')
      t.same(esps(work), before.esps, 'every EFI System Partition is byte for byte what it was')
      t.equal(sgdiskVerdict(work), before.sgdisk, `sgdisk -v: as before (${before.sgdisk})`)
      t.equal(overlaps(work), before.overlaps, 'fdisk and sfdisk: no overlap that was not there before')
      t.equal(diskId(work), before.id, 'the disk id (GPT disk GUID or MBR signature) is kept')

      const booted = image.modes.filter((_, modeIndex) => FULL_MATRIX || (imageIndex + modeIndex) % COMMIT_MODES.length === commitIndex)
      for (const mode of booted) {
        const options = bootOptionsFor(image, mode, image.markers[mode.firmware]?.after !== undefined ? token : undefined)
        const timeoutMs = options.screen === true ? 150_000 : mode.firmware === 'uefi' ? 120_000 : 60_000
        const outcome = bootImage(root, work, { ...options, timeoutMs })
        outcome.catch(() => {})
        queued.push({ label: `${image.name}, commit=${commit}: ${describe(mode)}`, outcome, expect: String(options.expect) })
      }
    })
  }
}

t.test('grub-mkrescue\'s image without nohfsplus mounts read-only and says why', async t => {
  const image = images.find(i => i.name === 'grub-mkrescue') as BuiltImage
  const work = path.join(dir, 'grub-mkrescue-hfs.iso')
  fs.copyFileSync(image.path, work)
  const m = mountImage(t, work)
  t.equal(m.result.status, 0)
  t.match(m.result.stderr, /mounted read-only: the image also holds an HFS\+ file system.*-o nohfsplus/s)
  t.throws(() => fs.writeFileSync(path.join(m.mountpoint, 'x'), 'x'), { code: 'EROFS' })
})

t.test('the edited images boot into the edited config', async t => {
  for (const { label, outcome, expect } of queued) {
    t.test(label, async t => {
      const result = await outcome
      t.ok(result.found, `prints ${JSON.stringify(expect)} (${result.ms} ms)`, { exit: result.exit, console: result.console.slice(-1500), screen: result.screen.slice(-800) })
    })
  }
})

function describe (mode: BootMode): string {
  return `${mode.firmware} ${mode.as}`
}
