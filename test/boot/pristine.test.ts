import t from 'tap'
import { allBootImages, bootOptionsFor, espPartitions, type BootMode, type BuiltImage } from '../helpers/boot-images'
import { bootImage, findOnScreen, stripEscapes, type BootOutcome } from '../helpers/qemu'
import { scratch } from '../helpers/tools'

/*
 * Every image of issue 10's corpus boots as it was made, in each mode it supports (BIOS and UEFI, as a CD
 * and as a disk), and prints its marker: the baseline the edit tests compare against. A failure here is in
 * the corpus or the harness, not in our library. All boots are started at once; the pool runs two at a
 * time. The times are printed (TAP comments) to budget the edit tests.
 *
 * Those 34 boots run with the full matrix only (`npm run test:boots`, ISOMOUNT_BOOT_MATRIX=full): in the
 * suite, edit-and-boot.test.ts boots every (image, mode) pair after an edit, which a broken corpus fails
 * too, and this file keeps what makes a boot failure there mean something: the harness's own checks
 * (a marker nobody prints is not found), and the corpus's partition tables.
 */

const started = Date.now()
const dir = scratch(t, 'boot-pristine')
const images = allBootImages(dir)
t.comment(`built ${images.length} images in ${Date.now() - started} ms`)

const label = (image: BuiltImage, mode: BootMode): string => `${image.name}: ${mode.firmware} ${mode.as}`

const boots: Array<{ image: BuiltImage, mode: BootMode, outcome: Promise<BootOutcome> }> = []
for (const image of process.env.ISOMOUNT_BOOT_MATRIX === 'full' ? images : []) {
  for (const mode of image.modes) {
    const options = bootOptionsFor(image, mode)
    // Bounds with room for a loaded machine: under TCG at a load average of 12 (other tests running), OVMF
    // alone took 20-25 s to start a loader and memtest86+ 20 s more to draw its screen; idle, a third of that.
    const timeoutMs = options.screen === true ? 150_000 : mode.firmware === 'uefi' ? 120_000 : 60_000
    const outcome = bootImage(t, image.path, { ...options, timeoutMs })
    outcome.catch(() => {}) // awaited (and reported) by its subtest below
    boots.push({ image, mode, outcome })
  }
}

for (const { image, mode, outcome } of boots) {
  t.test(label(image, mode), async t => {
    const result = await outcome
    const marker = image.markers[mode.firmware]?.text ?? ''
    t.ok(result.found, `prints ${JSON.stringify(marker)} (${result.ms} ms)`, {
      exit: result.exit,
      console: result.console.slice(-1500),
      screen: result.screen.slice(-1000)
    })
    // The whole line the marker is on: GRUB's says where it was loaded from and which device it read.
    const line = stripEscapes(result.screen !== '' ? result.screen : result.console).split(/\r?\n|\r/).find(l => l.includes(marker))?.trim() ?? ''
    t.comment(`${label(image, mode)}: ${result.ms} ms (queued ${result.queuedMs} ms): ${line.slice(0, 160)}`)
  })
}

// The harness must be able to say no: a marker the loader does not print is not found (GRUB powers the
// guest off after its config, so this ends as soon as qemu does), and screen text is matched cell by cell.
const grubImage = images.find(i => i.name === 'ubuntu-grub') as BuiltImage
const negative = bootImage(t, grubImage.path, { as: 'cd', expect: 'isomount-marker not-in-any-config', timeoutMs: 30_000 })
negative.catch(() => {})
t.test('a marker nobody prints is not found', async t => {
  const result = await negative
  t.notOk(result.found, 'not found')
  t.match(result.exit ?? '', /qemu exited|within/, `and says why: ${result.exit ?? ''}`)
  t.match(stripEscapes(result.console), /isomount-marker isomount-ubuntu-grub on pc/, 'while the console has the real marker')
})

t.test('screen text is matched as character/attribute cells', async t => {
  const cells = Buffer.from('xxMXeXmXtXeXsXtX8X6X+\x04 XvX6X.', 'latin1')
  t.equal(findOnScreen(cells, 'Memtest86+ v6'), 2, 'found where it starts, whatever the attributes')
  t.equal(findOnScreen(cells, 'Memtest86+ v7'), -1, 'another version is not')
  t.equal(findOnScreen(Buffer.from('Memtest86+ v6'), 'Memtest86+ v6'), -1, 'plain text (the loader binary itself) is not screen text')
})

t.test('partition tables that name an ESP name a FAT holding the EFI loader (sfdisk, mtools)', async t => {
  for (const image of images) {
    const esps = espPartitions(image.path)
    if (image.espFile === undefined) {
      t.same(esps, [], `${image.name}: its tables name no ESP`)
      continue
    }
    t.ok(esps.length > 0, `${image.name}: its table names an ESP`)
    for (const esp of esps) {
      t.match(esp.efiBoot.toUpperCase(), `::/EFI/BOOT/${image.espFile}`, `${image.name}: ${esp.label} ESP at sector ${esp.start} holds EFI/BOOT/${image.espFile}`)
    }
  }
})

t.test('modes without a loader are said why', async t => {
  for (const image of images) {
    t.equal(image.modes.length + image.unsupported.length, 4, `${image.name}: every mode is either booted or explained`)
    for (const u of image.unsupported) t.ok(u.why.length > 0, `${image.name}: ${u.firmware} ${u.as}: ${u.why}`)
  }
})

t.test('total', async t => {
  const settled = await Promise.allSettled([...boots.map(b => b.outcome), negative])
  t.same(settled.filter(s => s.status === 'rejected').map(s => String((s as PromiseRejectedResult).reason)), [], 'no boot failed in the harness itself (QMP, qemu start)')
  t.comment(`${boots.length + 1} boots, ${Date.now() - started} ms in all`)
})
