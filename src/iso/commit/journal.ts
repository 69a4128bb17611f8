import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { logger } from '../../log'
import type { ByteSource } from '../io/byte-source'
import { syncDirectory } from '../write/master'

const log = logger('commit')

/*
 * An in-place commit changes bytes in several places of the image; a crash between two of them would
 * leave an image that is neither the old nor the new one. So the changes are first written, whole and
 * checksummed, to a journal beside the image; applied; and the journal removed. A journal found later
 * (the daemon was killed) is replayed before the image is mounted again, and the library reads images
 * through it, so the image always opens as before or after the commit.
 *
 * Format: "ISOMOUNT-JOURNAL-1\n", one JSON line {image: {dev, ino}, entries: [[offset, length]...]},
 * the entries' bytes, then the SHA-256 of everything before it.
 */

const MAGIC = 'ISOMOUNT-JOURNAL-1\n'

export interface Patch {
  offset: number
  bytes: Buffer
}

export function journalPath (imagePath: string): string {
  return path.join(path.dirname(imagePath), `.${path.basename(imagePath)}.isomount-journal`)
}

export function writeJournal (imagePath: string, patches: readonly Patch[]): void {
  const st = fs.statSync(imagePath)
  const header = Buffer.from(MAGIC + JSON.stringify({ image: { dev: st.dev, ino: st.ino }, entries: patches.map(p => [p.offset, p.bytes.length]) }) + '\n')
  const hash = createHash('sha256').update(header)
  for (const p of patches) hash.update(p.bytes)
  const target = journalPath(imagePath)
  const temp = `${target}.tmp`
  const fd = fs.openSync(temp, 'w', 0o600)
  try {
    fs.writeSync(fd, header)
    for (const p of patches) fs.writeSync(fd, p.bytes)
    fs.writeSync(fd, hash.digest())
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(temp, target)
  syncDirectoryOf(target)
}

/** The journal's patches if a complete one for this image exists; a torn or foreign one is undefined. */
export function readJournal (imagePath: string): Patch[] | undefined {
  const file = journalPath(imagePath)
  let raw: Buffer
  try {
    raw = fs.readFileSync(file)
  } catch {
    return undefined
  }
  if (raw.length < MAGIC.length + 32 || raw.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined
  const body = raw.subarray(0, raw.length - 32)
  if (!createHash('sha256').update(body).digest().equals(raw.subarray(raw.length - 32))) return undefined
  const newline = body.indexOf(0x0a, MAGIC.length)
  const header = JSON.parse(body.toString('utf8', MAGIC.length, newline)) as { image: { dev: number, ino: number }, entries: Array<[number, number]> }
  const st = fs.statSync(imagePath)
  if (st.dev !== header.image.dev || st.ino !== header.image.ino) return undefined
  const patches: Patch[] = []
  let at = newline + 1
  for (const [offset, length] of header.entries) {
    patches.push({ offset, bytes: body.subarray(at, at + length) })
    at += length
  }
  return patches
}

export function applyPatches (fd: number, patches: readonly Patch[]): void {
  for (const p of patches) {
    let done = 0
    while (done < p.bytes.length) done += fs.writeSync(fd, p.bytes, done, p.bytes.length - done, p.offset + done)
  }
  fs.fsyncSync(fd)
}

export function removeJournal (imagePath: string): void {
  const file = journalPath(imagePath)
  fs.rmSync(file, { force: true })
  fs.rmSync(`${file}.tmp`, { force: true })
  syncDirectoryOf(file)
}

/**
 * Finishes an interrupted in-place commit: a complete journal is applied, a torn one (the crash came
 * before the commit started changing the image) discarded. Returns what happened.
 */
export function recoverJournal (imagePath: string): 'none' | 'replayed' | 'discarded' {
  const file = journalPath(imagePath)
  if (!fs.existsSync(file) && !fs.existsSync(`${file}.tmp`)) return 'none'
  const patches = readJournal(imagePath)
  if (patches === undefined) {
    log('discarding an incomplete journal for %s', imagePath)
    removeJournal(imagePath)
    return 'discarded'
  }
  log('replaying a journal of %d patches onto %s', patches.length, imagePath)
  const fd = fs.openSync(imagePath, 'r+')
  try {
    applyPatches(fd, patches)
  } finally {
    fs.closeSync(fd)
  }
  removeJournal(imagePath)
  return 'replayed'
}

/** Reads an image as a pending journal would leave it, without writing anything. */
export class JournaledByteSource implements ByteSource {
  constructor (private readonly inner: ByteSource, private readonly patches: readonly Patch[]) {}

  get size (): number {
    return this.inner.size
  }

  async read (buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.patch(buf, offset, position, await this.inner.read(buf, offset, length, position))
  }

  private patch (buf: Buffer, offset: number, position: number, n: number): number {
    for (const p of this.patches) {
      const from = Math.max(position, p.offset)
      const to = Math.min(position + n, p.offset + p.bytes.length)
      if (from < to) p.bytes.copy(buf, offset + (from - position), from - p.offset, to - p.offset)
    }
    return n
  }
}

function syncDirectoryOf (file: string): void {
  syncDirectory(path.dirname(file))
}
