import { InvalidImageError, type ImageLocation } from '../../../errors'
import { entityId, entityIdText, parseEntityId, serializeEntityId, type EntityId } from './entity-id'

/*
 * UDF 2.2.11: the virtual allocation table of a write-once medium (CD-R, DVD-R, BD-R as mkudffs formats
 * them): a file, the last thing written, mapping each block of the virtual partition to a block of the
 * physical one. UDF 2.00 and later give it file type 248 and a header; UDF 1.50 a plain file whose
 * entries are followed by an entity identifier and the previous table's location.
 */

export const VAT_150_IDENTIFIER = '*UDF Virtual Alloc Tbl'
/** An entry of this value maps nothing (UDF 2.2.11: a virtual block not in use). */
export const VAT_UNUSED = 0xffffffff
const HEADER_FIXED_SIZE = 152

export interface VirtualAllocationTable {
  /** UDF 2.00+ header fields (undefined for a 1.50 table). */
  header?: {
    /** dstring[128] */
    logicalVolumeId: Buffer
    previousVatLocation: number
    files: number
    directories: number
    minReadRevision: number
    minWriteRevision: number
    maxWriteRevision: number
    reserved: number
    implementationUse: Buffer
    /** Header bytes beyond the fields (L_HD larger than they need), kept for the round trip. */
    padding: Buffer
  }
  /** UDF 1.50 trailer. */
  trailer?: { id: EntityId, previousVatLocation: number }
  entries: Uint32Array
}

/** A UDF 2.00 table (file type 248): the header's length says where the entries start. */
export function parseVat200 (data: Buffer, where: ImageLocation): VirtualAllocationTable {
  if (data.length < HEADER_FIXED_SIZE) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `a ${data.length}-byte table cannot hold the ${HEADER_FIXED_SIZE}-byte header`, where)
  }
  const headerLength = data.readUInt16LE(0)
  const useLength = data.readUInt16LE(2)
  if (headerLength < HEADER_FIXED_SIZE + useLength || headerLength > data.length) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `header length ${headerLength} does not fit the ${data.length}-byte table and its ${useLength} bytes of implementation use`,
      { ...where, field: 'length of header' })
  }
  return {
    header: {
      logicalVolumeId: data.subarray(4, 132),
      previousVatLocation: data.readUInt32LE(132),
      files: data.readUInt32LE(136),
      directories: data.readUInt32LE(140),
      minReadRevision: data.readUInt16LE(144),
      minWriteRevision: data.readUInt16LE(146),
      maxWriteRevision: data.readUInt16LE(148),
      reserved: data.readUInt16LE(150),
      implementationUse: data.subarray(HEADER_FIXED_SIZE, HEADER_FIXED_SIZE + useLength),
      padding: data.subarray(HEADER_FIXED_SIZE + useLength, headerLength)
    },
    entries: readEntries(data.subarray(headerLength))
  }
}

/** A UDF 1.50 table: entries, then "*UDF Virtual Alloc Tbl" and the previous table's location. */
export function parseVat150 (data: Buffer, where: ImageLocation): VirtualAllocationTable {
  if (data.length < 36) throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `a ${data.length}-byte table cannot hold its 36-byte trailer`, where)
  const id = parseEntityId(data, data.length - 36)
  if (entityIdText(id) !== VAT_150_IDENTIFIER) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `identifier "${entityIdText(id)}" is not "${VAT_150_IDENTIFIER}"`, { ...where, field: 'VAT identifier' })
  }
  return { trailer: { id, previousVatLocation: data.readUInt32LE(data.length - 4) }, entries: readEntries(data.subarray(0, data.length - 36)) }
}

function readEntries (bytes: Buffer): Uint32Array {
  const entries = new Uint32Array(Math.floor(bytes.length / 4))
  for (let i = 0; i < entries.length; i++) entries[i] = bytes.readUInt32LE(i * 4)
  return entries
}

export function serializeVat (vat: VirtualAllocationTable): Buffer {
  const entries = Buffer.alloc(vat.entries.length * 4)
  vat.entries.forEach((e, i) => entries.writeUInt32LE(e, i * 4))
  if (vat.header !== undefined) {
    const h = vat.header
    const head = Buffer.alloc(HEADER_FIXED_SIZE + h.implementationUse.length + h.padding.length)
    head.writeUInt16LE(head.length, 0)
    head.writeUInt16LE(h.implementationUse.length, 2)
    h.logicalVolumeId.copy(head, 4, 0, 128)
    head.writeUInt32LE(h.previousVatLocation, 132)
    head.writeUInt32LE(h.files, 136)
    head.writeUInt32LE(h.directories, 140)
    head.writeUInt16LE(h.minReadRevision, 144)
    head.writeUInt16LE(h.minWriteRevision, 146)
    head.writeUInt16LE(h.maxWriteRevision, 148)
    head.writeUInt16LE(h.reserved, 150)
    h.implementationUse.copy(head, HEADER_FIXED_SIZE)
    h.padding.copy(head, HEADER_FIXED_SIZE + h.implementationUse.length)
    return Buffer.concat([head, entries])
  }
  const trailer = Buffer.alloc(36)
  serializeEntityId(vat.trailer?.id ?? entityId(VAT_150_IDENTIFIER), trailer, 0)
  trailer.writeUInt32LE(vat.trailer?.previousVatLocation ?? VAT_UNUSED, 32)
  return Buffer.concat([entries, trailer])
}
