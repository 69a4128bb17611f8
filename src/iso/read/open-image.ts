import { InternalError, InvalidImageError } from '../../errors'
import { logger } from '../../log'
import { forgiving, forgivingAsync, WarningLog } from '../codec/diagnostics'
import { volumeDateToMs } from '../codec/datetime'
import { parseDirectoryRecord, type DirectoryRecord } from '../codec/directory-record'
import type { JolietLevel } from '../codec/joliet'
import { rockRidgeVersionOf, type RockRidgeVersion } from '../codec/rock-ridge'
import { parseER, parseSP } from '../codec/susp'
import { decodeText } from '../codec/text'
import { SECTOR_SIZE, type VolumeDescriptor } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'
import type { Node } from '../model/node'
import type { DescriptorSet } from './descriptors'
import { checkPathTables, type PathTableReport } from './path-tables'
import { readElTorito, type ElToritoInfo } from './el-torito'
import { SectorCache } from './sector-cache'
import { selectDescriptorSet } from './sessions'
import { collectSystemUse } from './system-use'
import { readSystemArea, type SystemAreaInfo } from './system-area'
import { TreeLoader } from './tree-loader'
import { entityIdText, revisionText } from '../codec/udf/entity-id'
import { timestampToMs } from '../codec/udf/timestamp'
import { readUdfVolume, type UdfVolume } from './udf/volume'
import type { BootConfiguration } from '../model/boot'
import type { SystemAreaModel } from '../model/system-area'
import { bootConfigurationOf, PayloadIndex } from './boot-model'
import { dataEndOf, readPartitionOffset, systemAreaModelOf } from './system-area-model'
import { readOnlyReasonsOf, type ReadOnlyReason } from './read-only-reasons'
import { readVolumeRecognition, type VolumeRecognition } from './volume-recognition'

const log = logger('read')

export interface OpenOptions {
  /** Every irregularity is an error instead of a warning (mount option check=strict). */
  strict?: boolean
  /** Interpret Rock Ridge when present (default true; isofs `norock` sets false). */
  rockRidge?: boolean
  /** Read the Joliet tree when present (default true; isofs `nojoliet` sets false). */
  joliet?: boolean
  /** 1-based session to read (default: the newest). */
  session?: number
  /** Read the UDF file system when present (default true; `noudf` sets false). */
  udf?: boolean
  /**
   * Keep an HFS+ tree that shares the volume's data (grub-mkrescue's, for Macs), which makes the image
   * read-only (default true); false drops it from a written image (mount option `nohfsplus`).
   */
  hfsplus?: boolean
}

/** The volume's identification, decoded for people. */
export interface VolumeInfo {
  systemId: string
  volumeId: string
  volumeSetId: string
  publisherId: string
  preparerId: string
  applicationId: string
  copyrightFileId: string
  abstractFileId: string
  bibliographicFileId: string
  createdMs?: number
  modifiedMs?: number
  expiresMs?: number
  effectiveMs?: number
  volumeSpaceSize: number
  volumeSetSize: number
  volumeSequenceNumber: number
  logicalBlockSize: number
}

export interface Extensions {
  /** SUSP is in use (SP entry in the root's "." record); `skip` is its skip length. */
  susp?: { skip: number }
  rockRidge?: { version: RockRidgeVersion | 'unknown', identifiers: string[] }
  joliet?: { level: JolietLevel, volumeId: string }
  /** An ISO 9660:1999 enhanced volume descriptor is present (genisoimage -iso-level 4). */
  enhanced: boolean
  /** A UDF file system (ECMA-167 / OSTA UDF) is recorded: its revision ("2.60") and logical volume name. */
  udf?: { revision: string, volumeId: string }
}

/** Everything read from an image file besides its tree. */
export interface ImageOrigin {
  source: ByteSource
  /** The ISO9660 volume descriptors; none on an image that is only a UDF file system (mkudffs). */
  descriptors?: DescriptorSet
  /** The UDF volume, when one is recorded and read. */
  udf?: UdfVolume
  volume: VolumeInfo
  extensions: Extensions
  elTorito?: ElToritoInfo
  systemArea: SystemAreaInfo
  diagnostics: WarningLog
  /**
   * Reads the L and M path tables of the primary (and Joliet) descriptor and compares them with the
   * directory records, warning about every difference (once: later calls return the same reports).
   * Done at open in strict mode, where a difference refuses the image; otherwise when asked.
   */
  pathTables: () => Promise<PathTableReport[]>
  /** What keeps this image from being written back (read-only-reasons.ts); empty when it can be. */
  readOnlyReasons: ReadOnlyReason[]
  /** The El Torito catalog as a model (boot-model.ts), read at open. */
  boot?: BootConfiguration
  /** The system area as a model (system-area-model.ts), when it is used. */
  systemAreaModel?: SystemAreaModel
  /** Every payload the two point at, bound to files as their directories load. */
  payloads: PayloadIndex
  /** Where the volume's data ends (2 KiB sectors): appended partitions lie beyond. */
  dataEnd: number
  /** xorriso -partition_offset: the second descriptor set's partition start (2 KiB sectors), 0 if none. */
  partitionOffset: number
}

/** Reads descriptors, the root and the boot structures; directories load later, on demand. */
export async function readImage (source: ByteSource, options: OpenOptions): Promise<{ origin: ImageOrigin, root: Node }> {
  const diag = new WarningLog(options.strict === true)
  const recognition = await readVolumeRecognition(source)
  const nsr = options.udf !== false ? recognition.udf?.identifier : undefined
  let descriptors: DescriptorSet
  try {
    descriptors = await selectDescriptorSet(source, diag, options.session)
  } catch (err) {
    if (nsr === undefined || !(err instanceof InvalidImageError) || err.code !== 'IMAGE_NOT_ISO9660') throw err
    return await readUdfOnly(source, nsr, diag, recognition)
  }
  const primary = descriptors.primary
  if (primary.volumeSpaceSize * SECTOR_SIZE > source.size) {
    diag.warn({ structure: 'primary volume descriptor', lba: descriptors.primaryLba, field: 'volume space size' },
      `image is truncated: ${Math.floor(source.size / SECTOR_SIZE)} of ${primary.volumeSpaceSize} blocks present`)
  }
  const sectors = new SectorCache(source)
  const rootSelf = await readRootSelf(source, primary.root, diag)
  const extensions = await detectExtensions(descriptors, rootSelf, sectors, diag)
  const useRockRidge = options.rockRidge !== false && extensions.rockRidge !== undefined
  const useJoliet = options.joliet !== false && descriptors.joliet !== undefined
  const elTorito = descriptors.bootRecord !== undefined
    ? await readElTorito(source, descriptors.bootRecord, descriptors.primaryLba, diag)
    : undefined
  const systemArea = await readSystemArea(source, diag)
  const outside = await readOutsideTrees(source, primary.volumeSpaceSize, elTorito, systemArea, options)
  // A UDF volume describes the image as its first writer made it: an older session's tree is not it.
  const udf = nsr !== undefined && descriptors.sessionStart === 0 ? await bridgeUdf(source, nsr, descriptors, diag) : undefined
  if (udf !== undefined) extensions.udf = udfExtension(udf)
  // Found whether or not the UDF tree is read: with noudf, a change would still leave it stale.
  const readOnlyReasons = [...readOnlyReasonsOf(recognition, { volume: udf, bridge: true }), ...outside.readOnlyReasons]
  const loader = new TreeLoader(source, sectors, diag, {
    rockRidge: useRockRidge,
    suspSkip: extensions.susp?.skip ?? 0,
    joliet: useJoliet,
    udf: udf !== undefined ? { ctx: { source, map: udf.map, diag }, volume: udf } : undefined,
    payloads: outside.payloads
  })
  const root = await loader.root(primary.root, rootSelf, descriptors.joliet?.descriptor.root)
  if (!useRockRidge) delete extensions.rockRidge
  if (!useJoliet) delete extensions.joliet
  log('opened: %o', { volume: decodeText(primary.volumeId, 'ascii'), extensions })
  const pathTables = pathTableCheck(source, descriptors, diag)
  if (diag.strict) await pathTables()
  return {
    origin: {
      source,
      descriptors,
      udf,
      volume: volumeInfo(primary),
      extensions,
      elTorito,
      systemArea,
      diagnostics: diag,
      pathTables,
      readOnlyReasons,
      boot: outside.boot,
      systemAreaModel: outside.systemAreaModel,
      payloads: outside.payloads,
      dataEnd: outside.dataEnd,
      partitionOffset: outside.partitionOffset
    },
    root
  }
}

/**
 * The UDF file system of a bridge image (genisoimage -udf, pycdlib, Windows media). One that cannot be
 * read costs only itself: a warning, and the ISO9660 trees are read (strict mode refuses the image). One
 * written for an earlier session than the newest (an image grown by xorriso or by an append commit
 * since) describes files that may be gone: it is left out, with a warning.
 */
async function bridgeUdf (source: ByteSource, nsr: string, descriptors: DescriptorSet, diag: WarningLog): Promise<UdfVolume | undefined> {
  const udf = await forgivingAsync(diag, 'the UDF file system is ignored', async () => await readUdfVolume(source, nsr, diag))
  if (udf === undefined) return undefined
  // The ISO9660 volume may extend past the UDF one (genisoimage pads it by 150 sectors), but a root
  // directory beyond the UDF volume was written after it.
  const isoRoot = descriptors.primary.root.extent * SECTOR_SIZE
  const udfEnd = udfVolumeEnd(udf)
  if (isoRoot >= udfEnd) {
    diag.warn({ structure: 'UDF volume', lba: udf.anchorLocation },
      `it ends at byte ${udfEnd}, before the ISO9660 root directory (byte ${isoRoot}): it was written for an earlier session; the UDF file system is ignored`)
    return undefined
  }
  return udf
}

/** Where a UDF volume ends: after its last partition or, if later, the anchor and sequences recorded at its end. */
function udfVolumeEnd (udf: UdfVolume): number {
  const blocks = [
    udf.anchorLocation + 1,
    ...udf.partitions.map(p => p.start + p.length),
    udf.anchor.reserve.location + Math.ceil(udf.anchor.reserve.length / udf.blockSize),
    udf.anchor.main.location + Math.ceil(udf.anchor.main.length / udf.blockSize)
  ]
  return Math.max(...blocks) * udf.blockSize
}

function udfExtension (udf: UdfVolume): NonNullable<Extensions['udf']> {
  return { revision: revisionText(udf.revision), volumeId: udf.logicalVolumeId }
}

/** An image that is a UDF file system and nothing else (mkudffs): its root is the file set's root. */
async function readUdfOnly (
  source: ByteSource, nsr: string, diag: WarningLog, recognition: VolumeRecognition
): Promise<{ origin: ImageOrigin, root: Node }> {
  const udf = await readUdfVolume(source, nsr, diag)
  const readOnlyReasons = readOnlyReasonsOf(recognition, { volume: udf, bridge: false })
  const sectors = new SectorCache(source)
  const payloads = new PayloadIndex(source)
  const loader = new TreeLoader(source, sectors, diag, {
    rockRidge: false, suspSkip: 0, joliet: false, udf: { ctx: { source, map: udf.map, diag }, volume: udf }, payloads
  })
  const root = await loader.udfRoot()
  const extensions: Extensions = { enhanced: false, udf: udfExtension(udf) }
  log('opened UDF only: %o', { volume: udf.logicalVolumeId, extensions })
  return {
    origin: {
      source,
      udf,
      volume: udfVolumeInfo(udf, source),
      extensions,
      systemArea: { used: false },
      diagnostics: diag,
      pathTables: async () => [],
      readOnlyReasons,
      payloads,
      dataEnd: Math.ceil(source.size / SECTOR_SIZE),
      partitionOffset: 0
    },
    root
  }
}

/** The volume's identification from its UDF descriptors, where there is no ISO9660 one. */
function udfVolumeInfo (udf: UdfVolume, source: ByteSource): VolumeInfo {
  const info: VolumeInfo = {
    systemId: '',
    volumeId: udf.logicalVolumeId !== '' ? udf.logicalVolumeId : udf.volumeId,
    volumeSetId: udf.volumeSetId,
    publisherId: '',
    preparerId: '',
    applicationId: entityIdText(udf.primary.applicationId),
    copyrightFileId: '',
    abstractFileId: '',
    bibliographicFileId: '',
    volumeSpaceSize: Math.floor(source.size / udf.blockSize),
    volumeSetSize: udf.primary.maxVolumeSequenceNumber,
    volumeSequenceNumber: udf.primary.volumeSequenceNumber,
    logicalBlockSize: udf.blockSize
  }
  const recorded = timestampToMs(udf.primary.recorded)
  if (recorded !== undefined) info.createdMs = info.modifiedMs = recorded
  return info
}

/**
 * What lies outside the directory trees, as models whose pointers name payloads (model/payload.ts): the
 * El Torito catalog, the system area's tables, appended partitions. Read from those structures alone.
 */
async function readOutsideTrees (
  source: ByteSource, volumeSectors: number, elTorito: ElToritoInfo | undefined, area: SystemAreaInfo, options: OpenOptions
): Promise<Pick<ImageOrigin, 'boot' | 'systemAreaModel' | 'payloads' | 'dataEnd' | 'partitionOffset' | 'readOnlyReasons'>> {
  const payloads = new PayloadIndex(source)
  const mirror = area.used ? await readPartitionOffset(source, area) : undefined
  const partitionOffset = mirror?.offset ?? 0
  const dataEnd = dataEndOf(area, source.size, volumeSectors, partitionOffset, mirror?.volumeSectors)
  const boot = elTorito !== undefined ? await bootConfigurationOf(source, elTorito, payloads, dataEnd) : undefined
  if (!area.used || area.bytes === undefined) return { boot, payloads, dataEnd, partitionOffset, readOnlyReasons: [] }
  const { model, readOnlyReasons } = await systemAreaModelOf(source, { ...area, bytes: area.bytes }, payloads, { dataEnd, volumeSectors }, {
    dropHfsPlus: options.hfsplus === false, partitionOffset
  })
  return { boot, systemAreaModel: model, payloads, dataEnd, partitionOffset, readOnlyReasons }
}

function pathTableCheck (source: ByteSource, descriptors: DescriptorSet, diag: WarningLog): () => Promise<PathTableReport[]> {
  let reports: Promise<PathTableReport[]> | undefined
  return async () => {
    reports ??= (async () => {
      const list = [await checkPathTables(source, descriptors.primary, 'primary', diag)]
      if (descriptors.joliet !== undefined) list.push(await checkPathTables(source, descriptors.joliet.descriptor, 'Joliet', diag))
      return list
    })()
    return await reports
  }
}

export async function readRootSelf (source: ByteSource, root: DirectoryRecord, diag: WarningLog): Promise<DirectoryRecord | undefined> {
  // The records follow the root's extended attribute record, if it has one (ECMA-119 9.1.2).
  const lba = root.extent + root.extendedAttributeLength
  const where = { structure: 'root directory', lba }
  const sector = await readExactly(source, lba * SECTOR_SIZE, SECTOR_SIZE, where)
  return parseDirectoryRecord(sector, 0, SECTOR_SIZE, diag, where)
}

/**
 * SUSP and Rock Ridge are announced in the root's "." record (SUSP 5.3 SP, 5.5 ER). Images without an ER
 * (mkisofs before 1.10) are still Rock Ridge when RRIP entries appear there.
 */
async function detectExtensions (
  descriptors: DescriptorSet, rootSelf: DirectoryRecord | undefined, sectors: SectorCache, diag: WarningLog
): Promise<Extensions> {
  const extensions: Extensions = { enhanced: descriptors.enhanced !== undefined }
  if (descriptors.joliet !== undefined) {
    extensions.joliet = { level: descriptors.joliet.level, volumeId: decodeText(descriptors.joliet.descriptor.volumeId, 'ucs2') }
  }
  if (rootSelf === undefined) return extensions
  const where = { structure: 'root "." record', lba: descriptors.primary.root.extent }
  const entries = await collectSystemUse(rootSelf.systemUse, 0, sectors, diag, where)
  const sp = entries.find(e => e.signature === 'SP')
  const indicator = sp !== undefined ? parseSP(sp) : undefined
  if (indicator !== undefined) extensions.susp = { skip: indicator.skip }
  // A malformed ER costs only its identifier (Rock Ridge is still recognised by its entries).
  const identifiers = entries.filter(e => e.signature === 'ER')
    .map(e => forgiving(diag, 'extension reference ignored', () => parseER(e, where))?.identifier)
    .filter((id): id is string => id !== undefined)
  const version = identifiers.map(rockRidgeVersionOf).find(v => v !== undefined)
  const hasRripEntries = entries.some(e => ['PX', 'NM', 'TF', 'RR', 'SL', 'PN'].includes(e.signature))
  if (version !== undefined || hasRripEntries) {
    extensions.rockRidge = { version: version ?? 'unknown', identifiers }
    extensions.susp ??= { skip: 0 }
  }
  return extensions
}

function volumeInfo (pvd: VolumeDescriptor): VolumeInfo {
  const text = (field: Buffer): string => decodeText(field, 'ascii')
  const info: VolumeInfo = {
    systemId: text(pvd.systemId),
    volumeId: text(pvd.volumeId),
    volumeSetId: text(pvd.volumeSetId),
    publisherId: text(pvd.publisherId),
    preparerId: text(pvd.preparerId),
    applicationId: text(pvd.applicationId),
    copyrightFileId: text(pvd.copyrightFileId),
    abstractFileId: text(pvd.abstractFileId),
    bibliographicFileId: text(pvd.bibliographicFileId),
    volumeSpaceSize: pvd.volumeSpaceSize,
    volumeSetSize: pvd.volumeSetSize,
    volumeSequenceNumber: pvd.volumeSequenceNumber,
    logicalBlockSize: pvd.logicalBlockSize
  }
  const dates = { createdMs: pvd.created, modifiedMs: pvd.modified, expiresMs: pvd.expires, effectiveMs: pvd.effective }
  for (const [key, date] of Object.entries(dates)) {
    const ms = volumeDateToMs(date)
    if (ms !== undefined) info[key as 'createdMs'] = ms
  }
  return info
}

/** Reads the descriptors and boot structures again after a commit rewrote them (the tree is kept). */
export async function refreshOrigin (origin: ImageOrigin, source: ByteSource): Promise<ImageOrigin> {
  if (origin.descriptors === undefined) throw new InternalError('an image without an ISO9660 volume was committed')
  const diag = origin.diagnostics
  const descriptors = await selectDescriptorSet(source, diag, 0)
  const elTorito = descriptors.bootRecord !== undefined
    ? await readElTorito(source, descriptors.bootRecord, descriptors.primaryLba, diag)
    : undefined
  // A remaster wrote the UDF volume again (write/udf): what `isotool info` and the next commit describe.
  const udf = origin.udf !== undefined ? await readUdfVolume(source, origin.udf.nsr, diag) : undefined
  return {
    ...origin,
    source,
    descriptors,
    udf,
    volume: volumeInfo(descriptors.primary),
    elTorito,
    systemArea: await readSystemArea(source, diag),
    pathTables: pathTableCheck(source, descriptors, diag)
  }
}
