import type { ImageLocation } from '../../../errors'
import type { Diagnostics } from '../diagnostics'
import { parseEntityId, serializeEntityId, type EntityId } from './entity-id'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * UDF 2.2.12: the sparing table of a sparable partition. Each entry maps a packet of the partition that
 * went bad to a spare packet elsewhere on the medium; entries are sorted by original location, and
 * 0xfffffff0 and above mark spare packets that are free (0xffffffff) or themselves defective.
 */

export const SPARING_IDENTIFIER = '*UDF Sparing Table'
/** Original locations from here on are not mappings (UDF 2.2.12). */
export const SPARING_UNUSED = 0xfffffff0

export interface SparingEntry {
  /** The packet's first block, relative to the partition. */
  original: number
  /** The absolute sector of the spare packet. */
  mapped: number
}

export interface SparingTable {
  tag: DescriptorTag
  id: EntityId
  reserved: number
  sequenceNumber: number
  entries: SparingEntry[]
}

export function parseSparingTable (buf: Buffer, tag: DescriptorTag, diag: Diagnostics, where: ImageLocation): SparingTable {
  let count = buf.readUInt16LE(48)
  const fits = Math.floor((buf.length - 56) / 8)
  if (count > fits) {
    diag.warn({ ...where, field: 'reallocation table length' }, `${count} entries do not fit in the ${buf.length}-byte table`)
    count = fits
  }
  const entries: SparingEntry[] = []
  for (let i = 0; i < count; i++) entries.push({ original: buf.readUInt32LE(56 + i * 8), mapped: buf.readUInt32LE(60 + i * 8) })
  return { tag, id: parseEntityId(buf, 16), reserved: buf.readUInt16LE(50), sequenceNumber: buf.readUInt32LE(52), entries }
}

export function serializeSparingTable (table: SparingTable, size: number): Buffer {
  const buf = Buffer.alloc(Math.max(size, 56 + table.entries.length * 8))
  serializeTag(table.tag, buf)
  serializeEntityId(table.id, buf, 16)
  buf.writeUInt16LE(table.entries.length, 48)
  buf.writeUInt16LE(table.reserved, 50)
  buf.writeUInt32LE(table.sequenceNumber, 52)
  table.entries.forEach((e, i) => { buf.writeUInt32LE(e.original, 56 + i * 8); buf.writeUInt32LE(e.mapped, 60 + i * 8) })
  sealDescriptor(buf, 0, table.tag.crcLength)
  return buf
}
