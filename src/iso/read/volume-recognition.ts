import { DESCRIPTORS_START, SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'

/*
 * ECMA-167 2/8.3: the volume recognition sequence starts at byte 32768 with one 2048-byte descriptor per
 * sector, each identified by five bytes at offset 1: ISO 9660's "CD001" descriptors, then an extended area
 * "BEA01" ... "TEA01" holding "NSR02" (UDF 1.02-1.50) or "NSR03" (UDF 2.00+) when a UDF file system is on the
 * volume. A bridge image (genisoimage -udf, Windows install media) carries both; a reader that knows only
 * ISO 9660 sees the CD001 part and nothing else.
 */

const RECOGNISED = new Set(['CD001', 'BEA01', 'NSR02', 'NSR03', 'TEA01', 'BOOT2', 'CDW02'])
/** Far more descriptors than any writer puts in a sequence; bounds the scan of a damaged image. */
const MAX_SEQUENCE = 64

export interface VolumeRecognition {
  /** The NSR descriptor of a UDF file system in the extended area ("NSR02" or "NSR03"), if any. */
  udf?: { identifier: 'NSR02' | 'NSR03', lba: number }
}

export async function readVolumeRecognition (source: ByteSource): Promise<VolumeRecognition> {
  const result: VolumeRecognition = {}
  const sector = Buffer.alloc(SECTOR_SIZE)
  let inExtendedArea = false
  for (let lba = DESCRIPTORS_START; lba < DESCRIPTORS_START + MAX_SEQUENCE; lba++) {
    if ((lba + 1) * SECTOR_SIZE > source.size) break
    if (await source.read(sector, 0, SECTOR_SIZE, lba * SECTOR_SIZE) < SECTOR_SIZE) break
    const identifier = sector.toString('latin1', 1, 6)
    if (!RECOGNISED.has(identifier)) break
    if (identifier === 'BEA01') inExtendedArea = true
    else if (identifier === 'TEA01') inExtendedArea = false
    else if (inExtendedArea && (identifier === 'NSR02' || identifier === 'NSR03')) result.udf ??= { identifier, lba }
  }
  return result
}
