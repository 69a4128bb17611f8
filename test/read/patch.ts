import { IsoImage } from '../../src'

/*
 * Byte-level surgery on images made by genisoimage and xorriso, for tests of how damaged or unusual
 * structures read. Records are found through the library (where they are is not what these tests test);
 * the SUSP entries inside them are walked here, independently of the library's parser.
 */

export const SECTOR = 2048

/** A structure's place in the image file: byte offset and length. */
export interface Located {
  at: number
  length: number
}

/** Where the directory record of `imagePath` (Rock Ridge path) is in the image file. */
export async function recordOf (iso: string, imagePath: string): Promise<{ at: number, length: number }> {
  const image = await IsoImage.open(iso)
  try {
    const location = (await image.lookup(imagePath)).origin?.iso
    if (location === undefined) throw new Error(`no ISO9660 record for ${imagePath}`)
    return { at: location.lba * SECTOR + location.offset, length: location.length }
  } finally {
    await image.close()
  }
}

/** The root directory's "." record: the PVD's root record (ECMA-119 8.4.18) names its extent. */
export function rootSelfOf (bytes: Buffer): { at: number, length: number } {
  const extent = bytes.readUInt32LE(16 * SECTOR + 156 + 2)
  return { at: extent * SECTOR, length: bytes[extent * SECTOR] }
}

/** Offsets (in the image) of the SUSP entries in a record's System Use field (ECMA-119 9.1.13). */
export function suspEntries (bytes: Buffer, record: { at: number, length: number }): Array<{ at: number, signature: string, length: number }> {
  const idLength = bytes[record.at + 32]
  let at = record.at + 33 + idLength + (idLength % 2 === 0 ? 1 : 0)
  const end = record.at + record.length
  const entries: Array<{ at: number, signature: string, length: number }> = []
  while (at + 4 <= end && bytes[at + 2] >= 4) {
    entries.push({ at, signature: bytes.toString('latin1', at, at + 2), length: bytes[at + 2] })
    at += bytes[at + 2]
  }
  return entries
}

export function suspEntry (bytes: Buffer, record: { at: number, length: number }, signature: string): { at: number, length: number } {
  const entry = suspEntries(bytes, record).find(e => e.signature === signature)
  if (entry === undefined) throw new Error(`no ${signature} entry in the record at ${record.at}`)
  return entry
}

/**
 * Shrinks an entry to `length` bytes and fills the bytes it gave up with a padding entry (SUSP 5.2 "PD"),
 * so that the entries after it stay where they were: only the one entry is damaged.
 */
export function shrinkEntry (bytes: Buffer, entry: { at: number, length: number }, length: number): void {
  const freed = entry.length - length
  if (freed < 4) throw new Error(`shrinking ${entry.length} to ${length} frees too little for a PD entry`)
  bytes[entry.at + 2] = length
  const pd = entry.at + length
  bytes.write('PD', pd, 'latin1')
  bytes[pd + 2] = freed
  bytes[pd + 3] = 1
  bytes.fill(0, pd + 4, pd + freed)
}

export function writeBoth32 (bytes: Buffer, at: number, value: number): void {
  bytes.writeUInt32LE(value, at)
  bytes.writeUInt32BE(value, at + 4)
}
