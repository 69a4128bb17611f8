/*
 * ECMA-167 1/7.4: the 32-byte entity identifier ("regid") naming who wrote a structure or what a field
 * holds: flags, 23 identifier bytes ("*OSTA UDF Compliant", "+NSR02", "*genisoimage"…) and an 8-byte
 * suffix whose meaning depends on the identifier (UDF 2.1.5: the UDF revision for domain identifiers,
 * operating system classes for implementation identifiers).
 */

export const ENTITY_ID_SIZE = 32

export interface EntityId {
  flags: number
  /** The identifier as recorded (23 bytes, zero-padded). */
  identifier: Buffer
  suffix: Buffer
}

/** Domain identifier of UDF volumes (UDF 2.1.5.2). */
export const OSTA_DOMAIN = '*OSTA UDF Compliant'

export function parseEntityId (buf: Buffer, offset: number): EntityId {
  return {
    flags: buf[offset],
    identifier: buf.subarray(offset + 1, offset + 24),
    suffix: buf.subarray(offset + 24, offset + ENTITY_ID_SIZE)
  }
}

export function serializeEntityId (id: EntityId, buf: Buffer, offset: number): void {
  buf[offset] = id.flags
  id.identifier.copy(buf, offset + 1, 0, 23)
  id.suffix.copy(buf, offset + 24, 0, 8)
}

/** The identifier as text: its bytes up to the first NUL. */
export function entityIdText (id: EntityId): string {
  const end = id.identifier.indexOf(0)
  return id.identifier.toString('latin1', 0, end === -1 ? id.identifier.length : end)
}

export function entityId (identifier: string, suffix: Buffer = Buffer.alloc(8), flags = 0): EntityId {
  const bytes = Buffer.alloc(23)
  bytes.write(identifier, 'latin1')
  const padded = Buffer.alloc(8)
  suffix.copy(padded)
  return { flags, identifier: bytes, suffix: padded }
}

/**
 * The UDF revision a domain or UDF entity identifier's suffix records (UDF 2.1.5.3: a 16-bit BCD-like
 * number, 0x0102 for 1.02 … 0x0260 for 2.60), as "2.60".
 */
export function udfRevisionOf (id: EntityId): number {
  return id.suffix.readUInt16LE(0)
}

export function revisionText (revision: number): string {
  return `${(revision >> 8).toString(16)}.${(revision & 0xff).toString(16).padStart(2, '0')}`
}

/** A domain identifier suffix (UDF 2.1.5.3): revision, then the hard/soft write-protect flags. */
export function domainSuffix (revision: number, flags = 0): Buffer {
  const suffix = Buffer.alloc(8)
  suffix.writeUInt16LE(revision, 0)
  suffix[2] = flags
  return suffix
}
