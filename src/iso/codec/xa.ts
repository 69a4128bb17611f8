/*
 * CD-ROM XA (Philips/Sony "Yellow Book" extension, as pycdlib and genisoimage -XA write it): "CD-XA001" at
 * byte 1024 of the primary descriptor (application use offset 141), and a 14-byte record at the start of
 * every directory record's System Use field, before any SUSP entries: group id, user id, attributes
 * (big-endian), "XA", file number, five zero bytes.
 */

export const XA_RECORD_SIZE = 14
export const XA_SIGNATURE_OFFSET_IN_APPLICATION_USE = 141
export const XA_SIGNATURE = 'CD-XA001'

export interface XaRecord {
  groupId: number
  userId: number
  attributes: number
  fileNumber: number
}

/** Where SUSP entries start in a System Use field that may begin with an XA record. */
export function xaSkip (systemUse: Buffer): number {
  return systemUse.length >= XA_RECORD_SIZE && systemUse[6] === 0x58 && systemUse[7] === 0x41 ? XA_RECORD_SIZE : 0
}

export function serializeXaRecord (xa: XaRecord): Buffer {
  const buf = Buffer.alloc(XA_RECORD_SIZE)
  buf.writeUInt16BE(xa.groupId, 0)
  buf.writeUInt16BE(xa.userId, 2)
  buf.writeUInt16BE(xa.attributes, 4)
  buf.write('XA', 6, 'latin1')
  buf[8] = xa.fileNumber
  return buf
}

export function hasXaSignature (applicationUse: Buffer): boolean {
  return applicationUse.toString('latin1', XA_SIGNATURE_OFFSET_IN_APPLICATION_USE, XA_SIGNATURE_OFFSET_IN_APPLICATION_USE + 8) === XA_SIGNATURE
}
