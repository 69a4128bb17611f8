import { InvalidImageError, type ImageLocation } from '../../errors'

/*
 * zisofs (H. Peter Anvin's zisofs-tools; "Description of the zisofs Format", libisofs doc/zisofs_format.txt):
 * a compressed file's data starts with a 16-byte header, then (blocks + 1) little-endian 32-bit pointers;
 * block i is the zlib stream between pointers i and i+1, and an empty stream means a block of zeros.
 */

export const ZISOFS_MAGIC = Buffer.from([0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07])
export const ZISOFS_HEADER_SIZE = 16
/** Block sizes zisofs allows: 2^15, 2^16, 2^17. */
export const ZISOFS_LOG2_BLOCK_SIZES = [15, 16, 17]

export interface ZisofsHeader {
  uncompressedSize: number
  headerSizeDiv4: number
  log2BlockSize: number
}

export function parseZisofsHeader (buf: Buffer, where: ImageLocation): ZisofsHeader {
  if (buf.length < ZISOFS_HEADER_SIZE || !buf.subarray(0, 8).equals(ZISOFS_MAGIC)) {
    throw new InvalidImageError('IMAGE_BAD_ZISOFS', 'zisofs header magic missing', where)
  }
  const header = { uncompressedSize: buf.readUInt32LE(8), headerSizeDiv4: buf[12], log2BlockSize: buf[13] }
  if (!ZISOFS_LOG2_BLOCK_SIZES.includes(header.log2BlockSize) || header.headerSizeDiv4 < 4) {
    throw new InvalidImageError('IMAGE_BAD_ZISOFS',
      `unsupported block size 2^${header.log2BlockSize} or header size ${header.headerSizeDiv4 * 4}`, where)
  }
  return header
}

export function serializeZisofsHeader (header: ZisofsHeader): Buffer {
  const buf = Buffer.alloc(ZISOFS_HEADER_SIZE)
  ZISOFS_MAGIC.copy(buf)
  buf.writeUInt32LE(header.uncompressedSize, 8)
  buf[12] = header.headerSizeDiv4
  buf[13] = header.log2BlockSize
  return buf
}

export function zisofsBlockCount (header: ZisofsHeader): number {
  const blockSize = 2 ** header.log2BlockSize
  return Math.ceil(header.uncompressedSize / blockSize)
}
