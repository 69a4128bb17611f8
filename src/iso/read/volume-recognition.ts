import { parseVolumeStructure, VRS_START, VRS_UNIT } from '../codec/udf/volume-recognition'
import { readExactly, type ByteSource } from '../io/byte-source'

/*
 * ECMA-167 2/8.3: the volume recognition sequence starts at byte 32768 with one descriptor per 2048 bytes
 * (or per sector, where sectors are larger: a 4096-byte hard disk file system), each identified by five
 * bytes at offset 1: ISO 9660's "CD001" descriptors, then an extended area "BEA01" ... "TEA01" holding
 * "NSR02" (UDF 1.02-1.50) or "NSR03" (UDF 2.00+) when a UDF file system is on the volume. A bridge image
 * (genisoimage -udf, Windows install media) carries both; a reader that knows only ISO 9660 sees the CD001
 * part and nothing else. This is the one place that looks for them: the read-only reasons and the UDF
 * reader both start from what it finds.
 */

/** Spacings of the descriptors: 2048 bytes, or one sector of a larger size. */
const SPACINGS = [2048, 4096, 8192, 16384, 32768]
/** Far more descriptors than any writer puts in a sequence; bounds the scan of a damaged image. */
const MAX_SEQUENCE = 64

export interface VolumeRecognition {
  /**
   * The NSR descriptor of a UDF file system in the extended area ("NSR02" or "NSR03"), if any; `lba` in
   * 2048-byte sectors, `spacing` the distance between the sequence's descriptors.
   */
  udf?: { identifier: 'NSR02' | 'NSR03', lba: number, spacing: number }
}

export async function readVolumeRecognition (source: ByteSource): Promise<VolumeRecognition> {
  for (const spacing of SPACINGS) {
    let inExtendedArea = false
    for (let i = 0; i < MAX_SEQUENCE; i++) {
      const position = VRS_START + i * spacing
      if (position + VRS_UNIT > source.size) break
      const where = { structure: 'volume recognition sequence', lba: position / VRS_UNIT }
      const vsd = parseVolumeStructure(await readExactly(source, position, VRS_UNIT, where))
      if (vsd === undefined) break
      if (vsd.identifier === 'BEA01') inExtendedArea = true
      else if (vsd.identifier === 'TEA01') inExtendedArea = false
      else if (inExtendedArea && (vsd.identifier === 'NSR02' || vsd.identifier === 'NSR03')) {
        return { udf: { identifier: vsd.identifier, lba: position / VRS_UNIT, spacing } }
      }
    }
  }
  return {}
}
