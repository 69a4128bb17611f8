import { InvalidImageError, IsoError, type ImageLocation } from '../../../errors'
import { logger } from '../../../log'
import type { Diagnostics } from '../../codec/diagnostics'
import { extentLength, type ExtentAd, type LbAddr } from '../../codec/udf/addresses'
import { parseAnchor, MIN_SEQUENCE_LENGTH, type AnchorVolumeDescriptorPointer } from '../../codec/udf/anchor'
import { decodeDstring } from '../../codec/udf/cs0'
import { entityIdText, OSTA_DOMAIN, udfRevisionOf } from '../../codec/udf/entity-id'
import { parseFileSetDescriptor, type FileSetDescriptor } from '../../codec/udf/file-set'
import { FileType } from '../../codec/udf/icb'
import {
  parseIntegrityDescriptor, parseIntegrityImplementationUse, type IntegrityImplementationUse, type LogicalVolumeIntegrityDescriptor
} from '../../codec/udf/integrity'
import { parseLogicalVolumeDescriptor, type LogicalVolumeDescriptor } from '../../codec/udf/logical-volume'
import type { PartitionMap } from '../../codec/udf/partition-maps'
import { parseSparingTable, SPARING_IDENTIFIER } from '../../codec/udf/sparing-table'
import { hasValidTag, TagId, tagName, verifyTag } from '../../codec/udf/tag'
import {
  parseImplementationUseVolumeDescriptor, parseLogicalVolumeInfo, parsePartitionDescriptor, parsePrimaryVolumeDescriptor,
  parseUnallocatedSpaceDescriptor, parseVolumeDescriptorPointer, type LogicalVolumeInfo, type PartitionDescriptor,
  type PrimaryVolumeDescriptor, type UnallocatedSpaceDescriptor
} from '../../codec/udf/volume-descriptors'
import { parseVat150, parseVat200 } from '../../codec/udf/virtual-allocation-table'
import { parseVolumeStructure, VRS_START, VRS_UNIT } from '../../codec/udf/volume-recognition'
import { readExactly, type ByteSource } from '../../io/byte-source'
import { entryData, readIcb, readPieces, type UdfContext } from './entries'
import { LogicalVolumeMap, sparingMappings, type MetadataPartition, type PhysicalPartition, type ResolvedPartition, type VirtualPartition } from './partitions'

const log = logger('read')

/*
 * Finding and reading a UDF volume (ECMA-167 part 3, UDF 2.2): the volume recognition sequence, an anchor
 * (at sector 256, or the last sector, or 256 before it), the main volume descriptor sequence (the reserve
 * one when the main cannot be read), the integrity sequence, and the file set descriptor. What prevails
 * of each descriptor is the one with the highest sequence number (3/8.4.2).
 */

/** Block sizes tried, most likely first: optical media and bridge images use 2048, hard disks 512 or 4096. */
const BLOCK_SIZES = [2048, 512, 4096, 1024]
/** Spacings of the recognition sequence's descriptors: 2048 bytes, or one sector of a larger size. */
const VRS_STEPS = [2048, 4096, 8192, 16384, 32768]
/** Volume recognition sequence descriptors scanned (ISO9660 descriptors come first on a bridge image). */
const MAX_VRS_DESCRIPTORS = 64
/** Descriptors read from one volume descriptor sequence, pointers included, and pointers followed. */
const MAX_SEQUENCE_DESCRIPTORS = 1024
const MAX_SEQUENCE_POINTERS = 16
/** Integrity descriptors followed through their `next` extents. */
const MAX_INTEGRITY_DESCRIPTORS = 256
/** Sparing tables larger than this are damage (a table of 8,000 entries is 64 KiB). */
const MAX_SPARING_TABLE = 1024 * 1024
/** A virtual allocation table maps 4 bytes per block: 64 MiB covers a 32 TiB partition. */
const MAX_VAT_SIZE = 64 * 1024 * 1024

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

/**
 * The NSR descriptor of the volume recognition sequence, if there is one (a UDF volume is recorded).
 * ECMA-167 2/8.4: descriptors follow each other every 2048 bytes from byte 32768, or every sector where
 * sectors are larger (a 4096-byte hard disk file system): both spacings are tried.
 */
export async function findUdfRecognition (source: ByteSource): Promise<string | undefined> {
  for (const step of VRS_STEPS) {
    let inExtendedArea = false
    for (let i = 0; i < MAX_VRS_DESCRIPTORS; i++) {
      const position = VRS_START + i * step
      if (position + VRS_UNIT > source.size) break
      const vsd = parseVolumeStructure(await readExactly(source, position, VRS_UNIT, { structure: 'volume recognition sequence', lba: position / VRS_UNIT }))
      if (vsd === undefined) break
      if (vsd.identifier === 'BEA01') inExtendedArea = true
      else if (vsd.identifier === 'TEA01') inExtendedArea = false
      else if ((vsd.identifier === 'NSR02' || vsd.identifier === 'NSR03') && inExtendedArea) return vsd.identifier
    }
  }
  return undefined
}

/** Reads the UDF volume; `nsr` is what findUdfRecognition found. Errors name the descriptor, its place and the field. */
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

interface Sequence {
  primary: PrimaryVolumeDescriptor
  pvdLocation: number
  logicalVolume: LogicalVolumeDescriptor
  lvdLocation: number
  partitions: PartitionDescriptor[]
  lvInfo?: LogicalVolumeInfo
  unallocated?: UnallocatedSpaceDescriptor
}

/** Reads a volume descriptor sequence (3/8.4), following pointers, to its terminator or its end. */
async function readSequence (source: ByteSource, extent: ExtentAd, blockSize: number, diag: Diagnostics, name: string): Promise<Sequence> {
  const structure = `${name} volume descriptor sequence`
  if (extent.length < MIN_SEQUENCE_LENGTH * blockSize) {
    diag.warn({ structure, lba: extent.location, field: 'extent length' }, `${extent.length} bytes is less than the 16 sectors UDF 2.2.3 requires`)
  }
  let primary: { d: PrimaryVolumeDescriptor, lba: number } | undefined
  let logical: { d: LogicalVolumeDescriptor, lba: number } | undefined
  const partitions = new Map<number, PartitionDescriptor>()
  let lvInfo: { d: LogicalVolumeInfo, seq: number } | undefined
  let unallocated: UnallocatedSpaceDescriptor | undefined
  const visited = new Set<number>()
  let current: ExtentAd | undefined = extent
  let read = 0
  let pointers = 0
  outer:
  while (current !== undefined) {
    if (visited.has(current.location)) {
      throw new InvalidImageError('IMAGE_LOOP', `volume descriptor pointers lead back to sector ${current.location}`, { structure, lba: current.location })
    }
    visited.add(current.location)
    const blocks = Math.ceil(current.length / blockSize)
    const start = current.location
    current = undefined
    for (let i = 0; i < blocks; i++) {
      if (++read > MAX_SEQUENCE_DESCRIPTORS) throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_SEQUENCE_DESCRIPTORS} descriptors`, { structure, lba: start })
      const lba = start + i
      const where: ImageLocation = { structure, lba }
      const buf = await readExactly(source, lba * blockSize, blockSize, where)
      // 3/8.4.2: the sequence ends at a terminating descriptor, or at an unrecorded (blank) sector.
      if (!hasValidTag(buf)) {
        if (!buf.every(b => b === 0)) diag.warn(where, 'a sector without a valid descriptor tag ends the sequence before a terminating descriptor')
        break outer
      }
      const tag = verifyTag(buf, 0, { location: lba, available: buf.length }, diag, { structure: tagName(buf.readUInt16LE(0)), lba })
      const at = { structure: tagName(tag.id), lba }
      switch (tag.id) {
        case TagId.PRIMARY_VOLUME: {
          const d = parsePrimaryVolumeDescriptor(buf, tag)
          if (primary === undefined || d.sequenceNumber > primary.d.sequenceNumber) primary = { d, lba }
          break
        }
        case TagId.LOGICAL_VOLUME: {
          const d = parseLogicalVolumeDescriptor(buf, tag, at)
          if (logical === undefined || d.sequenceNumber > logical.d.sequenceNumber) logical = { d, lba }
          break
        }
        case TagId.PARTITION: {
          const d = parsePartitionDescriptor(buf, tag)
          const known = partitions.get(d.number)
          if (known === undefined || d.sequenceNumber > known.sequenceNumber) partitions.set(d.number, d)
          break
        }
        case TagId.IMPLEMENTATION_USE: {
          const d = parseImplementationUseVolumeDescriptor(buf, tag)
          if (entityIdText(d.implementationId) === '*UDF LV Info' && (lvInfo === undefined || d.sequenceNumber > lvInfo.seq)) {
            lvInfo = { d: parseLogicalVolumeInfo(d.implementationUse), seq: d.sequenceNumber }
          }
          break
        }
        case TagId.UNALLOCATED_SPACE:
          unallocated = parseUnallocatedSpaceDescriptor(buf, tag, diag, at)
          break
        case TagId.VOLUME_POINTER: {
          if (++pointers > MAX_SEQUENCE_POINTERS) throw new InvalidImageError('IMAGE_LOOP', `more than ${MAX_SEQUENCE_POINTERS} volume descriptor pointers`, at)
          current = parseVolumeDescriptorPointer(buf, tag).next
          continue outer
        }
        case TagId.TERMINATING:
          break outer
        default:
          diag.warn({ ...at, field: 'tag identifier' }, `a ${tagName(tag.id)} does not belong in a volume descriptor sequence; ignored`)
      }
    }
  }
  const missing = primary === undefined ? 'primary volume descriptor' : logical === undefined ? 'logical volume descriptor' : partitions.size === 0 ? 'partition descriptor' : undefined
  if (missing !== undefined || primary === undefined || logical === undefined) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `no ${missing ?? 'descriptor'} in the sequence`, { structure, lba: extent.location })
  }
  return {
    primary: primary.d,
    pvdLocation: primary.lba,
    logicalVolume: logical.d,
    lvdLocation: logical.lba,
    partitions: [...partitions.values()],
    lvInfo: lvInfo?.d,
    unallocated
  }
}

/** The address translation of the logical volume: each partition map resolved to where it reads from. */
async function volumeMap (
  source: ByteSource, lvd: LogicalVolumeDescriptor, descriptors: PartitionDescriptor[], blockSize: number, diag: Diagnostics, where: ImageLocation
): Promise<LogicalVolumeMap> {
  const byNumber = new Map(descriptors.map(d => [d.number, d]))
  const descriptorOf = (map: PartitionMap, index: number): PartitionDescriptor => {
    const number = 'partitionNumber' in map ? map.partitionNumber : -1
    const d = byNumber.get(number)
    if (d === undefined) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `partition map ${index} names partition ${number}, which no partition descriptor describes`, { ...where, field: 'partition maps' })
    }
    return d
  }
  const resolved: Array<ResolvedPartition | undefined> = []
  const metadata: number[] = []
  const virtual: number[] = []
  for (const [index, map] of lvd.partitionMaps.entries()) {
    if (map.type === 1 && !('kind' in map)) {
      const d = descriptorOf(map, index)
      resolved.push({ kind: 'physical', number: d.number, start: d.start, length: d.length })
    } else if ('kind' in map && map.kind === 'sparable') {
      const d = descriptorOf(map, index)
      const sparing = await readSparing(source, map.sparingTableLocations, map.sparingTableSize, blockSize, diag)
      resolved.push({ kind: 'physical', number: d.number, start: d.start, length: d.length, packetLength: map.packetLength, sparing })
    } else if ('kind' in map && map.kind === 'metadata') {
      resolved.push(undefined)
      metadata.push(index)
    } else if ('kind' in map && map.kind === 'virtual') {
      resolved.push(undefined)
      virtual.push(index)
    } else {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `partition map ${index} (type ${map.type}) is of a kind this reader does not know`, { ...where, field: `partition map ${index}` })
    }
  }
  const physicalOnly = new LogicalVolumeMap(blockSize, resolved.map(p => p ?? { kind: 'physical', number: -1, start: 0, length: 0 }), source.size)
  const physicalOf = (index: number, number: number): number => {
    const physical = resolved.findIndex(p => p?.kind === 'physical' && p.number === number)
    if (physical === -1) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `partition map ${index} names partition ${number}, which no physical partition map holds`, { ...where, field: `partition map ${index}` })
    }
    return physical
  }
  for (const index of virtual) {
    const map = lvd.partitionMaps[index] as Extract<PartitionMap, { kind: 'virtual' }>
    resolved[index] = await virtualPartition(source, physicalOnly, physicalOf(index, map.partitionNumber), diag)
  }
  for (const index of metadata) {
    const map = lvd.partitionMaps[index] as Extract<PartitionMap, { kind: 'metadata' }>
    resolved[index] = await metadataPartition(source, physicalOnly, physicalOf(index, map.partitionNumber), map, diag)
  }
  return new LogicalVolumeMap(blockSize, resolved as ResolvedPartition[], source.size)
}

/**
 * UDF 2.2.10: a metadata partition's blocks are the metadata file's bytes. Its mirror (a copy, UDF
 * 2.2.13.1) is read when the file's entry cannot be.
 */
async function metadataPartition (
  source: ByteSource, physicalOnly: LogicalVolumeMap, physical: number, map: Extract<PartitionMap, { kind: 'metadata' }>, diag: Diagnostics
): Promise<MetadataPartition> {
  const ctx: UdfContext = { source, map: physicalOnly, diag }
  const read = async (block: number, expected: number): Promise<MetadataPartition> => {
    const located = await readIcb(ctx, { partition: physical, block })
    if (located.entry.icbTag.fileType !== expected) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `file type ${located.entry.icbTag.fileType} is not the metadata file's (${expected})`,
        { structure: 'metadata file entry', lba: physicalOnly.position({ partition: physical, block }, { structure: 'metadata file entry' }) / physicalOnly.blockSize, field: 'file type' })
    }
    const data = await entryData(ctx, located, 'metadata file entry')
    if (data.kind !== 'extents') {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'the metadata file is embedded in its entry', { structure: 'metadata file entry', field: 'ICB flags' })
    }
    const partition = physicalOnly.partitions[physical] as PhysicalPartition
    const extents: MetadataPartition['extents'] = []
    let offset = 0
    for (const piece of data.pieces) {
      if (piece.hole !== true) extents.push({ offset, length: piece.length, block: piece.position / physicalOnly.blockSize - partition.start })
      offset += piece.length
    }
    return { kind: 'metadata', physical, extents, size: data.size }
  }
  try {
    return await read(map.metadataFileLocation, FileType.METADATA)
  } catch (err) {
    if (!(err instanceof IsoError) || map.mirrorFileLocation === map.metadataFileLocation) throw err
    diag.warn({ structure: 'metadata file entry', field: 'metadata file location' }, `${err.message.replace(/^invalid image: /, '')}; its mirror is read instead`)
    return await read(map.mirrorFileLocation, FileType.METADATA_MIRROR)
  }
}

/**
 * UDF 2.2.11: the virtual allocation table is the last thing written: its entry is at the image's last
 * block or, when the recording ended with a few blocks of run-out, one of the blocks just before (Linux
 * udf looks three blocks back).
 */
async function virtualPartition (source: ByteSource, physicalOnly: LogicalVolumeMap, physical: number, diag: Diagnostics): Promise<VirtualPartition> {
  const ctx: UdfContext = { source, map: physicalOnly, diag }
  const partition = physicalOnly.partitions[physical] as PhysicalPartition
  const last = Math.floor(source.size / physicalOnly.blockSize) - 1
  const quiet: Diagnostics = { strict: false, warn: () => {} }
  for (let block = last; block >= Math.max(partition.start, last - 3); block--) {
    const icb = { partition: physical, block: block - partition.start }
    let located
    try {
      located = await readIcb({ ...ctx, diag: quiet }, icb)
    } catch {
      continue
    }
    const type = located.entry.icbTag.fileType
    if (type !== FileType.VAT && type !== FileType.UNSPECIFIED) continue
    const where = { structure: 'virtual allocation table', lba: block }
    if (located.entry.informationLength > MAX_VAT_SIZE) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `table of ${located.entry.informationLength} bytes exceeds ${MAX_VAT_SIZE}`, { ...where, field: 'information length' })
    }
    const data = await entryData(ctx, located, 'virtual allocation table')
    const bytes = data.kind === 'embedded' ? data.bytes : await readPieces(source, data.pieces, data.size, where)
    const vat = type === FileType.VAT ? parseVat200(bytes, where) : parseVat150(bytes, where)
    log('virtual allocation table at %d: %d entries', block, vat.entries.length)
    return { kind: 'virtual', physical, entries: vat.entries }
  }
  throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `no virtual allocation table in the last blocks (${last - 3}-${last}) of the image`, { structure: 'virtual allocation table', lba: last })
}

/** The first sparing table that reads (UDF 2.2.9: up to four copies), as sorted mappings. */
async function readSparing (source: ByteSource, locations: number[], size: number, blockSize: number, diag: Diagnostics): Promise<PhysicalPartition['sparing']> {
  const bytes = Math.min(Math.ceil(size / blockSize) * blockSize, MAX_SPARING_TABLE)
  for (const location of locations) {
    const where = { structure: 'sparing table', lba: location }
    try {
      const buf = await readExactly(source, location * blockSize, Math.max(bytes, blockSize), where)
      const tag = verifyTag(buf, 0, { location, available: buf.length }, diag, where)
      const table = parseSparingTable(buf, tag, diag, where)
      if (entityIdText(table.id) !== SPARING_IDENTIFIER) {
        diag.warn({ ...where, field: 'sparing identifier' }, `identifier "${entityIdText(table.id)}" is not "${SPARING_IDENTIFIER}"`)
      }
      return sparingMappings(table.entries)
    } catch (err) {
      if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
      diag.warn(where, `${String(err.data.detail)}; the next copy is tried`)
    }
  }
  throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', 'no sparing table of the sparable partition can be read', { structure: 'sparing table', lba: locations[0] })
}

/**
 * The prevailing integrity descriptor: the last of the integrity sequence (3/10.10, 3/8.8.2), following
 * `next` extents. Damage here costs only the counts shown, never the volume: a warning, no descriptor.
 */
async function readIntegrity (source: ByteSource, extent: ExtentAd, blockSize: number, diag: Diagnostics): Promise<{ descriptor: LogicalVolumeIntegrityDescriptor, use?: IntegrityImplementationUse } | undefined> {
  let last: LogicalVolumeIntegrityDescriptor | undefined
  let current: ExtentAd | undefined = extent.length > 0 ? extent : undefined
  const visited = new Set<number>()
  let read = 0
  outer:
  while (current !== undefined) {
    if (visited.has(current.location)) {
      diag.warn({ structure: 'logical volume integrity descriptor', lba: current.location, field: 'next integrity extent' }, 'integrity extents lead back to an earlier one; the chain ends here')
      break
    }
    visited.add(current.location)
    const blocks = Math.ceil(current.length / blockSize)
    const start = current.location
    current = undefined
    for (let i = 0; i < blocks && read < MAX_INTEGRITY_DESCRIPTORS; i++, read++) {
      const lba = start + i
      const where = { structure: 'logical volume integrity descriptor', lba }
      if ((lba + 1) * blockSize > source.size) {
        diag.warn(where, 'the integrity sequence lies beyond the end of the image')
        break outer
      }
      const buf = await readExactly(source, lba * blockSize, blockSize, where)
      if (!hasValidTag(buf)) break outer
      const tag = verifyTag(buf, 0, { location: lba, available: buf.length }, diag, where)
      if (tag.id === TagId.TERMINATING) break outer
      if (tag.id !== TagId.INTEGRITY) {
        diag.warn({ ...where, field: 'tag identifier' }, `a ${tagName(tag.id)} in the integrity sequence; the sequence ends here`)
        break outer
      }
      last = parseIntegrityDescriptor(buf, tag, diag, where)
      if (extentLength(last.next.length) > 0) {
        current = last.next
        continue outer
      }
    }
  }
  if (last === undefined) {
    diag.warn({ structure: 'logical volume integrity descriptor', lba: extent.location }, 'no integrity descriptor could be read')
    return undefined
  }
  return { descriptor: last, use: parseIntegrityImplementationUse(last.implementationUse) }
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
