import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { pattern } from '../helpers/tree'

/*
 * A grown or remastered volume ends in 150 sectors of padding, as genisoimage's and xorriso's do: readers
 * read ahead of the last file (GRUB's BIOS CD driver read garbage for a grub.cfg an append had put in the
 * last sector of grub-rescue-pc's image). Measured by xorriso (where each file's data is) and isoinfo (the
 * volume's size), not by our reader.
 */

const dir = scratch(t, 'commit-padding')
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': pattern(3000, 3), 'b.txt': 'bee\n' })
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J'], src)

/** Sectors between the end of the last file's data and the end of the volume, as xorriso and isoinfo see them. */
function trailingSectors (t: Test, image: string): number {
  const report = run('xorriso', ['-indev', image, '-find', '/', '-type', 'f', '-exec', 'report_lba', '--'], { allowFailure: true }).stdout
  let dataEnd = 0
  for (const m of report.matchAll(/File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*(\d+)\s*,/g)) dataEnd = Math.max(dataEnd, Number(m[1]) + Number(m[2]))
  const volume = Number(/Volume size is: (\d+)/.exec(run('isoinfo', ['-d', '-i', image]).stdout)?.[1])
  t.ok(dataEnd > 0 && volume > 0, `${path.basename(image)}: data ends at ${dataEnd}, the volume at ${volume}`)
  return volume - dataEnd
}

for (const mode of ['append', 'remaster'] as const) {
  t.test(`a commit by ${mode === 'append' ? 'appending' : 'remastering'} ends the volume in padding`, async t => {
    const image = path.join(dir, `${mode}.iso`)
    fs.copyFileSync(base, image)
    t.ok(trailingSectors(t, image) >= 150, 'genisoimage pads its volume')
    const edit = await IsoImage.open(image)
    // The new file comes last in the tree, so its data is the last a remaster or an append writes.
    await edit.addFile('/zz-last.bin', pattern(5000, 9))
    t.equal((await edit.commit({ mode })).mode, mode)
    await edit.close()
    t.ok(trailingSectors(t, image) >= 150, 'at least 150 sectors follow the last file')
    t.equal(run('bsdtar', ['-xOf', image, 'zz-last.bin'], { encoding: 'latin1' }).stdout, pattern(5000, 9).toString('latin1'), 'the new file reads back (bsdtar)')
  })
}
