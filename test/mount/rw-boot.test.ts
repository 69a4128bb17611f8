import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { bootInQemu, checkBootInfoTable, entriesOf, imageSectors, isolinuxConfig, ISOLINUX_FLAGS, writeIsolinuxTree } from '../helpers/boot'
import { mountImage } from '../helpers/mount'
import { extractWithBsdtar } from '../helpers/readers'
import { DEBIAN_IMAGES, run, scratch, xorrisoMkisofs } from '../helpers/tools'
import { xorrisoBootReport } from '../helpers/xorriso-report'

/*
 * Bootable images edited through the mount with shell tools: after a new boot config, a large new file
 * and (for isolinux) a boot file replaced the way editors replace files, xorriso reports the same El
 * Torito entries, the boot info table points at the file the catalog names, the isohybrid MBR covers the
 * grown image, and qemu boots the result as a CD and as a disk into the new config.
 */

const dir = scratch(t, 'rw-boot')
const src = path.join(dir, 'src')
writeIsolinuxTree(src, 'isomount-old')
const isolinuxImage = xorrisoMkisofs(path.join(dir, 'isolinux.iso'), ['-R', '-J', ...ISOLINUX_FLAGS], src)

interface Edit {
  image: string
  /** Where the boot config lives in the image (isolinux looks in its own directory). */
  configDir: string
  marker: string
  options: string[]
  /** Also replace the boot file by a copy renamed over it (the catalog must follow the new file). */
  replaceBootFile: boolean
}

async function editAndCheck (t: Test, label: string, edit: Edit): Promise<string> {
  const image = path.join(dir, `${label}.iso`)
  fs.copyFileSync(edit.image, image)
  const before = xorrisoBootReport(image)
  const m = mountImage(t, image, edit.options)
  t.equal(m.result.status, 0, `mounted: ${m.result.stderr}`)
  const cfg = path.join(edit.configDir, 'isolinux.cfg')
  fs.writeFileSync(path.join(dir, 'new.cfg'), isolinuxConfig(edit.marker))
  const script = [
    'set -euo pipefail',
    // An editor's save: a new file renamed over the old one.
    `cp '${path.join(dir, 'new.cfg')}' '${cfg}.tmp' && mv '${cfg}.tmp' '${cfg}'`,
    'mkdir -p extra',
    'dd if=/dev/zero of=extra/large.bin bs=1M count=200 status=none',
    'head -c 5000000 /dev/urandom > extra/random.bin',
    ...edit.replaceBootFile ? [`cp -p ${edit.configDir}/isolinux.bin ${edit.configDir}/.isolinux.bin.new && mv ${edit.configDir}/.isolinux.bin.new ${edit.configDir}/isolinux.bin`] : []
  ].join('\n')
  run('bash', ['-c', script], { cwd: m.mountpoint })
  const random = fs.readFileSync(path.join(m.mountpoint, 'extra/random.bin'))
  const done = m.unmount()
  t.equal(done.status, 0, `isomount -u: ${done.stdout}${done.stderr}`)

  const after = xorrisoBootReport(image)
  t.same(entriesOf(after.images), entriesOf(before.images), 'xorriso -report_el_torito: the same entries')
  const extracted = extractWithBsdtar(image, path.join(dir, `${label}-x`))
  checkBootInfoTable(t, fs.readFileSync(path.join(extracted, edit.configDir, 'isolinux.bin')), after.images[0].lba, 'isolinux.bin')
  if (before.mbr.length > 0) {
    t.equal(after.mbr.length, 1, 'one MBR partition')
    t.ok(after.mbr[0].blocks >= imageSectors(image) - 1, 'the isohybrid MBR partition covers the grown image')
  }
  t.ok(fs.readFileSync(path.join(extracted, 'extra/random.bin')).equals(random), 'bsdtar reads the new file back')
  return image
}

for (const mode of ['append', 'remaster'] as const) {
  t.test(`isolinux image edited through the mount, commit=${mode}, still boots as a CD and a disk`, async t => {
    const marker = `isomount-${mode}`
    const image = await editAndCheck(t, `isolinux-${mode}`, { image: isolinuxImage, configDir: 'isolinux', marker, options: [`commit=${mode}`], replaceBootFile: true })
    t.match(await bootInQemu(t, image, 'cd', marker), new RegExp(`Loading /${marker}`), 'qemu boots it as a CD into the new config')
    t.match(await bootInQemu(t, image, 'disk', marker), new RegExp(`Loading /${marker}`), 'and as a disk')
  })
}

t.test('a boot config changed in place (same size) boots', async t => {
  const image = path.join(dir, 'isolinux-inplace.iso')
  fs.copyFileSync(isolinuxImage, image)
  const m = mountImage(t, image, ['commit=inplace'])
  // Same length as "isomount-old": the file keeps its extent, so the commit can write in place.
  const cfg = path.join(m.mountpoint, 'isolinux/isolinux.cfg')
  const fd = fs.openSync(cfg, 'r+')
  const text = fs.readFileSync(cfg, 'utf8')
  fs.writeSync(fd, text.replaceAll('isomount-old', 'isomount-new'), 0)
  fs.closeSync(fd)
  const done = m.unmount()
  t.match(done.stdout + done.stderr, /committed in place/, 'committed in place')
  t.equal(fs.statSync(image).size, fs.statSync(isolinuxImage).size, 'the image kept its size')
  t.same(entriesOf(xorrisoBootReport(image).images), entriesOf(xorrisoBootReport(isolinuxImage).images), 'the same entries')
  t.match(await bootInQemu(t, image, 'cd', 'isomount-new'), /Loading \/isomount-new/, 'qemu boots it as a CD into the new config')
  t.match(await bootInQemu(t, image, 'disk', 'isomount-new'), /Loading \/isomount-new/, 'and as a disk')
})

t.test('Debian\'s ipxe.iso edited through the mount keeps its BIOS and UEFI entries and boots', async t => {
  const marker = 'isomount-ipxe'
  const image = await editAndCheck(t, 'ipxe', { image: DEBIAN_IMAGES.ipxe, configDir: '.', marker, options: [], replaceBootFile: false })
  t.equal(xorrisoBootReport(image).images.length, 2, 'two entries, as before')
  // ipxe's isolinux reads isolinux.cfg from the root: the new one names our marker.
  t.match(await bootInQemu(t, image, 'cd', marker), new RegExp(`Loading /${marker}`), 'qemu boots it as a CD into the new config')
  t.match(await bootInQemu(t, image, 'disk', marker), new RegExp(`Loading /${marker}`), 'and as a disk')
})
