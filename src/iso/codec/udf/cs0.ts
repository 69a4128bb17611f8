import { InvalidImageError, type ImageLocation } from '../../../errors'

/*
 * OSTA Compressed Unicode (UDF 2.1.1), the CS0 encoding of every UDF name and identifier: a compression
 * ID byte, then 8-bit characters (ID 8: each byte is a Unicode code point, Latin-1) or big-endian 16-bit
 * units (ID 16; UTF-16 since UDF 2.50, which is what a surrogate pair decodes to). UDF 2.50 adds IDs 254
 * and 255, the same encodings for names of deleted entries, decoded here like 8 and 16.
 *
 * A dstring (ECMA-167 1/7.2.12) is a fixed-size field whose last byte gives the length of the d-characters
 * in it (compression ID included); the rest is zero.
 */

/** The charspec (1/7.2.1) every UDF volume records: CS0, "OSTA Compressed Unicode" (UDF 2.1.2). */
export const OSTA_CHARSPEC_INFO = 'OSTA Compressed Unicode'
export const CHARSPEC_SIZE = 64

export interface Charspec {
  type: number
  /** 63 bytes of character set information. */
  info: Buffer
}

export function parseCharspec (buf: Buffer, offset: number): Charspec {
  return { type: buf[offset], info: buf.subarray(offset + 1, offset + CHARSPEC_SIZE) }
}

export function serializeCharspec (charspec: Charspec, buf: Buffer, offset: number): void {
  buf[offset] = charspec.type
  charspec.info.copy(buf, offset + 1, 0, CHARSPEC_SIZE - 1)
}

export function ostaCharspec (): Charspec {
  const info = Buffer.alloc(CHARSPEC_SIZE - 1)
  info.write(OSTA_CHARSPEC_INFO, 'latin1')
  return { type: 0, info }
}

/**
 * Decodes d-characters: the compression ID and what follows it. Empty input is the empty name; an unknown
 * compression ID is an error naming the field (the bytes cannot be interpreted as any text).
 */
export function decodeDchars (bytes: Buffer, where: ImageLocation): string {
  return decodeDcharsIn(bytes, 0, bytes.length, where)
}

/** The same, for the d-characters at `start` to `end` of `buf`. */
export function decodeDcharsIn (buf: Buffer, start: number, end: number, where: ImageLocation): string {
  if (end <= start) return ''
  const id = buf[start]
  if (id === 8 || id === 254) return buf.toString('latin1', start + 1, end)
  if (id === 16 || id === 255) {
    const length = (end - start - 1) & ~1
    const swapped = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i += 2) {
      swapped[i] = buf[start + 2 + i]
      swapped[i + 1] = buf[start + 1 + i]
    }
    return swapped.toString('utf16le')
  }
  throw new InvalidImageError('IMAGE_BAD_RECORD', `compression ID ${id} is not an OSTA CS0 one (8 or 16)`, { ...where, field: where.field ?? 'compression ID' })
}

/** Encodes text as d-characters: 8-bit when every character fits a byte (what writers prefer), else 16. */
export function encodeDchars (text: string): Buffer {
  if (text === '') return Buffer.alloc(0)
  if (/^[\u0000-\u00ff]*$/.test(text)) return Buffer.concat([Buffer.from([8]), Buffer.from(text, 'latin1')])
  const le = Buffer.from(text, 'utf16le')
  const out = Buffer.allocUnsafe(1 + le.length)
  out[0] = 16
  for (let i = 0; i < le.length; i += 2) {
    out[1 + i] = le[i + 1]
    out[2 + i] = le[i]
  }
  return out
}

/** The d-characters of a dstring field (its last byte says how many are used). */
export function dstringChars (field: Buffer, where: ImageLocation): Buffer {
  const used = field[field.length - 1]
  if (used === 0) return field.subarray(0, 0)
  if (used > field.length - 1) {
    throw new InvalidImageError('IMAGE_BAD_DESCRIPTOR', `dstring length ${used} exceeds its ${field.length}-byte field`, where)
  }
  return field.subarray(0, used)
}

export function decodeDstring (field: Buffer, where: ImageLocation): string {
  return decodeDchars(dstringChars(field, where), where)
}

/** A dstring field of `size` bytes; text that does not fit is an error (callers validate first). */
export function encodeDstring (text: string, size: number): Buffer {
  const chars = encodeDchars(text)
  if (chars.length > size - 1) throw new RangeError(`"${text}" needs ${chars.length} bytes, a ${size}-byte dstring holds ${size - 1}`)
  const field = Buffer.alloc(size)
  chars.copy(field)
  field[size - 1] = chars.length
  return field
}
