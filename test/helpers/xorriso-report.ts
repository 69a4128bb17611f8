import { run } from './tools'

/** One El Torito entry as `xorriso -report_el_torito plain` prints it. */
export interface ReportedBootImage {
  index: number
  platform: string
  bootable: boolean
  emulation: string
  loadSegment: number
  sectors: number
  lba: number
  path?: string
}

/** xorriso's El Torito and system area reports, parsed: an independent reading of boot structures. */
export function xorrisoBootReport (iso: string): {
  catalogLba?: number
  images: ReportedBootImage[]
  mbr: Array<{ index: number, status: number, type: number, start: number, blocks: number }>
  gpt: Array<{ index: number, start: number, size: number }>
} {
  const out = run('xorriso', ['-indev', iso, '-report_el_torito', 'plain', '-report_system_area', 'plain']).stdout
  const images: ReportedBootImage[] = []
  const mbr: Array<{ index: number, status: number, type: number, start: number, blocks: number }> = []
  const gpt: Array<{ index: number, start: number, size: number }> = []
  let catalogLba: number | undefined
  for (const line of out.split('\n')) {
    let m = /^El Torito catalog\s*:\s*(\d+)/.exec(line)
    if (m !== null) catalogLba = Number(m[1])
    m = /^El Torito boot img\s*:\s*(\d+)\s+(\S+)\s+([yn])\s+(\S+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+(\d+)\s+(\d+)/.exec(line)
    if (m !== null) {
      images.push({
        index: Number(m[1]),
        platform: m[2],
        bootable: m[3] === 'y',
        emulation: m[4],
        loadSegment: parseInt(m[5], 16),
        sectors: Number(m[6]),
        lba: Number(m[7])
      })
    }
    m = /^El Torito img path\s*:\s*(\d+)\s+(\S+)/.exec(line)
    if (m !== null) {
      const image = images.find(i => i.index === Number(m?.[1]))
      if (image !== undefined) image.path = m[2]
    }
    m = /^MBR partition\s*:\s*(\d+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\d+)\s+(\d+)/.exec(line)
    if (m !== null) mbr.push({ index: Number(m[1]), status: parseInt(m[2], 16), type: parseInt(m[3], 16), start: Number(m[4]), blocks: Number(m[5]) })
    m = /^GPT start and size\s*:\s*(\d+)\s+(\d+)\s+(\d+)/.exec(line)
    if (m !== null) gpt.push({ index: Number(m[1]), start: Number(m[2]), size: Number(m[3]) })
  }
  return { catalogLba, images, mbr, gpt }
}

/** xorriso's names for the catalog's emulation and platform codes. */
export const XORRISO_EMULATION: Record<number, string> = { 0: 'none', 1: 'fd1.2', 2: 'fd1.4', 3: 'fd2.8', 4: 'hd' }
export const XORRISO_PLATFORM: Record<number, string> = { 0: 'BIOS', 1: 'PPC', 2: 'Mac', 0xef: 'UEFI' }
