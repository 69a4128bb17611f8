import { InvalidImageError, type ImageLocation } from '../../../errors'
import { logger } from '../../../log'
import type { Diagnostics } from '../../codec/diagnostics'
import type { LbAddr } from '../../codec/udf/addresses'
import { parseAnchor, type AnchorVolumeDescriptorPointer } from '../../codec/udf/anchor'
import { decodeDstring } from '../../codec/udf/cs0'
import { entityIdText, OSTA_DOMAIN, udfRevisionOf } from '../../codec/udf/entity-id'
import { parseFileSetDescriptor, type FileSetDescriptor } from '../../codec/udf/file-set'
import type { IntegrityImplementationUse, LogicalVolumeIntegrityDescriptor } from '../../codec/udf/integrity'
import type { LogicalVolumeDescriptor } from '../../codec/udf/logical-volume'
import { hasValidTag, TagId, verifyTag } from '../../codec/udf/tag'
import type { LogicalVolumeInfo, PartitionDescriptor, PrimaryVolumeDescriptor, UnallocatedSpaceDescriptor } from '../../codec/udf/volume-descriptors'
import { readExactly, type ByteSource } from '../../io/byte-source'
import type { UdfContext } from './entries'
import { readIntegrity } from './integrity'
import type { LogicalVolumeMap } from './partitions'
import { readSequence, type Sequence } from './sequence'
import { volumeMap } from './volume-map'

const log = logger('read')

/*
 * Finding and reading a UDF volume (ECMA-167 part 3, UDF 2.2): the volume recognition sequence, an anchor
 * (at sector 256, or the last sector, or 256 before it), the main volume descriptor sequence (the reserve
 * one when the main cannot be read), the integrity sequence, and the file set descriptor. What prevails
 * of each descriptor is the one with the highest sequence number (3/8.4.2).
 */

/** Block sizes tried, most likely first: optical media and bridge images use 2048, hard disks 512 or 4096. */
const BLOCK_SIZES = [2048, 512, 4096, 1024]
export interface UdfVolume {
  blockSize: number
  /** Where the anchor read was, in blocks. */
  anchorLocation: number
  anchor: AnchorVolumeDescriptorPointer
  /** The recognition sequence's NSR descriptor: "NSR02" (UDF ≤ 1.50) or "NSR03". */
  nsr: string
  /** The sequence the descriptors were read from. */
  sequence: 'main' | 'reserve'
  primary: PrimaryVolumeDescriptor
  logicalVolume: LogicalVolumeDescriptor
  partitions: PartitionDescriptor[]
  lvInfo?: LogicalVolumeInfo
  unallocated?: UnallocatedSpaceDescriptor
  integrity?: LogicalVolumeIntegrityDescriptor
  integrityUse?: IntegrityImplementationUse
  fileSet: FileSetDescriptor
  /** The UDF revision of the domain identifier (0x0102 … 0x0260). */
  revision: number
  map: LogicalVolumeMap
  root: LbAddr
  /** Decoded identification, for people. */
  volumeId: string
  logicalVolumeId: string
  volumeSetId: string
  fileSetId: string
}

/** Reads the UDF volume; `nsr` is what readVolumeRecognition (../volume-recognition.ts) found. Errors name the descriptor, its place and the field. */
export async function readUdfVolume (source: ByteSource, nsr: string, diag: Diagnostics): Promise<UdfVolume> {
  const { blockSize, location, anchor } = await findAnchor(source, diag)
  let sequence: Sequence
  let which: 'main' | 'reserve' = 'main'
  try {
    sequence = await readSequence(source, anchor.main, blockSize, diag, 'main')
  } catch (err) {
    if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
    diag.warn({ structure: 'main volume descriptor sequence', lba: anchor.main.location }, `${String(err.data.detail ?? err.message)}; the reserve sequence is read instead`)
    sequence = await readSequence(source, anchor.reserve, blockSize, diag, 'reserve')
    which = 'reserve'
  }
  const lvd = sequence.logicalVolume
  const lvdWhere = { structure: 'logical volume descriptor', lba: sequence.lvdLocation }
  if (lvd.blockSize !== blockSize) {
    throw new InvalidImageError('IMAGE_BLOCK_SIZE', `logical block size ${lvd.blockSize} differs from the ${blockSize}-byte sectors the anchor was found with`, { ...lvdWhere, field: 'logical block size' })
  }
  if (entityIdText(lvd.domainId) !== OSTA_DOMAIN) {
    diag.warn({ ...lvdWhere, field: 'domain identifier' }, `domain "${entityIdText(lvd.domainId)}" is not "${OSTA_DOMAIN}"`)
  }
  const map = await volumeMap(source, lvd, sequence.partitions, blockSize, diag, lvdWhere)
  const ctx: UdfContext = { source, map, diag }
  const integrity = await readIntegrity(source, lvd.integritySequence, blockSize, diag)
  const fileSet = await readFileSet(ctx, lvd)
  const decode = (field: Buffer, structure: string, lba: number, name: string): string => {
    try {
      return decodeDstring(field, { structure, lba, field: name })
    } catch (err) {
      if (!(err instanceof InvalidImageError)) throw err
      diag.warn({ structure, lba, field: name }, String(err.data.detail))
      return ''
    }
  }
  const volume: UdfVolume = {
    blockSize,
    anchorLocation: location,
    anchor,
    nsr,
    sequence: which,
    primary: sequence.primary,
    logicalVolume: lvd,
    partitions: sequence.partitions,
    lvInfo: sequence.lvInfo,
    unallocated: sequence.unallocated,
    integrity: integrity?.descriptor,
    integrityUse: integrity?.use,
    fileSet: fileSet.descriptor,
    revision: udfRevisionOf(lvd.domainId),
    map,
    root: fileSet.descriptor.rootDirectory.location,
    volumeId: decode(sequence.primary.volumeId, 'UDF primary volume descriptor', sequence.pvdLocation, 'volume identifier'),
    logicalVolumeId: decode(lvd.logicalVolumeId, 'logical volume descriptor', sequence.lvdLocation, 'logical volume identifier'),
    volumeSetId: decode(sequence.primary.volumeSetId, 'UDF primary volume descriptor', sequence.pvdLocation, 'volume set identifier'),
    fileSetId: decode(fileSet.descriptor.fileSetId, 'file set descriptor', fileSet.lba, 'file set identifier')
  }
  log('UDF volume: %o', { revision: volume.revision.toString(16), blockSize, sequence: which, partitions: map.partitions.map(p => p.kind) })
  return volume
}

/**
 * UDF 2.2.3: an anchor is at sector 256, at the last sector (N − 1) and usually at N − 257; any one will
 * do. The block size is the one at which an anchor whose tag names its own location is found.
 */
async function findAnchor (source: ByteSource, diag: Diagnostics): Promise<{ blockSize: number, location: number, anchor: AnchorVolumeDescriptorPointer }> {
  for (const blockSize of BLOCK_SIZES) {
    const last = Math.floor(source.size / blockSize) - 1
    for (const location of [256, last, last - 256]) {
      if (location < 256 || (location + 1) * blockSize > source.size) continue
      const buf = await readExactly(source, location * blockSize, blockSize, { structure: 'anchor volume descriptor pointer', lba: location })
      if (!hasValidTag(buf, 0, TagId.ANCHOR) || buf.readUInt32LE(12) !== location) continue
      const anchor = parseAnchor(buf, location, diag, { structure: 'anchor volume descriptor pointer', lba: location })
      return { blockSize, location, anchor }
    }
  }
  throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'the recognition sequence announces UDF, but no anchor volume descriptor pointer is at sector 256 or at the end',
    { structure: 'anchor volume descriptor pointer', lba: 256 })
}

async function readFileSet (ctx: UdfContext, lvd: LogicalVolumeDescriptor): Promise<{ descriptor: FileSetDescriptor, lba: number }> {
  const addr = lvd.fileSetLocation.location
  const structure = 'file set descriptor'
  const where: ImageLocation = { structure }
  const position = ctx.map.position(addr, where)
  where.lba = Math.floor(position / ctx.map.blockSize)
  const buf = await readExactly(ctx.source, position, ctx.map.blockSize, where)
  const tag = verifyTag(buf, 0, { id: TagId.FILE_SET, location: addr.block, available: buf.length }, ctx.diag, where)
  return { descriptor: parseFileSetDescriptor(buf, tag), lba: where.lba }
}
