import { InvalidImageError, IsoError, type ImageLocation } from '../../../errors'
import { logger } from '../../../log'
import type { Diagnostics } from '../../codec/diagnostics'
import { entityIdText } from '../../codec/udf/entity-id'
import { FileType } from '../../codec/udf/icb'
import type { LogicalVolumeDescriptor } from '../../codec/udf/logical-volume'
import type { PartitionMap } from '../../codec/udf/partition-maps'
import { parseSparingTable, SPARING_IDENTIFIER } from '../../codec/udf/sparing-table'
import { verifyTag } from '../../codec/udf/tag'
import { parseVat150, parseVat200 } from '../../codec/udf/virtual-allocation-table'
import type { PartitionDescriptor } from '../../codec/udf/volume-descriptors'
import { readExactly, type ByteSource } from '../../io/byte-source'
import { entryData, readIcb, readPieces, type UdfContext } from './entries'
import { LogicalVolumeMap, sparingMappings, type MetadataPartition, type PhysicalPartition, type ResolvedPartition, type VirtualPartition } from './partitions'

const log = logger('read')

/*
 * The logical volume's partition maps (ECMA-167 3/10.7, UDF 2.2.8-2.2.12) resolved into an address
 * translation: type 1 and sparable maps to their partition descriptors (with the sparing table read),
 * virtual maps through the virtual allocation table, metadata maps through the metadata file.
 */

/** Sparing tables larger than this are damage (a table of 8,000 entries is 64 KiB). */
const MAX_SPARING_TABLE = 1024 * 1024
/** A virtual allocation table maps 4 bytes per block: 64 MiB covers a 32 TiB partition. */
const MAX_VAT_SIZE = 64 * 1024 * 1024

/** The address translation of the logical volume: each partition map resolved to where it reads from. */
export async function volumeMap (
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
