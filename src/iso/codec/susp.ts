import { InvalidImageError, type ImageLocation } from '../../errors'
import type { Diagnostics } from './diagnostics'
import { readBoth32, writeBoth32 } from './numbers'

/*
 * System Use Sharing Protocol (SUSP, IEEE P1281, version 1.12). The System Use field of a directory record
 * (and continuation areas) holds entries: signature (2 bytes), length (1), version (1), then data.
 * Entries this code does not interpret are kept as they are and written back unchanged.
 */

export interface SuspEntry {
  signature: string
  version: number
  /** The bytes after the 4-byte header. */
  data: Buffer
}

export const SUSP_HEADER_SIZE = 4

/**
 * Splits a System Use field (or continuation area) into entries; stops at ST (SUSP 5.4) or padding.
 * Entry data are views into `area`: copy what you keep.
 */
export function parseSuspEntries (area: Buffer, diag: Diagnostics, where: ImageLocation): SuspEntry[] {
  const entries: SuspEntry[] = []
  let offset = 0
  while (offset + SUSP_HEADER_SIZE <= area.length) {
    // Zero bytes are padding: genisoimage and others pad the field to an even length, or pad a CE area.
    if (area[offset] === 0) break
    // Two latin1 characters; fromCharCode is several times cheaper than toString per entry (a walk
    // of 50,000 records reads 200,000 entries).
    const signature = String.fromCharCode(area[offset], area[offset + 1])
    const length = area[offset + 2]
    if (length < SUSP_HEADER_SIZE || offset + length > area.length) {
      diag.warn({ ...where, offset, field: `SUSP entry ${printable(signature)} length` },
        `length ${length} does not fit in the ${area.length - offset} bytes left; rest of the area ignored`)
      break
    }
    if (signature === 'ST') break
    entries.push({ signature, version: area[offset + 3], data: area.subarray(offset + 4, offset + length) })
    offset += length
  }
  return entries
}

export function suspEntryLength (entry: SuspEntry): number {
  return SUSP_HEADER_SIZE + entry.data.length
}

export function serializeSuspEntry (entry: SuspEntry): Buffer {
  const length = suspEntryLength(entry)
  if (length > 255) throw new RangeError(`SUSP entry ${entry.signature} of ${length} bytes exceeds 255`)
  const buf = Buffer.alloc(length)
  buf.write(entry.signature, 0, 2, 'latin1')
  buf[2] = length
  buf[3] = entry.version
  entry.data.copy(buf, 4)
  return buf
}

export function serializeSuspEntries (entries: readonly SuspEntry[]): Buffer {
  return Buffer.concat(entries.map(serializeSuspEntry))
}

function printable (signature: string): string {
  return /^[\x20-\x7e]{2}$/.test(signature) ? signature : JSON.stringify(signature)
}

// SUSP 5.1: continuation area.
export interface ContinuationArea {
  block: number
  offset: number
  length: number
}

export function parseCE (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): ContinuationArea {
  requireLength(entry, 24, where)
  return {
    block: readBoth32(entry.data, 0, diag, where, 'CE block location'),
    offset: readBoth32(entry.data, 8, diag, where, 'CE offset'),
    length: readBoth32(entry.data, 16, diag, where, 'CE length')
  }
}

export function makeCE (area: ContinuationArea): SuspEntry {
  const data = Buffer.alloc(24)
  writeBoth32(data, 0, area.block)
  writeBoth32(data, 8, area.offset)
  writeBoth32(data, 16, area.length)
  return { signature: 'CE', version: 1, data }
}

/** Bytes a CE entry takes in a System Use field. */
export const CE_ENTRY_LENGTH = 28

// SUSP 5.3: the SP entry in the root's "." record says SUSP is in use and how many bytes to skip.
export interface SuspIndicator {
  skip: number
}

export function parseSP (entry: SuspEntry): SuspIndicator | undefined {
  if (entry.data.length < 3 || entry.data[0] !== 0xbe || entry.data[1] !== 0xef) return undefined
  return { skip: entry.data[2] }
}

export function makeSP (skip = 0): SuspEntry {
  return { signature: 'SP', version: 1, data: Buffer.from([0xbe, 0xef, skip]) }
}

// SUSP 5.5: extensions reference.
export interface ExtensionReference {
  version: number
  identifier: string
  descriptor: string
  source: string
}

export function parseER (entry: SuspEntry, where: ImageLocation): ExtensionReference {
  requireLength(entry, 4, where)
  const [idLength, desLength, srcLength, version] = entry.data
  if (4 + idLength + desLength + srcLength > entry.data.length) {
    throw new InvalidImageError('IMAGE_BAD_SYSTEM_USE', 'ER lengths exceed the entry', { ...where, field: 'ER' })
  }
  let at = 4
  const take = (n: number): string => {
    const text = entry.data.toString('latin1', at, at + n)
    at += n
    return text
  }
  return { version, identifier: take(idLength), descriptor: take(desLength), source: take(srcLength) }
}

export function makeER (ref: ExtensionReference): SuspEntry {
  const id = Buffer.from(ref.identifier, 'latin1')
  const des = Buffer.from(ref.descriptor, 'latin1')
  const src = Buffer.from(ref.source, 'latin1')
  return {
    signature: 'ER',
    version: 1,
    data: Buffer.concat([Buffer.from([id.length, des.length, src.length, ref.version]), id, des, src])
  }
}

export function requireLength (entry: SuspEntry, dataLength: number, where: ImageLocation): void {
  if (entry.data.length < dataLength) {
    throw new InvalidImageError('IMAGE_BAD_SYSTEM_USE',
      `${entry.signature} entry has ${entry.data.length + SUSP_HEADER_SIZE} bytes, needs ${dataLength + SUSP_HEADER_SIZE}`,
      { ...where, field: entry.signature })
  }
}
