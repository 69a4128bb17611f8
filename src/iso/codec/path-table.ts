import { InvalidImageError, type ImageLocation } from '../../errors'

/** ECMA-119 9.4: one path table record. Directory numbers start at 1 (the root, its own parent). */
export interface PathTableRecord {
  extendedAttributeLength: number
  extent: number
  parent: number
  identifier: Buffer
}

export type PathTableByteOrder = 'L' | 'M'

export function pathTableRecordLength (identifierLength: number): number {
  return 8 + identifierLength + (identifierLength % 2)
}

/** Parses a whole table of `size` bytes (the PVD's path table size, 8.4.14). */
export function parsePathTable (buf: Buffer, order: PathTableByteOrder, where: ImageLocation): PathTableRecord[] {
  const records: PathTableRecord[] = []
  let offset = 0
  while (offset < buf.length) {
    const identifierLength = buf[offset]
    if (identifierLength === 0 || offset + pathTableRecordLength(identifierLength) > buf.length) {
      throw new InvalidImageError('IMAGE_BAD_PATH_TABLE',
        `record ${records.length + 1} has identifier length ${identifierLength} that does not fit`,
        { ...where, offset, field: 'length of directory identifier' })
    }
    records.push({
      extendedAttributeLength: buf[offset + 1],
      extent: order === 'L' ? buf.readUInt32LE(offset + 2) : buf.readUInt32BE(offset + 2),
      parent: order === 'L' ? buf.readUInt16LE(offset + 6) : buf.readUInt16BE(offset + 6),
      identifier: Buffer.from(buf.subarray(offset + 8, offset + 8 + identifierLength))
    })
    offset += pathTableRecordLength(identifierLength)
  }
  return records
}

/**
 * 9.4.6: the parent's directory number is 16 bits. A tree of more than 65,535 directories has parents
 * numbered beyond that; xorriso records the number's low 16 bits (genisoimage refuses such a tree:
 * "Unable to generate sane path tables - too many directories"). Readers take the tree from the
 * directory records (Linux, isoinfo, bsdtar, 7z, pycdlib and isovfy all read xorriso's 70,000-directory
 * image), so we record as xorriso does.
 */
export function recordedParentNumber (parent: number): number {
  return parent % 0x10000
}

export function serializePathTable (records: readonly PathTableRecord[], order: PathTableByteOrder): Buffer {
  const size = records.reduce((sum, r) => sum + pathTableRecordLength(r.identifier.length), 0)
  const buf = Buffer.alloc(size)
  let offset = 0
  for (const record of records) {
    buf[offset] = record.identifier.length
    buf[offset + 1] = record.extendedAttributeLength
    const parent = recordedParentNumber(record.parent)
    if (order === 'L') {
      buf.writeUInt32LE(record.extent, offset + 2)
      buf.writeUInt16LE(parent, offset + 6)
    } else {
      buf.writeUInt32BE(record.extent, offset + 2)
      buf.writeUInt16BE(parent, offset + 6)
    }
    record.identifier.copy(buf, offset + 8)
    offset += pathTableRecordLength(record.identifier.length)
  }
  return buf
}
