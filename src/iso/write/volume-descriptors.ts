import { volumeDateFromMs, UNSET_VOLUME_DATE } from '../codec/datetime'
import { FileFlags } from '../codec/directory-record'
import { jolietEscapeSequences } from '../codec/joliet'
import { encodeText } from '../codec/text'
import { DescriptorType, SECTOR_SIZE, serializeDescriptor, type VolumeDescriptor } from '../codec/volume-descriptor'
import { XA_SIGNATURE, XA_SIGNATURE_OFFSET_IN_APPLICATION_USE } from '../codec/xa'
import { directoryRecord } from './directory-writer'
import { bootRecordDescriptor } from './el-torito-writer'
import { treeSets, type Layout, type TreeSet, type WriteContent } from './layout'

/*
 * The volume descriptor set (ECMA-119 8): primary, El Torito's boot record, the ISO 9660:1999 enhanced
 * descriptor, Joliet's supplementary one, the terminator.
 */

export type PlacedDescriptor = { lba: number, descriptor: Parameters<typeof serializeDescriptor>[0] }

/** Both sets' descriptors (the volume's, and the partition's of xorriso -partition_offset, without a boot record). */
export function volumeDescriptors (layout: Layout, content: WriteContent): PlacedDescriptor[] {
  const list: PlacedDescriptor[] = []
  for (const set of treeSets(layout)) {
    list.push({ lba: set.primaryLba, descriptor: volumeDescriptor(layout, set, set.iso, 'primary') })
    if (set.base === 0 && layout.bootRecordLba !== undefined && layout.bootCatalog !== undefined && content.boot !== undefined) {
      list.push({ lba: layout.bootRecordLba, descriptor: bootRecordDescriptor(layout.bootCatalog.lba) })
    }
    if (set.enhancedLba !== undefined) list.push({ lba: set.enhancedLba, descriptor: volumeDescriptor(layout, set, set.iso, 'enhanced') })
    if (set.jolietLba !== undefined && set.joliet !== undefined) {
      list.push({ lba: set.jolietLba, descriptor: volumeDescriptor(layout, set, set.joliet, 'joliet') })
    }
    list.push({ lba: set.terminatorLba, descriptor: { type: DescriptorType.TERMINATOR, version: 1, body: Buffer.alloc(SECTOR_SIZE - 7) } })
  }
  return list
}

/** ECMA-119 8.4 (primary), 8.5 (Joliet supplementary), ISO 9660:1999 8.5 (enhanced: version 2). */
function volumeDescriptor (layout: Layout, set: TreeSet, tree: TreeSet['iso'], kind: 'primary' | 'enhanced' | 'joliet'): VolumeDescriptor {
  const base = set.base
  const v = layout.settings.volume
  // Joliet's descriptor holds UCS-2 (Joliet 1995, 5.2); the others the bytes of UTF-8, as genisoimage and
  // xorriso write non-ASCII identifiers (see settings.ts validateVolume).
  const text = (value: string, size: number): Buffer => kind === 'joliet' ? encodeText(value, size, 'ucs2') : utf8Field(value, size)
  const root = tree.directories[0]
  const date = (ms: number | undefined): ReturnType<typeof volumeDateFromMs> => ms === undefined ? UNSET_VOLUME_DATE : volumeDateFromMs(ms)
  return {
    type: kind === 'primary' ? 1 : 2,
    version: kind === 'enhanced' ? 2 : 1,
    flags: 0,
    systemId: text(v.systemId, 32),
    volumeId: text(kind === 'joliet' ? v.jolietVolumeId ?? v.volumeId : v.volumeId, 32),
    unused72: Buffer.alloc(8),
    // The partition's set describes the volume's data from the partition's start (as xorriso writes it).
    volumeSpaceSize: base === 0 ? layout.volumeSectors : layout.dataSectors - base,
    escapeSequences: kind === 'joliet' && layout.settings.joliet !== undefined ? jolietEscapeSequences(layout.settings.joliet.level) : Buffer.alloc(32),
    volumeSetSize: v.volumeSetSize,
    volumeSequenceNumber: v.volumeSequenceNumber,
    logicalBlockSize: SECTOR_SIZE,
    pathTableSize: tree.pathTable.size,
    lPathTable: tree.pathTable.lLba - base,
    lPathTableOptional: 0,
    mPathTable: tree.pathTable.mLba - base,
    mPathTableOptional: 0,
    root: directoryRecord(Buffer.from([0]), root.extent - base, root.size, FileFlags.DIRECTORY, root.node.inode.times.mtimeMs, Buffer.alloc(0)),
    volumeSetId: text(v.volumeSetId, 128),
    publisherId: text(v.publisherId, 128),
    preparerId: text(v.preparerId, 128),
    applicationId: text(v.applicationId, 128),
    copyrightFileId: text(v.copyrightFileId, 37),
    abstractFileId: text(v.abstractFileId, 37),
    bibliographicFileId: text(v.bibliographicFileId, 37),
    created: date(v.createdMs),
    modified: date(v.modifiedMs),
    expires: date(v.expiresMs),
    effective: date(v.effectiveMs),
    fileStructureVersion: kind === 'enhanced' ? 2 : 1,
    reserved882: 0,
    applicationUse: applicationUse(layout, kind),
    reserved1395: Buffer.alloc(SECTOR_SIZE - 1395)
  }
}

/** A space-padded field of UTF-8 bytes; text too long (validated earlier) is cut between characters. */
function utf8Field (value: string, size: number): Buffer {
  const field = Buffer.alloc(size, 0x20)
  let bytes = Buffer.from(value, 'utf8')
  if (bytes.length > size) {
    let end = size
    // Back off continuation bytes (10xxxxxx) so that no character is split.
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
    bytes = bytes.subarray(0, end)
  }
  bytes.copy(field)
  return field
}

function applicationUse (layout: Layout, kind: 'primary' | 'enhanced' | 'joliet'): Buffer {
  const field = Buffer.alloc(512)
  if (layout.settings.xa && kind === 'primary') field.write(XA_SIGNATURE, XA_SIGNATURE_OFFSET_IN_APPLICATION_USE, 'latin1')
  return field
}

