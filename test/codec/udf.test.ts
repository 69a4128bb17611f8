import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { IsoImage } from '../../src'
import {
  AD_SIZE, ExtentType, parseAllocationDescriptors, serializeAllocationDescriptors, type AdKind, type AllocationDescriptor
} from '../../src/iso/codec/udf/addresses'
import { parseAnchor, serializeAnchor } from '../../src/iso/codec/udf/anchor'
import { decodeDchars, decodeDstring, encodeDchars, encodeDstring } from '../../src/iso/codec/udf/cs0'
import { fileEntrySize, parseFileEntry, posixPermissions, serializeFileEntry, udfPermissions } from '../../src/iso/codec/udf/file-entry'
import { fileIdentifierLength, parseFileIdentifier, serializeFileIdentifier } from '../../src/iso/codec/udf/file-identifier'
import { parseFileSetDescriptor, serializeFileSetDescriptor } from '../../src/iso/codec/udf/file-set'
import { parseIntegrityDescriptor, parseIntegrityImplementationUse, serializeIntegrityDescriptor, serializeIntegrityImplementationUse } from '../../src/iso/codec/udf/integrity'
import { parseLogicalVolumeDescriptor, serializeLogicalVolumeDescriptor } from '../../src/iso/codec/udf/logical-volume'
import { parsePathComponents, pathComponentsOf, serializePathComponents, symlinkTarget } from '../../src/iso/codec/udf/path-component'
import { parseSparingTable, serializeSparingTable } from '../../src/iso/codec/udf/sparing-table'
import { crcItu, parseTag, sealDescriptor, tagChecksum, TagId, verifyTag } from '../../src/iso/codec/udf/tag'
import { parseTimestamp, serializeTimestamp, timestampFromMs, timestampToMs } from '../../src/iso/codec/udf/timestamp'
import { parseVat200, serializeVat } from '../../src/iso/codec/udf/virtual-allocation-table'
import {
  parseImplementationUseVolumeDescriptor, parsePartitionDescriptor, parsePrimaryVolumeDescriptor, parseTerminatingDescriptor,
  parseUnallocatedSpaceDescriptor, serializeImplementationUseVolumeDescriptor, serializePartitionDescriptor,
  serializePrimaryVolumeDescriptor, serializeTerminatingDescriptor, serializeUnallocatedSpaceDescriptor
} from '../../src/iso/codec/udf/volume-descriptors'
import { parseVolumeStructure, serializeVolumeStructure } from '../../src/iso/codec/udf/volume-recognition'
import { STRICT, WarningLog } from '../../src/iso/codec/diagnostics'
import { readIcb, entryData, readPieces } from '../../src/iso/read/udf/entries'
import type { UdfVolume } from '../../src/iso/read/udf/volume'
import { mkudffs, pycdlibImage } from '../helpers/udf'
import { genisoimage, scratch, writeTree } from '../helpers/tools'

/*
 * Every UDF codec parsed and serialized again on real bytes: descriptors of images genisoimage -udf,
 * pycdlib (UDF 2.60) and mkudffs (UDF 1.02-2.50, hard disk, CD-RW with a sparing table, CD-R with a virtual
 * allocation table) wrote, each of which must come back byte for byte. Then the pieces with arithmetic
 * of their own (CRC, CS0 names, timestamps, permissions, path components) against known values.
 */

const dir = scratch(t, 'udf-codec')
const src = path.join(dir, 'src')
writeTree(src, { 'a.txt': 'a\n', sub: { 'b.bin': Buffer.alloc(70000, 3), deeper: { 'c.txt': 'c\n' } }, 'ünï.txt': 'u\n' })
const images: Record<string, string> = {
  'genisoimage -udf -R -J': genisoimage(path.join(dir, 'gen.iso'), ['-udf', '-R', '-J'], src),
  'pycdlib UDF 2.60': pycdlibImage(path.join(dir, 'py.iso'), `
iso.new(udf='2.60', joliet=3)
iso.add_fp(io.BytesIO(b'hello\\n'), 6, '/HELLO.TXT;1', joliet_path='/hello.txt', udf_path='/hello.txt')
iso.add_directory('/SUB', joliet_path='/sub', udf_path='/sub')
iso.add_fp(io.BytesIO(b'x' * 9000), 9000, udf_path='/sub/x.bin')
iso.add_symlink(udf_symlink_path='/sub/up', udf_target='../hello.txt')
iso.add_symlink(udf_symlink_path='/abs', udf_target='/sub/x.bin')`),
  'mkudffs hd 2.01 (512-byte blocks)': mkudffs(path.join(dir, 'hd.img'), 'hd', '2.01', 8192),
  'mkudffs hd 1.02': mkudffs(path.join(dir, 'hd102.img'), 'hd', '1.02', 8192, ['--blocksize=2048']),
  'mkudffs cdrw 1.50 (sparable)': mkudffs(path.join(dir, 'cdrw.img'), 'cdrw', '1.50', 20000),
  'mkudffs cdr 2.01 (virtual)': mkudffs(path.join(dir, 'cdr.img'), 'cdr', '2.01', 20000),
  'mkudffs bdr 2.50 (virtual)': mkudffs(path.join(dir, 'bdr.img'), 'bdr', '2.50', 20000)
}

/** `serialized` equals the bytes it was parsed from (the rest of the block, if any, being zero). */
function sameBytes (t: Test, original: Buffer, serialized: Buffer, what: string): void {
  t.ok(serialized.equals(original.subarray(0, serialized.length)), `${what}: serialize(parse(bytes)) is the bytes`)
  if (serialized.length < original.length) t.ok(original.subarray(serialized.length).every(b => b === 0), `${what}: the rest of its block is zero`)
}

function bytesAt (file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.alloc(length)
    fs.readSync(fd, buf, 0, length, position)
    return buf
  } finally {
    fs.closeSync(fd)
  }
}

for (const [name, file] of Object.entries(images)) {
  t.test(`${name}: every descriptor round-trips`, async t => {
    const image = await IsoImage.open(file, { strict: true })
    t.teardown(() => image.close())
    const udf = image.origin?.udf as UdfVolume
    t.ok(udf !== undefined, 'a UDF volume is read, in strict mode')
    const B = udf.blockSize
    const counts: Record<string, number> = {}
    const count = (what: string): void => { counts[what] = (counts[what] ?? 0) + 1 }

    // The recognition sequence, in 2048-byte units from byte 32768 (ECMA-167 2/8.3).
    for (let i = 0; i < 64; i++) {
      const bytes = bytesAt(file, 32768 + i * 2048, 2048)
      const vsd = parseVolumeStructure(bytes)
      if (vsd === undefined) break
      t.ok(serializeVolumeStructure(vsd).equals(bytes), `${vsd.identifier} round-trips`)
      count(vsd.identifier)
    }
    t.ok((counts.NSR02 ?? 0) + (counts.NSR03 ?? 0) === 1 && counts.BEA01 === 1 && counts.TEA01 === 1, 'BEA01, one NSR and TEA01 are recorded')

    const anchorBytes = bytesAt(file, udf.anchorLocation * B, B)
    sameBytes(t, anchorBytes, serializeAnchor(parseAnchor(anchorBytes, udf.anchorLocation, STRICT, { structure: 'anchor' })), 'anchor')

    // Both volume descriptor sequences, block by block to their terminating descriptor.
    for (const extent of [udf.anchor.main, udf.anchor.reserve]) {
      for (let i = 0; i < Math.ceil(extent.length / B); i++) {
        const lba = extent.location + i
        const bytes = bytesAt(file, lba * B, B)
        const tag = parseTag(bytes)
        if (tagChecksum(bytes) !== tag.checksum || bytes.subarray(0, 16).every(b => b === 0)) break
        verifyTag(bytes, 0, { location: lba, available: B }, STRICT, { structure: 'descriptor', lba })
        const where = { structure: 'descriptor', lba }
        let serialized: Buffer
        switch (tag.id) {
          case TagId.PRIMARY_VOLUME: serialized = serializePrimaryVolumeDescriptor(parsePrimaryVolumeDescriptor(bytes, tag)); break
          case TagId.IMPLEMENTATION_USE: serialized = serializeImplementationUseVolumeDescriptor(parseImplementationUseVolumeDescriptor(bytes, tag)); break
          case TagId.PARTITION: serialized = serializePartitionDescriptor(parsePartitionDescriptor(bytes, tag)); break
          case TagId.LOGICAL_VOLUME: serialized = serializeLogicalVolumeDescriptor(parseLogicalVolumeDescriptor(bytes, tag, where)); break
          case TagId.UNALLOCATED_SPACE: serialized = serializeUnallocatedSpaceDescriptor(parseUnallocatedSpaceDescriptor(bytes, tag, STRICT, where)); break
          case TagId.TERMINATING: serialized = serializeTerminatingDescriptor(parseTerminatingDescriptor(bytes, tag)); break
          default: t.fail(`unexpected tag ${tag.id} in a sequence`); continue
        }
        sameBytes(t, bytes, serialized, `descriptor ${tag.id} at ${lba}`)
        count(`vds-${tag.id}`)
        if (tag.id === TagId.TERMINATING) break
      }
    }
    for (const id of [TagId.PRIMARY_VOLUME, TagId.PARTITION, TagId.LOGICAL_VOLUME, TagId.TERMINATING]) {
      t.equal(counts[`vds-${id}`], 2, `descriptor ${id} read from both sequences`)
    }

    const lvidBytes = bytesAt(file, udf.logicalVolume.integritySequence.location * B, B)
    const lvid = parseIntegrityDescriptor(lvidBytes, parseTag(lvidBytes), STRICT, { structure: 'LVID' })
    sameBytes(t, lvidBytes, serializeIntegrityDescriptor(lvid), 'integrity descriptor')
    const use = parseIntegrityImplementationUse(lvid.implementationUse)
    t.ok(use !== undefined && serializeIntegrityImplementationUse(use).equals(lvid.implementationUse), 'its implementation use round-trips')

    const fsdPosition = udf.map.position(udf.logicalVolume.fileSetLocation.location, { structure: 'FSD' })
    const fsdBytes = bytesAt(file, fsdPosition, B)
    sameBytes(t, fsdBytes, serializeFileSetDescriptor(parseFileSetDescriptor(fsdBytes, parseTag(fsdBytes))), 'file set descriptor')

    // Every file entry and every file identifier descriptor of the tree.
    const entries = [image.root, ...(await collect(image))]
    for (const node of entries) {
      const origin = node.origin?.udf
      if (origin === undefined) continue
      const block = bytesAt(file, origin.entry.position, B)
      const tag = verifyTag(block, 0, { location: origin.entry.block, available: B }, STRICT, { structure: 'file entry' })
      const entry = parseFileEntry(block, tag, { structure: 'file entry' })
      const serialized = serializeFileEntry(entry)
      t.equal(serialized.length, fileEntrySize(entry))
      t.ok(serialized.equals(block.subarray(0, serialized.length)), `file entry of ${node.names.udf || '/'} round-trips`)
      count(entry.extended ? 'efe' : 'fe')
      if (origin.fid !== undefined) {
        const fidBytes = bytesAt(file, origin.fid.lba * 2048 + origin.fid.offset, origin.fid.length)
        const fid = parseFileIdentifier(fidBytes, 0, parseTag(fidBytes), { structure: 'FID' })
        t.equal(fileIdentifierLength(fid), origin.fid.length)
        t.ok(serializeFileIdentifier(fid).equals(fidBytes), `identifier of ${node.names.udf ?? ''} round-trips`)
        t.equal(decodeDchars(fid.identifier, { structure: 'FID' }), node.names.udf)
        count('fid')
      }
      if (node.inode.symlinkTarget !== undefined) {
        const ctx = { source: image.source, map: udf.map, diag: STRICT }
        const located = await readIcb(ctx, { partition: origin.entry.partition, block: origin.entry.block })
        const data = await entryData(ctx, located)
        const bytes = data.kind === 'embedded' ? data.bytes : await readPieces(image.source, data.pieces, data.size, { structure: 'link' })
        t.ok(serializePathComponents(parsePathComponents(bytes, { structure: 'link' })).equals(bytes), `path components of ${node.names.udf ?? ''} round-trip`)
        count('symlink')
      }
    }
    t.ok((counts.fe ?? 0) + (counts.efe ?? 0) >= 1, `file entries read: ${counts.fe ?? 0} plain, ${counts.efe ?? 0} extended`)
    if (name.startsWith('pycdlib')) t.equal(counts.symlink, 2, 'both pycdlib symlinks')

    for (const partition of udf.map.partitions) {
      if (partition.kind !== 'physical' || partition.sparing === undefined) continue
      const map = udf.logicalVolume.partitionMaps.find(m => 'kind' in m && m.kind === 'sparable')
      const location = map !== undefined && 'sparingTableLocations' in map ? map.sparingTableLocations[0] : 0
      const size = map !== undefined && 'sparingTableSize' in map ? map.sparingTableSize : 0
      const bytes = bytesAt(file, location * B, B)
      const table = parseSparingTable(bytes, parseTag(bytes), STRICT, { structure: 'sparing table' })
      sameBytes(t, bytes, serializeSparingTable(table, size), 'sparing table')
      count('sparing')
    }
    if (name.includes('sparable')) t.equal(counts.sparing, 1, 'the sparing table')
    if (name.includes('virtual')) {
      const last = Math.floor(fs.statSync(file).size / B) - 1
      const partition = udf.map.partitions.find(p => p.kind === 'physical')
      const ctx = { source: image.source, map: udf.map, diag: STRICT }
      const located = await readIcb(ctx, { partition: udf.map.partitions.indexOf(partition as never), block: last - (partition as { start: number }).start })
      const data = await entryData(ctx, located)
      const bytes = data.kind === 'embedded' ? data.bytes : await readPieces(image.source, data.pieces, data.size, { structure: 'VAT' })
      t.ok(serializeVat(parseVat200(bytes, { structure: 'VAT' })).equals(bytes), 'the virtual allocation table round-trips')
    }
  })
}

async function collect (image: IsoImage): Promise<Array<import('../../src').Node>> {
  const nodes = []
  for await (const { node } of image.walk('/', 'udf')) nodes.push(node)
  return nodes
}

t.test('tag checksum and CRC-ITU', async t => {
  t.equal(crcItu(Buffer.from('123456789')), 0x31c3, 'CRC-ITU-T (x^16+x^12+x^5+1, initial 0) check value')
  t.equal(crcItu(Buffer.alloc(0)), 0)
  // Two bytes at a time, checked against the polynomial division done bit by bit.
  const bitwise = (data: Uint8Array): number => {
    let crc = 0
    for (const byte of data) {
      crc ^= byte << 8
      for (let k = 0; k < 8; k++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    }
    return crc
  }
  const random = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) % 251))
  let agree = true
  for (let start = 0; start < 3; start++) for (let end = start; end <= random.length; end += 13) agree &&= crcItu(random, start, end) === bitwise(random.subarray(start, end))
  t.ok(agree, 'equal to the bit-by-bit CRC for every length and odd or even start')
  const d = Buffer.alloc(64)
  d.writeUInt16LE(TagId.TERMINATING, 0)
  d.writeUInt16LE(3, 2)
  d.writeUInt32LE(1234, 12)
  d.fill(0x5a, 16)
  sealDescriptor(d, 0, 48)
  const tag = verifyTag(d, 0, { id: TagId.TERMINATING, location: 1234, available: 64 }, STRICT, { structure: 'test' })
  t.equal(tag.crcLength, 48)
  t.equal(tag.crc, crcItu(d, 16, 64))
  t.equal(tag.checksum, tagChecksum(d))
  const damaged = Buffer.from(d)
  damaged[20] ^= 1
  t.throws(() => verifyTag(damaged, 0, { available: 64 }, STRICT, { structure: 'test' }), /descriptor CRC/, 'strict: a wrong CRC is refused')
  const log = new WarningLog()
  verifyTag(damaged, 0, { available: 64 }, log, { structure: 'test' })
  t.match(log.messages[0], /CRC is 0x/, 'relaxed: a warning')
  damaged[1] ^= 1
  t.throws(() => verifyTag(damaged, 0, { available: 64 }, log, { structure: 'test' }), { code: 'IMAGE_BAD_DESCRIPTOR', message: /tag checksum/ }, 'a wrong checksum is never forgiven')
})

t.test('OSTA CS0 d-characters and dstrings', async t => {
  const where = { structure: 'test' }
  t.same(encodeDchars('abc'), Buffer.from([8, 0x61, 0x62, 0x63]), '8-bit when every character fits')
  t.same(encodeDchars('é'), Buffer.from([8, 0xe9]), 'Latin-1 is 8-bit')
  t.same(encodeDchars('名'), Buffer.from([16, 0x54, 0x0d]), '16-bit big-endian otherwise')
  for (const text of ['', 'plain.txt', 'ünïcødé', '名前.txt', 'emoji 😀 pair']) {
    t.equal(decodeDchars(encodeDchars(text), where), text, `"${text}" round-trips`)
  }
  t.equal(decodeDchars(Buffer.from([254, 0x41]), where), 'A', 'compression ID 254 reads as 8-bit')
  t.equal(decodeDchars(Buffer.from([255, 0, 0x41]), where), 'A', 'compression ID 255 reads as 16-bit')
  t.throws(() => decodeDchars(Buffer.from([7, 0x41]), where), { code: 'IMAGE_BAD_RECORD', message: /compression ID 7/ })
  const field = encodeDstring('LinuxUDF', 32)
  t.equal(field.length, 32)
  t.equal(field[31], 9, 'the last byte is the length, compression ID included')
  t.equal(decodeDstring(field, where), 'LinuxUDF')
  t.equal(decodeDstring(Buffer.alloc(32), where), '', 'an all-zero dstring is empty')
  const bad = Buffer.alloc(8)
  bad[7] = 20
  t.throws(() => decodeDstring(bad, where), /dstring length 20 exceeds/)
  t.throws(() => encodeDstring('x'.repeat(40), 32), RangeError)
})

t.test('timestamps with their time zone', async t => {
  const bytes = Buffer.alloc(12)
  // 2024-03-01 12:34:56.789012 at UTC+01:00 (type 1, 60 minutes).
  serializeTimestamp({ type: 1, timezone: 60, year: 2024, month: 3, day: 1, hour: 12, minute: 34, second: 56, centiseconds: 78, hundredsOfMicroseconds: 90, microseconds: 12 }, bytes, 0)
  t.equal(bytes.readUInt16LE(0), 0x1000 | 60)
  const ts = parseTimestamp(bytes, 0)
  t.equal(timestampToMs(ts), Date.UTC(2024, 2, 1, 11, 34, 56) + 789.012, 'local time less its zone')
  serializeTimestamp({ ...ts, timezone: -300 }, bytes, 0)
  t.equal(parseTimestamp(bytes, 0).timezone, -300, 'a negative zone is 12-bit two\'s complement')
  t.equal(timestampToMs(parseTimestamp(bytes, 0)), Date.UTC(2024, 2, 1, 17, 34, 56) + 789.012)
  t.equal(timestampToMs({ ...ts, timezone: -2047 }), Date.UTC(2024, 2, 1, 12, 34, 56) + 789.012, 'an unspecified zone reads as UTC')
  t.equal(timestampToMs({ ...ts, month: 0 }), undefined, 'an impossible date is no date')
  const ms = Date.UTC(1999, 11, 31, 23, 59, 59) + 123.456
  const back = timestampFromMs(ms, 120)
  t.equal(back.hour, 1, 'recorded as local time at the zone')
  t.equal(timestampToMs(back), ms, 'fromMs then toMs is the same instant, to the microsecond')
})

t.test('allocation descriptors of each kind', async t => {
  const samples: Record<AdKind, AllocationDescriptor[]> = {
    short: [{ type: ExtentType.RECORDED, length: 0x3ffff800, block: 100 }, { type: ExtentType.SPARSE, length: 4096, block: 0 }, { type: ExtentType.CONTINUATION, length: 2048, block: 7 }],
    long: [{ type: ExtentType.RECORDED, length: 5000, block: 9, partition: 1, implementationUse: Buffer.from([1, 2, 3, 4, 5, 6]) }],
    extended: [{ type: ExtentType.ALLOCATED, length: 8192, block: 3, partition: 0, recordedLength: 0, informationLength: 8192, implementationUse: Buffer.from([9, 9]) }]
  }
  for (const [kind, ads] of Object.entries(samples) as Array<[AdKind, AllocationDescriptor[]]>) {
    const area = serializeAllocationDescriptors(kind, ads)
    t.equal(area.length, ads.length * AD_SIZE[kind])
    t.same(parseAllocationDescriptors(kind, Buffer.concat([area, Buffer.alloc(AD_SIZE[kind])]), { structure: 'test' }), ads, `${kind}: round trip; a zero length ends the list`)
  }
  t.equal(serializeAllocationDescriptors('short', samples.short).readUInt32LE(16) >>> 30, 3, 'the type is in the top two bits')
  t.throws(() => parseAllocationDescriptors('long', Buffer.alloc(20), { structure: 'test' }), /not a multiple of 16/)
})

t.test('permissions and path components', async t => {
  t.equal(posixPermissions(0x1084, 0), 0o444, 'genisoimage files: read for all')
  t.equal(posixPermissions(0x14a5, 0), 0o555, 'and directories: read and execute')
  t.equal(posixPermissions(udfPermissions(0o751), 0x40 | 0x100), 0o5751, 'setuid and sticky come from the ICB flags')
  for (const target of ['/sub/x.bin', '../hello.txt', 'a/./b', '/', 'plain']) {
    const components = pathComponentsOf(target)
    const bytes = serializePathComponents(components)
    t.equal(symlinkTarget(parsePathComponents(bytes, { structure: 'test' }), { structure: 'test' }), target, `"${target}" round-trips`)
  }
  t.throws(() => parsePathComponents(Buffer.from([5, 10, 0, 0, 8]), { structure: 'link' }), /overruns/)
})

t.test('a built extended file entry round-trips through its fields', async t => {
  const raw = Buffer.alloc(2048)
  raw.writeUInt16LE(TagId.EXTENDED_FILE_ENTRY, 0)
  raw.writeUInt16LE(3, 2)
  raw.writeUInt32LE(77, 12)
  raw[16 + 11] = 5 // file type: file
  raw.writeUInt16LE(1, 16 + 18) // long allocation descriptors
  raw.writeUInt32LE(1000, 36)
  raw.writeUInt32LE(0xffffffff, 40)
  raw.writeUInt32LE(udfPermissions(0o640), 44)
  raw.writeUInt16LE(2, 48)
  raw.writeBigUInt64LE(5n * 2n ** 32n + 7n, 56)
  raw.writeBigUInt64LE(5n * 2n ** 32n + 7n, 64)
  raw.writeBigUInt64LE(12345n, 200)
  raw.writeUInt32LE(16, 212)
  raw.writeUInt32LE(0x3ffff800, 216)
  raw.writeUInt32LE(99, 220)
  const length = 216 + 16
  sealDescriptor(raw, 0, length - 16)
  const entry = parseFileEntry(raw.subarray(0, 2048), parseTag(raw), { structure: 'test' })
  t.equal(entry.extended, true)
  t.equal(entry.informationLength, 5 * 2 ** 32 + 7, 'a length over 4 GiB')
  t.equal(entry.uid, 1000)
  t.equal(entry.uniqueId, 12345n)
  t.ok(serializeFileEntry(entry).equals(raw.subarray(0, length)))
  raw.writeUInt32LE(3000, 212)
  t.throws(() => parseFileEntry(raw, parseTag(raw), { structure: 'test' }), { message: /allocation descriptors of 3000 bytes overrun/ }, 'a length beyond the block is refused before anything is read')
  raw.writeUInt32LE(16, 212)
  raw.writeBigUInt64LE(2n ** 60n, 56)
  t.throws(() => parseFileEntry(raw, parseTag(raw), { structure: 'test' }), { message: /information length 1152921504606846976 is beyond any image/ })
})
