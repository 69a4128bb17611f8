import type { Diagnostics } from './diagnostics'
import type { ImageLocation } from '../../errors'

/*
 * ECMA-119 7.2.3 and 7.3.3: "both-byte orders" numbers store the value twice, little-endian then big-endian.
 * Readers (Linux isofs among them) use the little-endian half; a mismatch is a warning, not an error, because
 * images with a wrong big-endian half exist and every OS reads them.
 */

/* `where` and `field` name the number for a warning; the location object is built only then (parsing
 * directories reads millions of these numbers). */

export function readBoth16 (buf: Buffer, offset: number, diag: Diagnostics, where: ImageLocation, field: string): number {
  const le = buf.readUInt16LE(offset)
  const be = buf.readUInt16BE(offset + 2)
  if (le !== be) diag.warn({ ...where, field }, `both-endian mismatch: little-endian ${le}, big-endian ${be}`)
  return le
}

export function readBoth32 (buf: Buffer, offset: number, diag: Diagnostics, where: ImageLocation, field: string): number {
  const le = buf.readUInt32LE(offset)
  const be = buf.readUInt32BE(offset + 4)
  if (le !== be) diag.warn({ ...where, field }, `both-endian mismatch: little-endian ${le}, big-endian ${be}`)
  return le
}

export function writeBoth16 (buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset)
  buf.writeUInt16BE(value, offset + 2)
}

export function writeBoth32 (buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset)
  buf.writeUInt32BE(value, offset + 4)
}
