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
