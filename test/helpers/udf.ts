import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import type { IsoImage } from '../../src'
import { sealDescriptor } from '../../src/iso/codec/udf/tag'
import { PYTHON, run } from './tools'

/*
 * UDF images made by tools nobody here wrote (genisoimage -udf, pycdlib, mkudffs) and what independent
 * readers (7-Zip, udfinfo, pycdlib) see in them, in the shape our own listing has, so tests compare them.
 */

export interface Entry {
  type: 'file' | 'dir' | 'symlink'
  size?: number
  sha256?: string
}

/** 7-Zip's UDF reader (7z l -slt -tudf): path → type and size. */
export function sevenZipUdfListing (image: string): Record<string, Entry> {
  const out = run('7z', ['l', '-slt', '-tudf', image]).stdout
  const listing: Record<string, Entry> = {}
  // Entries follow the "----------" line; each is "Key = value" lines separated by a blank line.
  const body = out.slice(out.indexOf('\n----------\n') + 12)
  for (const block of body.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    for (const line of block.split('\n')) {
      const m = /^([^=]+?) = (.*)$/.exec(line)
      if (m !== null) fields.set(m[1], m[2])
    }
    const p = fields.get('Path')
    if (p === undefined) continue
    listing[p] = fields.get('Folder') === '+' ? { type: 'dir' } : { type: 'file', size: Number(fields.get('Size')) }
  }
  return listing
}

/** 7-Zip's UDF reader extracting everything into `dest`. */
export function sevenZipUdfExtract (image: string, dest: string): string {
  fs.mkdirSync(dest, { recursive: true })
  run('7z', ['x', '-y', '-tudf', `-o${dest}`, image])
  return dest
}

/** udfinfo (udftools) as key → value. */
export function udfinfo (image: string): Record<string, string> {
  const info: Record<string, string> = {}
  for (const line of run('udfinfo', [image]).stdout.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line)
    if (m !== null) info[m[1]] = m[2]
  }
  return info
}

/** An empty UDF file system made by mkudffs (it writes to a file: no device, no mount needed). */
export function mkudffs (out: string, mediaType: string, revision: string, blocks: number, extra: string[] = []): string {
  fs.rmSync(out, { force: true })
  run('mkudffs', [`--media-type=${mediaType}`, `--udfrev=${revision}`, ...extra, out, String(blocks)])
  return out
}

/** Runs a pycdlib script with `iso` (a PyCdlib) in scope and writes the image to `out`. */
export function pycdlibImage (out: string, body: string): string {
  run(PYTHON, ['-c', `import io, sys, pycdlib\niso = pycdlib.PyCdlib()\n${body}\niso.write(sys.argv[1])\niso.close()\n`, out])
  return out
}

/** Our listing of the udf namespace in the same shape. */
export async function ourUdfListing (image: IsoImage, hashes = true): Promise<Record<string, Entry>> {
  const listing: Record<string, Entry> = {}
  for await (const { path: p, node } of image.walk('/', 'udf')) {
    const key = p.replace(/^\//, '')
    if (node.isDirectory) listing[key] = { type: 'dir' }
    else if (node.inode.symlinkTarget !== undefined) listing[key] = { type: 'symlink' }
    else {
      const entry: Entry = { type: 'file', size: node.inode.size }
      if (hashes) entry.sha256 = createHash('sha256').update(await image.readFile(p, 'udf')).digest('hex')
      listing[key] = entry
    }
  }
  return listing
}

/** Files of a listing without their hashes (7-Zip gives none). */
export function withoutHashes (listing: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(listing).map(([k, { sha256: _, ...rest }]) => [k, rest]))
}

/** Patches `length` bytes of a descriptor at `position` in `file` and seals its tag again (valid checksum and CRC). */
export function patchDescriptor (file: string, position: number, length: number, patch: (bytes: Buffer) => void, seal = true): void {
  const fd = fs.openSync(file, 'r+')
  try {
    const bytes = Buffer.alloc(length)
    fs.readSync(fd, bytes, 0, length, position)
    patch(bytes)
    if (seal) sealDescriptor(bytes, 0, bytes.readUInt16LE(10))
    fs.writeSync(fd, bytes, 0, length, position)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * The structures of a bridge image's UDF volume that say its revision and its shape, read with this
 * project's codecs from the bytes (so that two writers' images compare field by field): the recognition
 * sequence, the descriptor sequences, the integrity descriptor, and every file entry and identifier in
 * the partition.
 */
export interface UdfShape {
  nsr: string[]
  /** The descriptor tag versions found (one, in a consistent volume). */
  descriptorVersions: number[]
  domain: { identifier: string, revision: number, flags: number }
  fileSetDomainRevision: number
  lvInfoRevision: number
  partitionContents: string
  partitionStart: number
  accessType: number
  partitionMaps: number[]
  fileSetLocation: { block: number, partition: number }
  integrity: { type: number, files: number, directories: number, minRead: number, minWrite: number, maxWrite: number }
  /** Tag identifiers of the entries (261 file entry, 266 extended), their strategy, allocation descriptor type, file type, link count, length. */
  entries: Array<{ tagId: number, strategy: number, adType: number, fileType: number, links: number, length: number }>
  /** Per identifier: its characteristics, and whether its ICB carries the entry's unique ID (UDF 2.3.4.3). */
  identifiers: Array<{ characteristics: number, name: string, uniqueIdInIcb: boolean }>
}

export function udfShape (file: string): UdfShape {
  const bytes = fs.readFileSync(file)
  const B = 2048
  const sector = (n: number): Buffer => bytes.subarray(n * B, (n + 1) * B)
  const text = (b: Buffer): string => b.toString('latin1').replace(/\0+$/, '')
  const nsr: string[] = []
  for (let n = 16; n < 32; n++) {
    const id = sector(n).toString('latin1', 1, 6)
    if (id === 'NSR02' || id === 'NSR03') nsr.push(id)
  }
  const versions = new Set<number>()
  const anchor = sector(256)
  versions.add(anchor.readUInt16LE(2))
  const main = anchor.readUInt32LE(20)
  const shape: Partial<UdfShape> = { nsr, entries: [], identifiers: [] }
  let integrityLba = 0
  for (let n = main; n < main + 16; n++) {
    const s = sector(n)
    const id = s.readUInt16LE(0)
    if (id === 0) continue
    versions.add(s.readUInt16LE(2))
    if (id === 4) shape.lvInfoRevision = s.readUInt16LE(20 + 24)
    if (id === 5) {
      shape.partitionContents = text(s.subarray(25, 48))
      shape.accessType = s.readUInt32LE(184)
      shape.partitionStart = s.readUInt32LE(188)
    }
    if (id === 6) {
      shape.domain = { identifier: text(s.subarray(217, 240)), revision: s.readUInt16LE(240), flags: s[242] }
      shape.fileSetLocation = { block: s.readUInt32LE(252), partition: s.readUInt16LE(256) }
      const count = s.readUInt32LE(268)
      // Map types, walking the map table by each map's length (type 1: 6 bytes, type 2: 64).
      shape.partitionMaps = []
      for (let i = 0, at = 440; i < count; i++, at += s[at + 1]) shape.partitionMaps.push(s[at])
      integrityLba = s.readUInt32LE(436)
    }
  }
  const lvid = sector(integrityLba)
  versions.add(lvid.readUInt16LE(2))
  const use = 80 + 8 * lvid.readUInt32LE(72)
  shape.integrity = {
    type: lvid.readUInt32LE(28),
    files: lvid.readUInt32LE(use + 32),
    directories: lvid.readUInt32LE(use + 36),
    minRead: lvid.readUInt16LE(use + 40),
    minWrite: lvid.readUInt16LE(use + 42),
    maxWrite: lvid.readUInt16LE(use + 44)
  }
  const start = shape.partitionStart ?? 0
  const fsd = sector(start + (shape.fileSetLocation?.block ?? 0))
  shape.fileSetDomainRevision = fsd.readUInt16LE(416 + 24)
  for (let n = start; n < bytes.length / B; n++) {
    const s = sector(n)
    const id = s.readUInt16LE(0)
    if ((id !== 261 && id !== 266 && id !== 257) || s.readUInt32LE(12) !== n - start) continue
    versions.add(s.readUInt16LE(2))
    if (id === 257) {
      for (let off = 0; off + 38 <= B && s.readUInt16LE(off) === 257;) {
        const lengthOfName = s[off + 19]
        const lengthOfUse = s.readUInt16LE(off + 36)
        const name = s.subarray(off + 38 + lengthOfUse, off + 38 + lengthOfUse + lengthOfName)
        shape.identifiers?.push({ characteristics: s[off + 18], name: name.length > 0 ? name.toString('latin1', 1) : '', uniqueIdInIcb: s.readUInt32LE(off + 32) !== 0 })
        off += (38 + lengthOfUse + lengthOfName + 3) & ~3
      }
    } else {
      shape.entries?.push({ tagId: id, strategy: s.readUInt16LE(20), adType: s.readUInt16LE(34) & 7, fileType: s[27], links: s.readUInt16LE(48), length: Number(s.readBigUInt64LE(56)) })
    }
  }
  shape.descriptorVersions = [...versions].sort()
  return shape as UdfShape
}
