import { InvalidImageError, type ImageLocation } from '../../errors'

/*
 * zisofs (H. Peter Anvin's zisofs-tools; "Description of the zisofs Format", libisofs doc/zisofs_format.txt)
 * and zisofs2 (libisofs doc/zisofs2_format.txt, written by xorriso -zisofs version_2=...): a compressed
 * file's data starts with a header, then (blocks + 1) little-endian block pointers; block i is the stream
 * between pointers i and i+1, and an empty stream means a block of zeros.
 *
 *   version 1: 16-byte header (magic, 32-bit size, header size / 4, log2 block size), 32-bit pointers;
 *   version 2: 24-byte header (magic, header version 0, header size / 4, algorithm id, log2 block size,
 *              64-bit size), 64-bit pointers.
 */

export const ZISOFS_MAGIC = Buffer.from([0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07])
export const ZISOFS2_MAGIC = Buffer.from([0xef, 0x22, 0x55, 0xa1, 0xbc, 0x1b, 0x95, 0xa0])
export const ZISOFS_HEADER_SIZE = 16
export const ZISOFS2_HEADER_SIZE = 24
/** Block sizes zisofs allows: 2^15, 2^16, 2^17. */
export const ZISOFS_LOG2_BLOCK_SIZES = [15, 16, 17]
/** zisofs2 readers must take 2^15..2^17; xorriso's block_size_v2 goes up to 1024k (2^20). */
export const ZISOFS2_LOG2_BLOCK_SIZES = [15, 16, 17, 18, 19, 20]

/** zisofs2 algorithm ids (header byte 10) and the two characters the ZF entry carries for them. */
export const ZISOFS2_ALGORITHMS: Record<number, string> = { 1: 'PZ', 2: 'XZ', 3: 'L4', 4: 'ZD', 5: 'B2' }

export interface ZisofsHeader {
  version: 1 | 2
  uncompressedSize: number
  headerSizeDiv4: number
  log2BlockSize: number
  /** zisofs2 algorithm id (1 = zlib); version 1 is always zlib. */
  algorithmId: number
}

/** Bytes needed to recognise and parse either header. */
export const ZISOFS_MAX_HEADER_SIZE = ZISOFS2_HEADER_SIZE

export function parseZisofsHeader (buf: Buffer, where: ImageLocation): ZisofsHeader {
  let header: ZisofsHeader
  if (buf.length >= ZISOFS_HEADER_SIZE && buf.subarray(0, 8).equals(ZISOFS_MAGIC)) {
    header = { version: 1, uncompressedSize: buf.readUInt32LE(8), headerSizeDiv4: buf[12], log2BlockSize: buf[13], algorithmId: 1 }
  } else if (buf.length >= ZISOFS2_HEADER_SIZE && buf.subarray(0, 8).equals(ZISOFS2_MAGIC)) {
    const size = buf.readBigUInt64LE(12)
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InvalidImageError('IMAGE_BAD_ZISOFS', `uncompressed size ${size} is beyond what can be read`, where)
    }
    header = { version: 2, uncompressedSize: Number(size), headerSizeDiv4: buf[9], algorithmId: buf[10], log2BlockSize: buf[11] }
    if (buf[8] !== 0) throw new InvalidImageError('IMAGE_BAD_ZISOFS', `zisofs2 header version ${buf[8]} is not 0`, where)
  } else {
    throw new InvalidImageError('IMAGE_BAD_ZISOFS', 'zisofs header magic missing', where)
  }
  const sizes = header.version === 1 ? ZISOFS_LOG2_BLOCK_SIZES : ZISOFS2_LOG2_BLOCK_SIZES
  const minimum = (header.version === 1 ? ZISOFS_HEADER_SIZE : ZISOFS2_HEADER_SIZE) / 4
  if (!sizes.includes(header.log2BlockSize) || header.headerSizeDiv4 < minimum) {
    throw new InvalidImageError('IMAGE_BAD_ZISOFS',
      `unsupported block size 2^${header.log2BlockSize} or header size ${header.headerSizeDiv4 * 4}`, where)
  }
  return header
}

export function serializeZisofsHeader (header: ZisofsHeader): Buffer {
  if (header.version === 2) {
    const buf = Buffer.alloc(ZISOFS2_HEADER_SIZE)
    ZISOFS2_MAGIC.copy(buf)
    buf[9] = header.headerSizeDiv4
    buf[10] = header.algorithmId
    buf[11] = header.log2BlockSize
    buf.writeBigUInt64LE(BigInt(header.uncompressedSize), 12)
    return buf
  }
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

/** Bytes of one block pointer: 4 in version 1, 8 in version 2. */
export function zisofsPointerSize (header: ZisofsHeader): number {
  return header.version === 1 ? 4 : 8
}
