import { InvalidImageError, type ImageLocation } from '../../../errors'
import { entityIdText, parseEntityId, serializeEntityId, type EntityId } from './entity-id'

/*
 * ECMA-167 3/10.7: the partition maps of a logical volume descriptor. A logical block address names a
 * partition by the index of its map (the partition reference number). Type 1 maps a partition descriptor
 * directly; type 2 maps (UDF 2.2.8-2.2.10) add a layer, told apart by their entity identifier:
 * sparable partitions (packet-written media with a sparing table), virtual partitions (CD-R, through a
 * virtual allocation table) and metadata partitions (UDF 2.50+: metadata in a file of the partition).
 */

export const PartitionMapKind = {
  SPARABLE: '*UDF Sparable Partition',
  VIRTUAL: '*UDF Virtual Partition',
  METADATA: '*UDF Metadata Partition'
} as const

export interface Type1PartitionMap {
  type: 1
  volumeSequenceNumber: number
  partitionNumber: number
}

export interface SparablePartitionMap {
  type: 2
  kind: 'sparable'
  id: EntityId
  volumeSequenceNumber: number
  partitionNumber: number
  /** Blocks per packet (UDF 2.2.9: 32 for CD-RW, 16 for DVD). */
  packetLength: number
  sparingTableCount: number
  reserved: number
  sparingTableSize: number
  /** Absolute sectors of the sparing tables (up to 4). */
  sparingTableLocations: number[]
}

export interface MetadataPartitionMap {
  type: 2
  kind: 'metadata'
  id: EntityId
  volumeSequenceNumber: number
  partitionNumber: number
  /** Blocks of the physical partition where the metadata file's, its mirror's and bitmap's entries are. */
  metadataFileLocation: number
  mirrorFileLocation: number
  bitmapFileLocation: number
  allocationUnitSize: number
  alignmentUnitSize: number
  /** Bit 0: the mirror is a duplicate of the metadata file (UDF 2.2.10). */
  flags: number
  reserved: Buffer
}

export interface VirtualPartitionMap {
  type: 2
  kind: 'virtual'
  id: EntityId
  volumeSequenceNumber: number
  partitionNumber: number
  reserved: Buffer
}

/** A type 2 map of another kind, or a map type this code does not know, kept as recorded. */
export interface OtherPartitionMap {
  type: number
  kind: 'other'
  id?: EntityId
  bytes: Buffer
}

export type PartitionMap = Type1PartitionMap | SparablePartitionMap | MetadataPartitionMap | VirtualPartitionMap | OtherPartitionMap

export function partitionMapLength (map: PartitionMap): number {
  if (map.type === 1) return 6
  if ('kind' in map && map.kind === 'other') return map.bytes.length
  return 64
}

/** Parses `count` maps from the map table (`table`, MT_L bytes); a map overrunning the table is damage. */
export function parsePartitionMaps (table: Buffer, count: number, where: ImageLocation): PartitionMap[] {
  const maps: PartitionMap[] = []
  let offset = 0
  for (let i = 0; i < count; i++) {
    if (offset + 2 > table.length) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `partition map ${i} lies beyond the ${table.length}-byte map table`, { ...where, field: 'partition maps' })
    }
    const length = table[offset + 1]
    if (length < 2 || offset + length > table.length) {
      throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `partition map ${i} has length ${length}, ${table.length - offset} bytes left`, { ...where, field: 'partition map length' })
    }
    maps.push(parsePartitionMap(table.subarray(offset, offset + length)))
    offset += length
  }
  return maps
}

function parsePartitionMap (bytes: Buffer): PartitionMap {
  const type = bytes[0]
  if (type === 1 && bytes.length === 6) {
    return { type: 1, volumeSequenceNumber: bytes.readUInt16LE(2), partitionNumber: bytes.readUInt16LE(4) }
  }
  if (type !== 2 || bytes.length !== 64) return { type, kind: 'other', bytes: Buffer.from(bytes) }
  const id = parseEntityId(bytes, 4)
  const volumeSequenceNumber = bytes.readUInt16LE(36)
  const partitionNumber = bytes.readUInt16LE(38)
  switch (entityIdText(id)) {
    case PartitionMapKind.SPARABLE: {
      const count = bytes[42]
      const locations: number[] = []
      for (let i = 0; i < Math.min(count, 4); i++) locations.push(bytes.readUInt32LE(48 + i * 4))
      return {
        type: 2,
        kind: 'sparable',
        id,
        volumeSequenceNumber,
        partitionNumber,
        packetLength: bytes.readUInt16LE(40),
        sparingTableCount: count,
        reserved: bytes[43],
        sparingTableSize: bytes.readUInt32LE(44),
        sparingTableLocations: locations
      }
    }
    case PartitionMapKind.METADATA:
      return {
        type: 2,
        kind: 'metadata',
        id,
        volumeSequenceNumber,
        partitionNumber,
        metadataFileLocation: bytes.readUInt32LE(40),
        mirrorFileLocation: bytes.readUInt32LE(44),
        bitmapFileLocation: bytes.readUInt32LE(48),
        allocationUnitSize: bytes.readUInt32LE(52),
        alignmentUnitSize: bytes.readUInt16LE(56),
        flags: bytes[58],
        reserved: bytes.subarray(59, 64)
      }
    case PartitionMapKind.VIRTUAL:
      return { type: 2, kind: 'virtual', id, volumeSequenceNumber, partitionNumber, reserved: bytes.subarray(40, 64) }
    default:
      return { type: 2, kind: 'other', id, bytes: Buffer.from(bytes) }
  }
}

export function serializePartitionMaps (maps: readonly PartitionMap[]): Buffer {
  return Buffer.concat(maps.map(serializePartitionMap))
}

function serializePartitionMap (map: PartitionMap): Buffer {
  if (map.type === 1 && !('kind' in map)) {
    const buf = Buffer.alloc(6)
    buf[0] = 1
    buf[1] = 6
    buf.writeUInt16LE(map.volumeSequenceNumber, 2)
    buf.writeUInt16LE(map.partitionNumber, 4)
    return buf
  }
  const other = map as Exclude<PartitionMap, Type1PartitionMap>
  if (other.kind === 'other') return Buffer.from(other.bytes)
  const buf = Buffer.alloc(64)
  buf[0] = 2
  buf[1] = 64
  serializeEntityId(other.id, buf, 4)
  buf.writeUInt16LE(other.volumeSequenceNumber, 36)
  buf.writeUInt16LE(other.partitionNumber, 38)
  switch (other.kind) {
    case 'sparable':
      buf.writeUInt16LE(other.packetLength, 40)
      buf[42] = other.sparingTableCount
      buf[43] = other.reserved
      buf.writeUInt32LE(other.sparingTableSize, 44)
      other.sparingTableLocations.forEach((location, i) => buf.writeUInt32LE(location, 48 + i * 4))
      break
    case 'metadata':
      buf.writeUInt32LE(other.metadataFileLocation, 40)
      buf.writeUInt32LE(other.mirrorFileLocation, 44)
      buf.writeUInt32LE(other.bitmapFileLocation, 48)
      buf.writeUInt32LE(other.allocationUnitSize, 52)
      buf.writeUInt16LE(other.alignmentUnitSize, 56)
      buf[58] = other.flags
      other.reserved.copy(buf, 59)
      break
    case 'virtual':
      other.reserved.copy(buf, 40)
      break
  }
  return buf
}
