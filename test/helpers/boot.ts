import * as fs from 'node:fs'
import type { Test } from 'tap'
import { bootImage, type Medium } from './qemu'
import { writeTree } from './tools'
import type { ReportedBootImage } from './xorriso-report'

export { bootImage, type BootOptions, type BootOutcome, type Firmware, type Medium } from './qemu'

/** Debian's isolinux (package isolinux) and its BIOS modules (syslinux-common). */
export const ISOLINUX = {
  bin: '/usr/lib/ISOLINUX/isolinux.bin',
  mbr: '/usr/lib/ISOLINUX/isohdpfx.bin',
  ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32'
} as const

/**
 * An isolinux tree whose configuration talks on the serial port and boots a kernel that does not exist:
 * isolinux then prints "Loading <kernel>... failed", which proves the BIOS loaded isolinux.bin from the
 * catalog, isolinux found itself through the boot info table, and read its config and ldlinux.c32 from
 * the ISO9660 tree. `marker` becomes the kernel name, so each test looks for its own text.
 */
export function writeIsolinuxTree (root: string, marker: string): void {
  writeTree(root, {
    isolinux: {
      'isolinux.bin': fs.readFileSync(ISOLINUX.bin),
      'ldlinux.c32': fs.readFileSync(ISOLINUX.ldlinux),
      'isolinux.cfg': isolinuxConfig(marker)
    }
  })
}

export function isolinuxConfig (marker: string): string {
  return `SERIAL 0 115200\nPROMPT 0\nTIMEOUT 1\nDEFAULT ${marker}\nLABEL ${marker}\n  KERNEL /${marker}\n`
}

/** The mkisofs flags of the isolinux recipe (syslinux's documentation, Debian's live images). */
export const ISOLINUX_FLAGS = [
  '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4',
  '-boot-info-table', '-isohybrid-mbr', ISOLINUX.mbr
]

/**
 * Boots `iso` with SeaBIOS (as a CD or as a hard disk: the isohybrid MBR path) and waits, bounded, for
 * "Loading /<marker>" on the serial console (what `isolinuxConfig` makes isolinux print). Returns what the
 * console printed.
 */
export async function bootInQemu (t: Test, iso: string, as: Medium, marker: string, timeoutMs = 120_000): Promise<string> {
  return (await bootImage(t, iso, { as, expect: `Loading /${marker}`, timeoutMs })).console
}

/** mkisofs -boot-info-table (genisoimage man page): PVD LBA, file LBA, length, checksum of 32-bit words from 64. */
export function checkBootInfoTable (t: Test, file: Buffer, lba: number, what: string): void {
  let sum = 0
  for (let i = 64; i + 4 <= file.length; i += 4) sum = (sum + file.readUInt32LE(i)) >>> 0
  t.same({ pvd: file.readUInt32LE(8), lba: file.readUInt32LE(12), length: file.readUInt32LE(16), checksum: file.readUInt32LE(20) },
    { pvd: 16, lba, length: file.length, checksum: sum }, `${what}: the boot info table matches where the file is`)
}

/** Entries without their LBAs, which move when an image is rewritten. */
export function entriesOf (images: ReportedBootImage[]): Array<Omit<ReportedBootImage, 'lba'>> {
  return images.map(({ lba, ...rest }) => rest)
}

/** The image's size in 512-byte blocks: what an isohybrid MBR partition covering it counts. */
export function imageSectors (iso: string): number {
  return Math.ceil(fs.statSync(iso).size / 512)
}
