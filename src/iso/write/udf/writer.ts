import { InternalError } from '../../../errors'
import { serializeAllocationDescriptors, type AllocationDescriptor, type LongAd } from '../../codec/udf/addresses'
import { serializeAnchor } from '../../codec/udf/anchor'
import { encodeDstring, ostaCharspec } from '../../codec/udf/cs0'
import { domainSuffix, entityId, OSTA_DOMAIN, type EntityId } from '../../codec/udf/entity-id'
import { FILE_ENTRY_FIXED_SIZE, serializeFileEntry, udfPermissions, UNSPECIFIED_ID, type FileEntry } from '../../codec/udf/file-entry'
import { FID_FIXED_SIZE, FileCharacteristic, fidLength, serializeFileIdentifier } from '../../codec/udf/file-identifier'
import { FILE_SET_DESCRIPTOR_SIZE, serializeFileSetDescriptor } from '../../codec/udf/file-set'
import { FileType, IcbFlag } from '../../codec/udf/icb'
import { IntegrityType, serializeIntegrityDescriptor, serializeIntegrityImplementationUse } from '../../codec/udf/integrity'
import { serializeLogicalVolumeDescriptor } from '../../codec/udf/logical-volume'
import { PartitionMapKind, serializePartitionMaps, type PartitionMap } from '../../codec/udf/partition-maps'
import type { UdfRevisionFacts } from '../../codec/udf/revision'
import { TAG_SIZE, TagId, type DescriptorTag } from '../../codec/udf/tag'
import { timestampFromMs, type Timestamp } from '../../codec/udf/timestamp'
import {
  AccessType, serializeImplementationUseVolumeDescriptor, serializeLogicalVolumeInfo, serializePartitionDescriptor,
  serializePrimaryVolumeDescriptor, serializeTerminatingDescriptor, serializeUnallocatedSpaceDescriptor, VOLUME_DESCRIPTOR_SIZE
} from '../../codec/udf/volume-descriptors'
import { serializeVolumeStructure, volumeStructure } from '../../codec/udf/volume-recognition'
import { SECTOR_SIZE } from '../../codec/volume-descriptor'
import { S_IFMT } from '../../model/inode'
import { NodeFlag } from '../../model/node'
import { sectionsOf, type Layout } from '../layout'
import type { SectorWriter } from '../sector-writer'
import {
  FIRST_ANCHOR_LBA, INTEGRITY_LBA, INTEGRITY_SECTORS, MAIN_SEQUENCE_LBA, METADATA_ALLOCATION_UNIT, PARTITION_START, RESERVE_SEQUENCE_LBA, writtenRevision, type UdfLayout
} from './layout'
import type { UdfDirectoryPlan, UdfEntryPlan } from './tree-plan'

/*
 * The UDF file system of a bridge image as bytes (ECMA-167 parts 3 and 4, OSTA UDF 1.02 to 2.60): the
 * recognition sequence, the volume descriptor sequences (main and reserve: PVD, IUVD, PD, LVD, USD, TD),
 * the closed integrity descriptor with its counts, the anchors, and in the partition the file set
 * descriptor, one file entry per inode and each directory's identifiers (in a metadata partition, when
 * one is written: layout.ts MetadataPartitionLayout). Every descriptor is built with
 * the codecs' serializers, which seal its tag (checksum and CRC).
 */

const IMPLEMENTATION = '*isomount'
/** Sequence numbers of the volume descriptors within a sequence (3/10.1.2: unique, increasing). */
const SEQUENCE = { primary: 0, implementation: 1, partition: 2, logical: 3, unallocated: 4 }
/** A short_ad's length is 30 bits; extents but the last are whole blocks (4/14.14.1.1, UDF 2.3.10). */
const MAX_EXTENT = 0x40000000 - SECTOR_SIZE

/** The three recognition sectors written after the ISO9660 descriptor set terminator. */
export function udfRecognition (udf: UdfLayout): Buffer {
  const ids = ['BEA01', writtenRevision(udf.revision).nsr, 'TEA01'] as const
  return Buffer.concat(ids.map(id => serializeVolumeStructure(volumeStructure(id))))
}

/** Everything from sector 32 to the end of the file entries and directories, in LBA order. */
export async function writeUdf (layout: Layout, out: SectorWriter): Promise<void> {
  const udf = layout.udf
  if (udf === undefined) return
  const w = new UdfWriter(layout, udf)
  await out.put(MAIN_SEQUENCE_LBA, w.volumeDescriptors(MAIN_SEQUENCE_LBA))
  await out.put(RESERVE_SEQUENCE_LBA, w.volumeDescriptors(RESERVE_SEQUENCE_LBA))
  await out.put(INTEGRITY_LBA, w.integritySequence())
  await out.put(FIRST_ANCHOR_LBA, w.anchor(FIRST_ANCHOR_LBA))
  await out.put(PARTITION_START, w.partitionMetadata())
}

/** The anchor in the volume's last sector, written after the data. */
export function udfEndAnchor (layout: Layout): { lba: number, bytes: Buffer } | undefined {
  const udf = layout.udf
  if (udf === undefined) return undefined
  return { lba: udf.endAnchorLba, bytes: new UdfWriter(layout, udf).anchor(udf.endAnchorLba) }
}

class UdfWriter {
  private readonly facts: UdfRevisionFacts
  /** The partition reference the file set, the entries and the directories are addressed in. */
  private readonly icbPartition: number
  private readonly recorded: Timestamp
  private readonly implementation: EntityId

  constructor (private readonly layout: Layout, private readonly udf: UdfLayout) {
    this.facts = writtenRevision(udf.revision)
    this.icbPartition = udf.metadataPartition !== undefined ? 1 : 0
    this.recorded = timestampFromMs(layout.settings.volume.modifiedMs)
    // UDF 2.1.5.3: an implementation identifier's suffix names the operating system class and identifier,
    // not a revision: zeros, "undefined", as pycdlib records it (a library, not one operating system).
    this.implementation = entityId(IMPLEMENTATION)
  }

  private tag (id: number, location: number, length: number): DescriptorTag {
    return { id, version: this.facts.descriptorVersion, checksum: 0, reserved: 0, serial: 0, crc: 0, crcLength: length - TAG_SIZE, location }
  }

  private get volumeId (): string {
    return this.layout.settings.volume.volumeId.slice(0, 30)
  }

  private domain (): EntityId {
    // UDF 2.1.5.3: the domain suffix's flags say the volume is write-protected (hard and soft): it is a
    // read-only file system, as genisoimage marks its own.
    return entityId(OSTA_DOMAIN, domainSuffix(this.udf.revision, 3))
  }

  /** One sequence (main or reserve), 16 sectors: PVD, IUVD, PD, LVD, USD, TD (3/8.4.2). */
  volumeDescriptors (start: number): Buffer {
    const v = this.layout.settings.volume
    const sectors: Buffer[] = []
    const at = (): number => start + sectors.length
    sectors.push(serializePrimaryVolumeDescriptor({
      tag: this.tag(TagId.PRIMARY_VOLUME, at(), VOLUME_DESCRIPTOR_SIZE),
      sequenceNumber: SEQUENCE.primary,
      number: 0,
      volumeId: encodeDstring(this.volumeId, 32),
      volumeSequenceNumber: 1,
      maxVolumeSequenceNumber: 1,
      // UDF 2.2.2.1: interchange level 2 (a single volume), character set list 1 (CS0).
      interchangeLevel: 2,
      maxInterchangeLevel: 2,
      characterSetList: 1,
      maxCharacterSetList: 1,
      // UDF 2.2.2.5: the first 16 characters are a unique value, in hexadecimal (from the creation time,
      // so that a reproducible build writes the same).
      volumeSetId: encodeDstring(`${Math.floor(v.createdMs).toString(16).padStart(16, '0').slice(-16)}${v.volumeSetId !== '' ? ' ' + v.volumeSetId : ''}`.slice(0, 126), 128),
      descriptorCharset: ostaCharspec(),
      explanatoryCharset: ostaCharspec(),
      volumeAbstract: { length: 0, location: 0 },
      volumeCopyright: { length: 0, location: 0 },
      applicationId: entityId(''),
      recorded: this.recorded,
      implementationId: this.implementation,
      implementationUse: Buffer.alloc(64),
      predecessorLocation: 0,
      flags: 0,
      reserved: Buffer.alloc(22)
    }))
    sectors.push(serializeImplementationUseVolumeDescriptor({
      tag: this.tag(TagId.IMPLEMENTATION_USE, at(), VOLUME_DESCRIPTOR_SIZE),
      sequenceNumber: SEQUENCE.implementation,
      implementationId: entityId('*UDF LV Info', udfSuffix(this.udf.revision)),
      implementationUse: serializeLogicalVolumeInfo({
        charset: ostaCharspec(),
        logicalVolumeId: encodeDstring(this.volumeId, 128),
        info1: Buffer.alloc(36),
        info2: Buffer.alloc(36),
        info3: Buffer.alloc(36),
        implementationId: this.implementation,
        implementationUse: Buffer.alloc(128)
      })
    }))
    sectors.push(serializePartitionDescriptor({
      tag: this.tag(TagId.PARTITION, at(), VOLUME_DESCRIPTOR_SIZE),
      sequenceNumber: SEQUENCE.partition,
      flags: 1,
      number: 0,
      contents: entityId(`+${this.facts.nsr}`),
      contentsUse: Buffer.alloc(128),
      accessType: AccessType.READ_ONLY,
      start: PARTITION_START,
      length: this.udf.partitionBlocks,
      implementationId: this.implementation,
      implementationUse: Buffer.alloc(128),
      reserved: Buffer.alloc(156)
    }))
    const partitionMaps = this.partitionMaps()
    const maps = serializePartitionMaps(partitionMaps)
    sectors.push(serializeLogicalVolumeDescriptor({
      tag: this.tag(TagId.LOGICAL_VOLUME, at(), 440 + maps.length),
      sequenceNumber: SEQUENCE.logical,
      descriptorCharset: ostaCharspec(),
      logicalVolumeId: encodeDstring(this.volumeId, 128),
      blockSize: SECTOR_SIZE,
      domainId: this.domain(),
      fileSetLocation: longAd(SECTOR_SIZE, 0, this.icbPartition),
      implementationId: this.implementation,
      implementationUse: Buffer.alloc(128),
      integritySequence: { length: INTEGRITY_SECTORS * SECTOR_SIZE, location: INTEGRITY_LBA },
      partitionMaps,
      mapTablePadding: Buffer.alloc(0)
    }))
    sectors.push(serializeUnallocatedSpaceDescriptor({
      tag: this.tag(TagId.UNALLOCATED_SPACE, at(), VOLUME_DESCRIPTOR_SIZE),
      sequenceNumber: SEQUENCE.unallocated,
      extents: []
    }))
    sectors.push(serializeTerminatingDescriptor({ tag: this.tag(TagId.TERMINATING, at(), VOLUME_DESCRIPTOR_SIZE), reserved: Buffer.alloc(VOLUME_DESCRIPTOR_SIZE - TAG_SIZE) }))
    return Buffer.concat(sectors.map(s => padToSector(s)))
  }

  /** Partition reference 0 the physical partition; 1 the metadata partition over it, when there is one. */
  private partitionMaps (): PartitionMap[] {
    const maps: PartitionMap[] = [{ type: 1, volumeSequenceNumber: 1, partitionNumber: 0 }]
    const meta = this.udf.metadataPartition
    if (meta !== undefined) {
      maps.push({
        type: 2,
        kind: 'metadata',
        id: entityId(PartitionMapKind.METADATA, udfSuffix(this.udf.revision)),
        volumeSequenceNumber: 1,
        partitionNumber: 0,
        metadataFileLocation: meta.fileEntry,
        mirrorFileLocation: meta.mirrorEntry,
        // No bitmap file: 0xffffffff says so (UDF 2.2.10).
        bitmapFileLocation: 0xffffffff,
        allocationUnitSize: METADATA_ALLOCATION_UNIT,
        alignmentUnitSize: METADATA_ALLOCATION_UNIT,
        flags: 0,
        reserved: Buffer.alloc(5)
      })
    }
    return maps
  }

  /** The closed integrity descriptor (3/10.10, UDF 2.2.6): counts, next unique ID, no free space (read-only). */
  integritySequence (): Buffer {
    const tree = this.udf.tree
    const use = serializeIntegrityImplementationUse({
      implementationId: this.implementation,
      files: tree.files,
      directories: tree.directories.length,
      minReadRevision: this.facts.minReadRevision,
      minWriteRevision: this.udf.revision,
      maxWriteRevision: this.udf.revision,
      rest: Buffer.alloc(0)
    })
    const length = 80 + 8 + use.length
    const lvid = serializeIntegrityDescriptor({
      tag: this.tag(TagId.INTEGRITY, INTEGRITY_LBA, length),
      recorded: this.recorded,
      integrityType: IntegrityType.CLOSE,
      next: { length: 0, location: 0 },
      nextUniqueId: BigInt(tree.nextUniqueId),
      contentsUseReserved: Buffer.alloc(24),
      // One entry per partition map (3/10.10.7): the metadata partition's size is its file's.
      freeSpace: this.udf.metadataPartition !== undefined ? [0, 0] : [0],
      sizes: this.udf.metadataPartition !== undefined ? [this.udf.partitionBlocks, this.udf.metadataPartition.blocks] : [this.udf.partitionBlocks],
      implementationUse: use
    })
    const td = serializeTerminatingDescriptor({ tag: this.tag(TagId.TERMINATING, INTEGRITY_LBA + 1, VOLUME_DESCRIPTOR_SIZE), reserved: Buffer.alloc(VOLUME_DESCRIPTOR_SIZE - TAG_SIZE) })
    return Buffer.concat([padToSector(lvid), padToSector(td)])
  }

  anchor (lba: number): Buffer {
    return serializeAnchor({
      tag: this.tag(TagId.ANCHOR, lba, 512),
      main: { length: 16 * SECTOR_SIZE, location: MAIN_SEQUENCE_LBA },
      reserve: { length: 16 * SECTOR_SIZE, location: RESERVE_SEQUENCE_LBA },
      reserved: Buffer.alloc(480)
    })
  }

  /** The partition's first blocks: file set descriptor, terminator, then every entry and directory. */
  partitionMetadata (): Buffer {
    const area = Buffer.alloc(this.udf.metadataSectors * SECTOR_SIZE)
    const tree = this.udf.tree
    const v = this.layout.settings.volume
    serializeFileSetDescriptor({
      tag: this.tag(TagId.FILE_SET, 0, FILE_SET_DESCRIPTOR_SIZE),
      recorded: this.recorded,
      interchangeLevel: 3,
      maxInterchangeLevel: 3,
      characterSetList: 1,
      maxCharacterSetList: 1,
      fileSetNumber: 0,
      fileSetDescriptorNumber: 0,
      logicalVolumeIdCharset: ostaCharspec(),
      logicalVolumeId: encodeDstring(this.volumeId, 128),
      fileSetCharset: ostaCharspec(),
      fileSetId: encodeDstring(this.volumeId, 32),
      copyrightFileId: encodeDstring(v.copyrightFileId.slice(0, 30), 32),
      abstractFileId: encodeDstring(v.abstractFileId.slice(0, 30), 32),
      rootDirectory: longAd(SECTOR_SIZE, tree.root.entry.block, this.icbPartition),
      domainId: this.domain(),
      next: longAd(0, 0),
      systemStreamDirectory: longAd(0, 0),
      reserved: Buffer.alloc(32)
    }).copy(area, 0)
    serializeTerminatingDescriptor({ tag: this.tag(TagId.TERMINATING, 1, VOLUME_DESCRIPTOR_SIZE), reserved: Buffer.alloc(VOLUME_DESCRIPTOR_SIZE - TAG_SIZE) }).copy(area, SECTOR_SIZE)
    for (const entry of tree.entries) {
      this.fileEntry(entry).copy(area, entry.block * SECTOR_SIZE)
      if (entry.directory !== undefined) this.identifiers(entry.directory).copy(area, entry.directory.dataBlock * SECTOR_SIZE)
    }
    const meta = this.udf.metadataPartition
    if (meta !== undefined) {
      // UDF 2.2.13: the metadata file and its mirror, in the physical partition, over the same extent.
      const extent = serializeAllocationDescriptors('short', [{ type: 0, length: meta.blocks * SECTOR_SIZE, block: 0 }])
      for (const [block, fileType] of [[meta.fileEntry, FileType.METADATA], [meta.mirrorEntry, FileType.METADATA_MIRROR]]) {
        this.entry(block, { fileType, flags: 0, uid: UNSPECIFIED_ID, gid: UNSPECIFIED_ID, permissions: 0, links: 1, uniqueId: 0, length: meta.blocks * SECTOR_SIZE, blocks: meta.blocks, ads: extent, times: this.layout.settings.volume.modifiedMs })
          .copy(area, block * SECTOR_SIZE)
      }
    }
    return area
  }

  private fileEntry (entry: UdfEntryPlan): Buffer {
    const inode = entry.inode
    let flags = 0
    let ads: Buffer
    let length: number
    let blocks = 0
    if (entry.directory !== undefined) {
      // In the partition the entry is in (4/14.14.1): the metadata partition, when there is one.
      length = entry.directory.size
      blocks = Math.ceil(length / SECTOR_SIZE)
      ads = serializeAllocationDescriptors('short', [{ type: 0, length, block: entry.directory.dataBlock }])
    } else {
      // Only regular files have data here (tree-plan.ts: the other kinds are empty files). With a metadata
      // partition, the data is in another partition than the entry: long_ads name it (UDF 2.2.13).
      const extents = inode.kind === 'file' ? this.dataExtents(entry) : []
      length = extents.reduce((sum, e) => sum + e.length, 0)
      blocks = extents.reduce((sum, e) => sum + Math.ceil(e.length / SECTOR_SIZE), 0)
      const kind = this.icbPartition === 0 ? 'short' : 'long'
      if (kind === 'long') flags |= IcbFlag.LONG_AD
      ads = serializeAllocationDescriptors(kind, extents)
    }
    if ((inode.mode & 0o4000) !== 0) flags |= IcbFlag.SETUID
    if ((inode.mode & 0o2000) !== 0) flags |= IcbFlag.SETGID
    if ((inode.mode & 0o1000) !== 0) flags |= IcbFlag.STICKY
    return this.entry(entry.block, {
      fileType: entry.fileType,
      flags,
      // UDF 2.3.6.2: owners an image does not record (no Rock Ridge) are "not specified".
      uid: inode.posix ? inode.uid : UNSPECIFIED_ID,
      gid: inode.posix ? inode.gid : UNSPECIFIED_ID,
      permissions: udfPermissions(inode.mode & ~S_IFMT),
      links: entry.links,
      uniqueId: entry.uniqueId,
      length,
      blocks,
      ads,
      times: inode.times
    })
  }

  /** A file entry (4/14.9) in `block` of its partition, strategy 4, one entry. */
  private entry (block: number, e: EntryFields): Buffer {
    const times = typeof e.times === 'number' ? { atimeMs: e.times, mtimeMs: e.times, ctimeMs: e.times } : e.times
    const fe: FileEntry = {
      tag: this.tag(TagId.FILE_ENTRY, block, FILE_ENTRY_FIXED_SIZE + e.ads.length),
      extended: false,
      icbTag: {
        priorRecordedEntries: 0,
        strategyType: 4,
        strategyParameter: 0,
        maxEntries: 1,
        reserved: 0,
        fileType: e.fileType,
        parent: { block: 0, partition: 0 },
        flags: e.flags
      },
      uid: e.uid,
      gid: e.gid,
      permissions: e.permissions,
      linkCount: e.links,
      recordFormat: 0,
      recordDisplayAttributes: 0,
      recordLength: 0,
      informationLength: e.length,
      logicalBlocksRecorded: e.blocks,
      accessTime: timestampFromMs(times.atimeMs),
      modificationTime: timestampFromMs(times.mtimeMs),
      attributeTime: timestampFromMs(times.ctimeMs),
      checkpoint: 1,
      extendedAttributeIcb: longAd(0, 0),
      implementationId: this.implementation,
      uniqueId: BigInt(e.uniqueId),
      extendedAttributes: Buffer.alloc(0),
      allocationDescriptors: e.ads
    }
    const bytes = serializeFileEntry(fe)
    if (bytes.length > SECTOR_SIZE) throw new InternalError(`a UDF file entry of ${bytes.length} bytes does not fit its block`)
    return bytes
  }

  /** A file's data as short_ads: the sections the ECMA-119 records point at, cut at 1 GiB − 2 KiB. */
  private dataExtents (entry: UdfEntryPlan): AllocationDescriptor[] {
    const extents: AllocationDescriptor[] = []
    for (const section of sectionsOf(this.layout, entry.inode)) {
      if (section.length === 0) continue
      const block = section.lba - PARTITION_START
      if (block < 0 || section.lba + Math.ceil(section.length / SECTOR_SIZE) > PARTITION_START + this.udf.partitionBlocks) {
        throw new InternalError(`file data at sector ${section.lba} lies outside the UDF partition`)
      }
      for (let offset = 0; offset < section.length; offset += MAX_EXTENT) {
        extents.push({ type: 0, length: Math.min(MAX_EXTENT, section.length - offset), block: block + offset / SECTOR_SIZE })
      }
    }
    return extents
  }

  /** A directory's identifiers: the parent first (4/14.4.3), then each child. */
  private identifiers (dir: UdfDirectoryPlan): Buffer {
    const area = Buffer.alloc(Math.ceil(dir.size / SECTOR_SIZE) * SECTOR_SIZE)
    let offset = 0
    const put = (characteristics: number, entry: UdfEntryPlan, identifier: Buffer): void => {
      const length = fidLength(0, identifier.length)
      // The tag location of an identifier is the block it starts in (4/7.2.7).
      const block = dir.dataBlock + Math.floor(offset / SECTOR_SIZE)
      serializeFileIdentifier({
        tag: this.tag(TagId.FILE_IDENTIFIER, block, length),
        fileVersion: 1,
        characteristics,
        icb: longAd(SECTOR_SIZE, entry.block, this.icbPartition, entry.uniqueId),
        implementationUse: Buffer.alloc(0),
        identifier,
        padding: Buffer.alloc(length - FID_FIXED_SIZE - identifier.length)
      }).copy(area, offset)
      offset += length
    }
    put(FileCharacteristic.PARENT | FileCharacteristic.DIRECTORY, dir.parent.entry, Buffer.alloc(0))
    for (const child of dir.children) {
      const hidden = (child.node.flags & NodeFlag.HIDDEN) !== 0 ? FileCharacteristic.HIDDEN : 0
      put((child.entry.directory !== undefined ? FileCharacteristic.DIRECTORY : 0) | hidden, child.entry, child.identifier)
    }
    return area
  }
}

/** What a file entry records besides what every entry written here has alike. */
interface EntryFields {
  fileType: number
  flags: number
  uid: number
  gid: number
  permissions: number
  links: number
  uniqueId: number
  length: number
  blocks: number
  ads: Buffer
  /** Access, modification and attribute times, or one time for all three. */
  times: { atimeMs: number, mtimeMs: number, ctimeMs: number } | number
}

/** UDF 2.3.10.1 / 2.3.4.3: an ICB's long_ad carries the entry's unique ID (its low 32 bits) in its implementation use. */
function longAd (length: number, block: number, partition = 0, uniqueId?: number): LongAd {
  const implementationUse = Buffer.alloc(6)
  if (uniqueId !== undefined) implementationUse.writeUInt32LE(uniqueId >>> 0, 2)
  return { length, location: { block, partition }, implementationUse }
}

/** UDF 2.1.5.3: a UDF entity identifier's suffix: the revision, then the OS class and identifier (unspecified). */
function udfSuffix (revision: number): Buffer {
  const suffix = Buffer.alloc(8)
  suffix.writeUInt16LE(revision, 0)
  return suffix
}

function padToSector (bytes: Buffer): Buffer {
  return bytes.length % SECTOR_SIZE === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(SECTOR_SIZE - (bytes.length % SECTOR_SIZE))])
}
