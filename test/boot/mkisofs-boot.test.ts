import t from 'tap'
import { bootOptionsFor, ubuntuGrub, ubuntuIsolinux, type BuiltImage } from '../helpers/boot-images'
import { entriesOf } from '../helpers/boot'
import { bootImage, type BootOutcome } from '../helpers/qemu'
import { run, scratch } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * Issue 10 §5: Ubuntu's own build commands (both layouts of boot-images.ts: isolinux with an appended ESP,
 * and GRUB with a partition offset, grub2-boot-info and an appended ESP) given to `isotool mkisofs` in
 * place of xorriso. The images boot in every mode the xorriso-made ones do, with the same El Torito entries
 * (xorriso's report); the GPT is valid (sgdisk -v). The boots are queued at once, two at a time.
 */

const dir = scratch(t, 'boot-mkisofs')
const pairs: Array<{ ours: BuiltImage, theirs: BuiltImage }> = [
  { ours: ubuntuIsolinux(dir, 'isotool'), theirs: ubuntuIsolinux(dir) },
  { ours: ubuntuGrub(dir, 'isotool'), theirs: ubuntuGrub(dir) }
]

const boots: Array<{ label: string, outcome: Promise<BootOutcome>, expect: string }> = []
for (const { ours } of pairs) {
  for (const mode of ours.modes) {
    const options = bootOptionsFor(ours, mode)
    const outcome = bootImage(t, ours.path, { ...options, timeoutMs: mode.firmware === 'uefi' ? 120_000 : 60_000 })
    outcome.catch(() => {})
    boots.push({ label: `${ours.name}: ${mode.firmware} ${mode.as}`, outcome, expect: String(options.expect) })
  }
}

for (const { ours, theirs } of pairs) {
  t.test(`${ours.name}: what xorriso and sgdisk read`, async t => {
    t.same(entriesOf(xorrisoBootReport(ours.path).images), entriesOf(xorrisoBootReport(theirs.path).images), 'the El Torito entries of xorriso\'s image')
    t.match(run('sgdisk', ['-v', ours.path], { allowFailure: true }).stdout, /No problems found/, 'sgdisk -v: no problems')
  })
}

for (const { label, outcome, expect } of boots) {
  t.test(label, async t => {
    const result = await outcome
    t.ok(result.found, `prints ${JSON.stringify(expect)} (${result.ms} ms)`, { exit: result.exit, console: result.console.slice(-1500) })
  })
}
