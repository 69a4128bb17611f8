import type { JolietLevel } from '../codec/joliet'
import type { RockRidgeVersion } from '../codec/rock-ridge'
import type { InterchangeLevel } from '../naming/iso9660'

/** The identification a written image carries in its volume descriptors (ECMA-119 8.4). */
export interface VolumeIdentity {
  systemId: string
  volumeId: string
  volumeSetId: string
  publisherId: string
  preparerId: string
  applicationId: string
  copyrightFileId: string
  abstractFileId: string
  bibliographicFileId: string
  volumeSetSize: number
  volumeSequenceNumber: number
  createdMs: number
  modifiedMs: number
  expiresMs?: number
  effectiveMs?: number
  /** The Joliet descriptor's volume identifier (UCS-2, 16 characters); defaults to volumeId. */
  jolietVolumeId?: string
}

/** What a written image is: which extensions, which rules for names. */
export interface ImageSettings {
  interchangeLevel: InterchangeLevel
  rockRidge?: RockRidgeVersion
  joliet?: { level: JolietLevel, long: boolean }
  /** CD-ROM XA records in every directory record (pycdlib's xa, genisoimage -XA). */
  xa: boolean
  volume: VolumeIdentity
  /** Rock Ridge relocation directory for trees deeper than ECMA-119 6.8.2.1 allows (genisoimage: rr_moved). */
  relocationDirectory: string
}

/** Times of new things and the volume dates: SOURCE_DATE_EPOCH when set, for reproducible images. */
export function defaultTimestampMs (): number {
  const epoch = process.env.SOURCE_DATE_EPOCH
  if (epoch !== undefined && /^\d+$/.test(epoch)) return Number(epoch) * 1000
  return Date.now()
}

export function defaultVolumeIdentity (now = defaultTimestampMs()): VolumeIdentity {
  return {
    systemId: 'LINUX',
    volumeId: 'CDROM',
    volumeSetId: '',
    publisherId: '',
    preparerId: '',
    applicationId: 'ISOMOUNT',
    copyrightFileId: '',
    abstractFileId: '',
    bibliographicFileId: '',
    volumeSetSize: 1,
    volumeSequenceNumber: 1,
    createdMs: now,
    modifiedMs: now
  }
}
