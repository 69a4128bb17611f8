import type { JolietLevel } from '../codec/joliet'
import type { RockRidgeVersion } from '../codec/rock-ridge'
import { InvalidInputError } from '../../errors'
import { hasXaSignature } from '../codec/xa'
import { NodeFlag, type Node } from '../model/node'
import type { InterchangeLevel, IsoNameRules } from '../naming/iso9660'
import type { ImageOrigin } from '../read/open-image'
import { revisionFacts } from '../codec/udf/revision'
import { UDF_REVISIONS, type UdfRevision, type UdfSettings } from './udf/layout'

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
  /**
   * What the XA records say of owner and permissions: each entry's own (genisoimage -XA), or owner 0 and
   * readable by all (-xa); unset, the fixed record pycdlib writes (owner 0, r-x for all).
   */
  xaAttributes?: 'recorded' | 'rational'
  volume: VolumeIdentity
  /** Rock Ridge relocation directory for trees deeper than ECMA-119 6.8.2.1 allows (genisoimage: rr_moved). */
  relocationDirectory: string
  /**
   * xorriso -partition_offset (2 KiB sectors; 0 or absent: none): a second set of descriptors and trees
   * at the partition's start + 16, addressed from it, so the volume mounts from the partition too.
   */
  partitionOffset?: number
  /** Relaxations of the rules for generated ISO9660 names (genisoimage -l, -d, -N, …); none by default. */
  isoNames?: IsoNameRules
  /**
   * Directories deeper than eight levels stay where they are instead of being relocated (genisoimage -D;
   * against ECMA-119 6.8.2.1 below level 4, read by Linux and most others).
   */
  keepDeepDirectories?: boolean
  /**
   * A UDF file system over the same files (a bridge image, as genisoimage -udf writes): its revision
   * (0x0102 … 0x0260, udf/layout.ts UDF_REVISIONS). Its tree is the nodes with a UDF name.
   */
  udf?: UdfSettings
}

/**
 * Times of new things and the volume dates: SOURCE_DATE_EPOCH when set, for reproducible images; else
 * now, in whole seconds: a time the library stamps by itself is recorded in Rock Ridge's short TF form,
 * which every reader reads alike (the long form, for times with hundredths, is misread by older Linux
 * and libarchive; see rock-ridge-entries.ts).
 */
export function defaultTimestampMs (): number {
  return sourceDateEpochMs() ?? Math.floor(Date.now() / 1000) * 1000
}

function sourceDateEpochMs (): number | undefined {
  const epoch = process.env.SOURCE_DATE_EPOCH
  return epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : undefined
}

/**
 * A host file's time as recorded: with SOURCE_DATE_EPOCH set, times after it are clamped to it (the
 * reproducible-builds.org rule), so reading the sources (which moves their atime) cannot change the image.
 */
export function clampedTimeMs (ms: number): number {
  const epoch = sourceDateEpochMs()
  return epoch !== undefined && ms > epoch ? epoch : ms
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

/** The settings an opened image is written back with: what it has, at level 3 (4 with an enhanced VD). */
export function settingsFromOrigin (origin: ImageOrigin, root: Node): ImageSettings {
  const e = origin.extensions
  const v = origin.volume
  const rr = e.rockRidge?.version
  const relocation = root.dir?.peek()?.find(n => (n.flags & NodeFlag.RELOCATION_DIRECTORY) !== 0)
  return {
    interchangeLevel: e.enhanced ? 4 : 3,
    rockRidge: rr === undefined ? undefined : rr === 'unknown' ? '1.09' : rr,
    joliet: e.joliet !== undefined ? { level: e.joliet.level, long: false } : undefined,
    xa: origin.descriptors !== undefined && hasXaSignature(origin.descriptors.primary.applicationUse),
    // A UDF volume read with the image is written again whole, in its own revision (read-only-reasons.ts
    // refuses the ones not written).
    udf: origin.udf !== undefined
      ? { revision: keptRevision(origin.udf.revision), metadataPartition: origin.udf.logicalVolume.partitionMaps.some(m => 'kind' in m && m.kind === 'metadata') }
      : undefined,
    volume: {
      systemId: identifierText(v.systemId),
      volumeId: identifierText(v.volumeId),
      volumeSetId: identifierText(v.volumeSetId),
      publisherId: identifierText(v.publisherId),
      preparerId: identifierText(v.preparerId),
      applicationId: identifierText(v.applicationId),
      copyrightFileId: identifierText(v.copyrightFileId),
      abstractFileId: identifierText(v.abstractFileId),
      bibliographicFileId: identifierText(v.bibliographicFileId),
      volumeSetSize: v.volumeSetSize,
      volumeSequenceNumber: v.volumeSequenceNumber,
      createdMs: v.createdMs ?? defaultTimestampMs(),
      modifiedMs: v.modifiedMs ?? defaultTimestampMs(),
      expiresMs: v.expiresMs,
      effectiveMs: v.effectiveMs,
      jolietVolumeId: e.joliet?.volumeId
    },
    relocationDirectory: relocation?.names.rr ?? 'rr_moved',
    partitionOffset: origin.partitionOffset
  }
}

/** ECMA-119 8.4: field sizes of the volume descriptor's identifiers. */
const VOLUME_FIELD_SIZES: Array<[keyof VolumeIdentity, number]> = [
  ['systemId', 32], ['volumeId', 32], ['volumeSetId', 128], ['publisherId', 128], ['preparerId', 128],
  ['applicationId', 128], ['copyrightFileId', 37], ['abstractFileId', 37], ['bibliographicFileId', 37]
]

/**
 * Identifiers are written as UTF-8 bytes, as genisoimage and xorriso write what -V and the other options
 * are given (`-V 名前` gives E5 90 8D E5 89 8D in both); like them we refuse what does not fit the field
 * in bytes (genisoimage: "Volume ID string too long"; xorriso: "Text too long (33 > 32)").
 */
export function validateVolume (volume: VolumeIdentity): void {
  for (const [key, size] of VOLUME_FIELD_SIZES) {
    const value = volume[key] as string
    const bytes = Buffer.byteLength(value, 'utf8')
    if (bytes > size) {
      throw new InvalidInputError('BAD_ARGUMENT', `${key} "${value}" is ${bytes} bytes in UTF-8, longer than the ${size} bytes ECMA-119 8.4 allows`, { field: key, bytes, size })
    }
  }
}

/**
 * An identifier as the reader gives it (each byte a Latin-1 character) turned into the text it stands
 * for: UTF-8 when its bytes are valid UTF-8 (what genisoimage and xorriso write for non-ASCII -V), else
 * Latin-1. Written back as UTF-8, a UTF-8 identifier keeps its bytes.
 */
function identifierText (raw: string): string {
  if (!/[\u0080-\u00ff]/.test(raw)) return raw
  const bytes = Buffer.from(raw, 'latin1')
  const text = bytes.toString('utf8')
  return Buffer.from(text, 'utf8').equals(bytes) ? text : raw
}

/**
 * The revision a commit writes an opened image's UDF volume in: its own. An image whose revision is not
 * written is read-only (read-only-reasons.ts), so it never gets here; 1.02 stands in, should it.
 */
function keptRevision (recorded: number): UdfRevision {
  return (revisionFacts(recorded)?.value ?? UDF_REVISIONS['1.02'].value)
}
