import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { IsoImage } from '../../src'
import { ExtentType, serializeAllocationDescriptors } from '../../src/iso/codec/udf/addresses'
import { encodeDchars } from '../../src/iso/codec/udf/cs0'
import { domainSuffix, entityId, revisionText } from '../../src/iso/codec/udf/entity-id'
import { copyFileEntry, parseFileEntry, serializeFileEntry, type FileEntry } from '../../src/iso/codec/udf/file-entry'
import { copyFileIdentifier, parseFileIdentifier, serializeFileIdentifier } from '../../src/iso/codec/udf/file-identifier'
import { parseFileSetDescriptor, serializeFileSetDescriptor } from '../../src/iso/codec/udf/file-set'
import { FileType } from '../../src/iso/codec/udf/icb'
import { parseLogicalVolumeDescriptor, serializeLogicalVolumeDescriptor } from '../../src/iso/codec/udf/logical-volume'
import { parseIntegrityDescriptor, parseIntegrityImplementationUse, serializeIntegrityDescriptor, serializeIntegrityImplementationUse } from '../../src/iso/codec/udf/integrity'
import { PartitionMapKind } from '../../src/iso/codec/udf/partition-maps'
import { parseTag } from '../../src/iso/codec/udf/tag'
import { STRICT } from '../../src/iso/codec/diagnostics'
import { scratch } from '../helpers/tools'
import { mkudffs, sevenZipUdfExtract, sevenZipUdfListing, udfinfo } from '../helpers/udf'

/*
 * A metadata partition (UDF 2.50+, 2.2.10): no tool here writes one (mkudffs 2.3 offers UDF 2.50 only for
 * BD-R, with a virtual partition; pycdlib and genisoimage write type 1 maps), so the test makes one from
 * a file system mkudffs wrote, with this project's serializers: the logical volume gains a metadata map,
 * the file set descriptor and the root directory move into a metadata file (and its mirror), and a file
 * is added whose entry is in the metadata partition and whose data is in the physical one. 7-Zip and
 * udfinfo, which read UDF 2.50, are what says the result is a volume they understand.
 */

const dir = scratch(t, 'udf-metadata')
const B = 2048
const image = mkudffs(path.join(dir, 'meta.img'), 'hd', '2.01', 4096, ['--blocksize=2048'])
const HELLO = Buffer.from('hello through the metadata partition\n')

t.test('a metadata partition made from a mkudffs file system reads, and 7-Zip reads it the same', async t => {
  const bytes = fs.readFileSync(image)
  const before = await IsoImage.open(image)
  const udf = before.origin?.udf
  if (udf === undefined) throw new Error('no UDF volume')
  const start = udf.partitions[0].start
  const fsdBlock = udf.logicalVolume.fileSetLocation.location.block
  const rootBlock = udf.root.block
  await before.close()
  const at = (physicalBlock: number): Buffer => bytes.subarray((start + physicalBlock) * B, (start + physicalBlock + 1) * B)
  // Blocks of the physical partition mkudffs left free: the metadata file's entry and its mirror's,
  // the metadata (16 blocks) and its mirror copy, and the new file's data.
  const META_ENTRY = 100
  const MIRROR_ENTRY = 101
  const META = 200
  const MIRROR = 300
  const DATA = 400
  const METADATA_BLOCKS = 16

  const root = parseFileEntry(at(rootBlock), parseTag(at(rootBlock)), { structure: 'root' })
  const metadataEntry = (location: number, type: number, first: number): FileEntry => {
    const entry = copyFileEntry(root)
    entry.tag.location = location
    entry.icbTag.fileType = type
    entry.icbTag.flags = 0 // short allocation descriptors, in the physical partition
    entry.informationLength = METADATA_BLOCKS * B
    entry.logicalBlocksRecorded = METADATA_BLOCKS
    entry.allocationDescriptors = serializeAllocationDescriptors('short', [{ type: ExtentType.RECORDED, length: METADATA_BLOCKS * B, block: first }])
    entry.tag.crcLength = (entry.extended ? 216 : 176) + entry.allocationDescriptors.length - 16
    return entry
  }
  serializeFileEntry(metadataEntry(META_ENTRY, FileType.METADATA, META)).copy(at(META_ENTRY))
  serializeFileEntry(metadataEntry(MIRROR_ENTRY, FileType.METADATA_MIRROR, MIRROR)).copy(at(MIRROR_ENTRY))

  // Metadata block 0: the file set descriptor, its root in the metadata partition (reference 1).
  const metadata = Buffer.alloc(METADATA_BLOCKS * B)
  const fsd = parseFileSetDescriptor(at(fsdBlock), parseTag(at(fsdBlock)))
  fsd.tag.location = 0
  fsd.rootDirectory.location = { block: 1, partition: 1 }
  fsd.domainId = entityId('*OSTA UDF Compliant', domainSuffix(0x0250))
  serializeFileSetDescriptor(fsd).copy(metadata, 0)
  // Metadata block 1: the root, its identifiers embedded: the parent entry, and hello.txt (block 2).
  const rootEntry = copyFileEntry(root)
  rootEntry.tag.location = 1
  const fixed = rootEntry.extended ? 216 : 176
  const parentFid = copyFileIdentifier(parseFileIdentifier(at(rootBlock), fixed + root.extendedAttributes.length, parseTag(at(rootBlock), fixed + root.extendedAttributes.length), { structure: 'FID' }))
  parentFid.tag.location = 1
  parentFid.icb.location = { block: 1, partition: 1 }
  const helloFid = copyFileIdentifier(parentFid)
  helloFid.characteristics = 0
  helloFid.identifier = encodeDchars('hello.txt')
  helloFid.icb.location = { block: 2, partition: 1 }
  helloFid.padding = Buffer.alloc((4 - ((38 + helloFid.identifier.length) % 4)) % 4)
  helloFid.tag.crcLength = 38 + helloFid.identifier.length + helloFid.padding.length - 16
  const fids = Buffer.concat([serializeFileIdentifier(parentFid), serializeFileIdentifier(helloFid)])
  rootEntry.allocationDescriptors = fids
  rootEntry.informationLength = fids.length
  rootEntry.tag.crcLength = fixed + rootEntry.extendedAttributes.length + fids.length - 16
  serializeFileEntry(rootEntry).copy(metadata, B)
  // Metadata block 2: hello.txt, its data in the physical partition (a long_ad naming partition 0).
  const hello = copyFileEntry(root)
  hello.tag.location = 2
  hello.icbTag.fileType = FileType.FILE
  hello.icbTag.flags = 1
  hello.linkCount = 1
  hello.informationLength = HELLO.length
  hello.logicalBlocksRecorded = 1
  hello.allocationDescriptors = serializeAllocationDescriptors('long', [{ type: ExtentType.RECORDED, length: HELLO.length, block: DATA, partition: 0, implementationUse: Buffer.alloc(6) }])
  hello.tag.crcLength = fixed + hello.extendedAttributes.length + 16 - 16
  serializeFileEntry(hello).copy(metadata, 2 * B)
  metadata.copy(bytes, (start + META) * B)
  metadata.copy(bytes, (start + MIRROR) * B)
  HELLO.copy(at(DATA))

  // Both logical volume descriptors: a metadata map after the type 1 one, the file set in it, UDF 2.50.
  for (const sequence of [udf.anchor.main, udf.anchor.reserve]) {
    for (let lba = sequence.location; lba < sequence.location + 16; lba++) {
      const sector = bytes.subarray(lba * B, (lba + 1) * B)
      if (sector.readUInt16LE(0) !== 6) continue
      const lvd = parseLogicalVolumeDescriptor(sector, parseTag(sector), { structure: 'LVD' })
      lvd.domainId = entityId('*OSTA UDF Compliant', domainSuffix(0x0250))
      lvd.fileSetLocation.location = { block: 0, partition: 1 }
      lvd.partitionMaps.push({
        type: 2,
        kind: 'metadata',
        id: entityId(PartitionMapKind.METADATA, domainSuffix(0x0250)),
        volumeSequenceNumber: 1,
        partitionNumber: 0,
        metadataFileLocation: META_ENTRY,
        mirrorFileLocation: MIRROR_ENTRY,
        bitmapFileLocation: 0xffffffff,
        allocationUnitSize: 32,
        alignmentUnitSize: 1,
        flags: 0,
        reserved: Buffer.alloc(5)
      })
      lvd.tag.crcLength = 440 + 6 + 64 - 16
      const serialized = serializeLogicalVolumeDescriptor(lvd)
      sector.fill(0)
      serialized.copy(sector)
    }
  }
  // The integrity descriptor: a size and free space per partition map, and the revisions to read and write.
  const lvidAt = udf.logicalVolume.integritySequence.location * B
  const lvidSector = bytes.subarray(lvidAt, lvidAt + B)
  const lvid = parseIntegrityDescriptor(lvidSector, parseTag(lvidSector), STRICT, { structure: 'LVID' })
  const use = parseIntegrityImplementationUse(lvid.implementationUse)
  if (use === undefined) throw new Error('no LVID implementation use')
  use.files = 1
  use.minReadRevision = use.minWriteRevision = use.maxWriteRevision = 0x0250
  lvid.implementationUse = serializeIntegrityImplementationUse(use)
  lvid.freeSpace.push(0)
  lvid.sizes.push(METADATA_BLOCKS)
  lvid.tag.crcLength = 80 + lvid.freeSpace.length * 8 + lvid.implementationUse.length - 16
  lvidSector.fill(0)
  serializeIntegrityDescriptor(lvid).copy(lvidSector)
  const converted = path.join(dir, 'converted.img')
  fs.writeFileSync(converted, bytes)

  const opened = await IsoImage.open(converted, { strict: true })
  t.teardown(() => opened.close())
  const volume = opened.origin?.udf
  t.same(volume?.map.partitions.map(p => p.kind), ['physical', 'metadata'])
  t.equal(revisionText(volume?.revision ?? 0), '2.50')
  t.same((await opened.readdir('/')).map(e => e.name), ['hello.txt'])
  t.same(await opened.readFile('/hello.txt'), HELLO, 'its data, through an entry of the metadata partition')
  t.equal((await opened.lookup('/hello.txt')).origin?.udf?.entry.partition, 1, 'the entry was read in the metadata partition')

  t.same(sevenZipUdfListing(converted), { 'hello.txt': { type: 'file', size: HELLO.length } }, '7-Zip lists the same')
  t.same(fs.readFileSync(path.join(sevenZipUdfExtract(converted, path.join(dir, '7z')), 'hello.txt')), HELLO, 'and extracts the same bytes')
  const info = udfinfo(converted)
  t.equal(info.udfrev, '2.50', 'udfinfo reads it as UDF 2.50')
  t.equal(info.numfiles, '1')

  // The metadata file's entry damaged: its mirror is read, with a warning.
  const damaged = path.join(dir, 'damaged.img')
  const copy = Buffer.from(bytes)
  copy[(start + META_ENTRY) * B + 4] ^= 0xff
  fs.writeFileSync(damaged, copy)
  const fallback = await IsoImage.open(damaged)
  t.teardown(() => fallback.close())
  t.same(await fallback.readFile('/hello.txt'), HELLO, 'read through the mirror')
  t.match(fallback.warnings, [/metadata file entry.*tag checksum.*its mirror is read instead/])
})
