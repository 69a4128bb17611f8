/*
 * ECMA-167 2/9: the volume recognition sequence, from byte 32768 on, in 2048-byte units (or blocks, if
 * larger): structure descriptors with a type byte, a five-letter identifier and a version. ISO9660's own
 * descriptors ("CD001") come first on a bridge image; then "BEA01" opens the extended area, "NSR02" or
 * "NSR03" says a UDF (ECMA-167 2nd or 3rd edition) volume is recorded, and "TEA01" closes it.
 */

export const VRS_START = 32768
export const VRS_UNIT = 2048

export type VolumeStructureId = 'BEA01' | 'NSR02' | 'NSR03' | 'TEA01' | 'BOOT2' | 'CD001' | 'CDW02'

const KNOWN = new Set<string>(['BEA01', 'NSR02', 'NSR03', 'TEA01', 'BOOT2', 'CD001', 'CDW02'])

export interface VolumeStructureDescriptor {
  type: number
  identifier: string
  version: number
  /** The rest of the 2048 bytes (2/9.1.4: zero for BEA01, NSR and TEA01). */
  data: Buffer
}

/** The descriptor in `buf` at `offset`, or undefined when it is not a volume structure descriptor. */
export function parseVolumeStructure (buf: Buffer, offset = 0): VolumeStructureDescriptor | undefined {
  if (buf.length - offset < VRS_UNIT) return undefined
  const identifier = buf.toString('latin1', offset + 1, offset + 6)
  if (!KNOWN.has(identifier)) return undefined
  return { type: buf[offset], identifier, version: buf[offset + 6], data: buf.subarray(offset + 7, offset + VRS_UNIT) }
}

export function serializeVolumeStructure (vsd: VolumeStructureDescriptor): Buffer {
  const buf = Buffer.alloc(VRS_UNIT)
  buf[0] = vsd.type
  buf.write(vsd.identifier, 1, 5, 'latin1')
  buf[6] = vsd.version
  vsd.data.copy(buf, 7, 0, VRS_UNIT - 7)
  return buf
}

export function volumeStructure (identifier: VolumeStructureId): VolumeStructureDescriptor {
  return { type: 0, identifier, version: 1, data: Buffer.alloc(VRS_UNIT - 7) }
}
