import * as fs from 'node:fs'
import * as path from 'node:path'
import { grubMkrescue, ipxeIso, ubuntuGrub, ubuntuIsolinux, type BuiltImage } from '../test/helpers/boot-images'
import { record, sh, withIsomount } from './harness'

/*
 * Issue 10: what a commit costs on real bootable layouts (appended ESPs, partition offsets, GRUB's patched
 * MBR, an HFS+-free grub-mkrescue image, Debian's ipxe ISO) beside a plain image of the same tree without
 * any boot structure, in each commit mode: a config edited (in place), 20 MB added (append), and the same
 * edit remastered. `isomount -u` is timed, best of three; the plain image is the peer.
 */

const MODES: Array<{ what: string, options: string[], edit: (mnt: string, file: string) => void }> = [
  { what: '1-byte config edit, commit=auto', options: ['commit=auto'], edit: (mnt, file) => sh(`printf X | dd of='${path.join(mnt, file)}' bs=1 seek=2 conv=notrunc status=none`) },
  { what: 'add 20 MB, commit=append', options: ['commit=append'], edit: mnt => sh(`head -c 20000000 /dev/zero > '${mnt}/added.bin'`) },
  { what: '1-byte config edit, commit=remaster', options: ['commit=remaster'], edit: (mnt, file) => sh(`printf Y | dd of='${path.join(mnt, file)}' bs=1 seek=3 conv=notrunc status=none`) }
]

export async function bootableBenchmarks (scratchDir: string): Promise<void> {
  const dir = path.join(scratchDir, 'bootable')
  const images: Array<{ image: BuiltImage, config: string, options?: string[] }> = [
    { image: ubuntuIsolinux(dir), config: 'isolinux/isolinux.cfg' },
    { image: ubuntuGrub(dir), config: 'boot/grub/grub.cfg' },
    { image: grubMkrescue(dir), config: 'boot/grub/grub.cfg', options: ['nohfsplus'] },
    { image: ipxeIso(dir), config: 'isolinux.cfg' }
  ]
  for (const { image, config, options = [] } of images) {
    // The peer: the same files, mastered with no boot structure at all.
    const tree = path.join(dir, `${image.name}-tree`)
    const plain = path.join(dir, `${image.name}-plain.iso`)
    sh(`rm -rf '${tree}' && mkdir -p '${tree}' && xorriso -osirrox on -indev '${image.path}' -extract / '${tree}' 2>/dev/null && chmod -R u+w '${tree}'`)
    sh(`xorriso -as mkisofs -quiet -r -J -o '${plain}' '${tree}'`)
    for (const mode of MODES) {
      const ours = await commitSeconds(dir, image.path, mode, config, options)
      const peer = await commitSeconds(dir, plain, mode, config, [])
      record({ section: 'bootable', what: `${image.name}: ${mode.what}`, ours, peer, peerName: 'plain image', unit: 's' })
    }
    fs.rmSync(tree, { recursive: true, force: true })
  }
}

/** `isomount -u`'s time for the mode's edit of a fresh copy of `source`, best of three. */
async function commitSeconds (dir: string, source: string, mode: typeof MODES[number], config: string, options: string[]): Promise<number> {
  let fastest = Infinity
  for (let i = 0; i < 3; i++) {
    const work = path.join(dir, 'work.iso')
    sh(`cp '${source}' '${work}' && sync '${work}'`)
    const { unmountSeconds } = await withIsomount(work, [...mode.options, ...options], mnt => mode.edit(mnt, config))
    fastest = Math.min(fastest, unmountSeconds)
  }
  return fastest
}
