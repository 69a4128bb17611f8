import { decodeUcs2, encodeUcs2 } from './joliet'

/*
 * Text fields of descriptors and records. ECMA-119 7.4 pads a- and d-character fields with spaces; Joliet
 * pads its UCS-2 fields with UCS-2 spaces (00 20). Codecs keep the raw bytes; these helpers turn them into
 * strings for people and back.
 */

export type TextEncoding = 'ascii' | 'ucs2'

export function decodeText (raw: Buffer, encoding: TextEncoding): string {
  const text = encoding === 'ucs2' ? decodeUcs2(raw) : raw.toString('latin1')
  // Trailing spaces are padding; so are NULs, which some writers use instead (seen in EFI tool images).
  return text.replace(/[ \0]+$/, '')
}

/** Encodes into a fixed-size field, space-padded; text longer than the field is cut (callers validate). */
export function encodeText (text: string, size: number, encoding: TextEncoding): Buffer {
  const field = Buffer.alloc(size)
  if (encoding === 'ucs2') {
    for (let i = 0; i + 1 < size; i += 2) field.writeUInt16BE(0x0020, i)
    if (size % 2 === 1) field[size - 1] = 0x20
    encodeUcs2(text).copy(field, 0, 0, size & ~1)
  } else {
    field.fill(0x20)
    field.write(text, 0, size, 'latin1')
  }
  return field
}
