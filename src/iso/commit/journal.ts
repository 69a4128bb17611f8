import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InternalError } from '../../errors'
import { logger } from '../../log'
import type { ByteSource } from '../io/byte-source'
import { syncDirectory } from '../io/durable-file'

const log = logger('commit')

/*
 * A commit that changes bytes in several places of the image (an in-place commit; the descriptors of an
 * append) could be cut between two of them and leave an image that is neither the old one nor the new.
 * So the changes are first written, whole and checksummed, to a journal beside the image, made durable,
 * applied, and the journal removed. A journal found later (the daemon was killed, the power went) is
 * replayed before the image is mounted read-write again, and the library reads images through it, so the
 * image always opens as before or after the commit.
 *
 * A journal applies only to the image it was written for. That is checked by content, not by device and
 * inode numbers (a device number can change across a reboot: btrfs, device-mapper, USB): the image must
 * have the size it had, and every 512-byte block of every patched range must hold either the bytes it
 * held before (a fingerprint is recorded) or the patch's bytes (replay is idempotent; a write torn by a
 * power cut leaves a mix of the two, block by block). An image restored from a backup after the crash
 * fails that check and keeps its bytes.
 *
 * Format: "ISOMOUNT-JOURNAL-2\n", one JSON line {imageSize, entries: [[offset, length]...]}, the entries'
 * bytes, the fingerprints of what each entry's blocks held before, then the SHA-256 of everything before it.
 */

const MAGIC = 'ISOMOUNT-JOURNAL-2\n'
const DIGEST_SIZE = 32
/** Disks tear writes at sector boundaries; 512 bytes is the smallest sector in use. */
const BLOCK = 512
/** The first 8 bytes of a block's SHA-256: enough to tell its old content from any other by accident. */
const FINGERPRINT_SIZE = 8

export interface Patch {
  offset: number
  bytes: Buffer
}

interface JournalHeader {
  imageSize: number
  entries: Array<[offset: number, length: number]>
}

export function journalPath (imagePath: string): string {
  return path.join(path.dirname(imagePath), `.${path.basename(imagePath)}.isomount-journal`)
}

/** Adjacent or overlapping patches merged (later ones winning), in offset order: fewer, larger writes. */
export function coalescePatches (patches: readonly Patch[]): Patch[] {
  const runs: Patch[] = []
  for (const p of [...patches].sort((a, b) => a.offset - b.offset)) {
    const last = runs[runs.length - 1]
    if (last !== undefined && p.offset <= last.offset + last.bytes.length) {
      const end = Math.max(last.offset + last.bytes.length, p.offset + p.bytes.length)
      const merged = Buffer.alloc(end - last.offset)
      last.bytes.copy(merged)
      p.bytes.copy(merged, p.offset - last.offset)
      runs[runs.length - 1] = { offset: last.offset, bytes: merged }
    } else {
      runs.push(p)
    }
  }
  return runs
}

/**
 * Writes `patches` into the open image `fd` (at `imagePath`) so that a crash at any moment leaves the old
 * bytes or the new ones: journal, fsync, apply, fsync, remove. If applying fails, the old bytes are put
 * back and the journal removed; if even that fails, the journal stays (it completes the commit at the next
 * read-write mount) and the error says so.
 */
export function applyJournaled (imagePath: string, fd: number, patches: readonly Patch[]): void {
  const before = prepareJournal(imagePath, fd, patches)
  failpoint('journal-durable')
  try {
    applyPatches(fd, patches)
  } catch (err) {
    try {
      applyPatches(fd, patches.map((p, i) => ({ offset: p.offset, bytes: before[i] })))
    } catch {
      throw new InternalError(`writing the image failed (${(err as Error).message}) and so did putting its old bytes back; ` +
        `the journal ${journalPath(imagePath)} completes the commit at the next read-write mount`, { journal: journalPath(imagePath) }, { cause: err })
    }
    removeJournal(imagePath)
    throw err
  }
  removeJournal(imagePath)
}

/**
 * The first half of applyJournaled: the journal for `patches` written and durable, the image not yet
 * touched (the state a crash right after it leaves). Returns the bytes the patches will replace.
 */
/**
 * A failpoint for the crash tests (test/mount/rw-faults.test.ts): with ISOMOUNT_FAILPOINT_PAUSE=NAME in
 * the daemon's environment, the commit holds still for a second at that point, so that a kill lands there
 * however fast the machine applies the journal (polling for it alone missed the window on an idle
 * machine). Unset, it does nothing.
 */
function failpoint (name: 'journal-durable'): void {
  if (process.env.ISOMOUNT_FAILPOINT_PAUSE !== name) return
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000)
}

export function prepareJournal (imagePath: string, fd: number, patches: readonly Patch[]): Buffer[] {
  const before = patches.map(p => readRange(fd, p.offset, p.bytes.length))
  writeJournal(imagePath, fs.fstatSync(fd).size, patches, before)
  return before
}

function writeJournal (imagePath: string, imageSize: number, patches: readonly Patch[], before: readonly Buffer[]): void {
  const header: JournalHeader = { imageSize, entries: patches.map(p => [p.offset, p.bytes.length]) }
  const parts = [Buffer.from(MAGIC + JSON.stringify(header) + '\n'), ...patches.map(p => p.bytes), ...before.map(fingerprints)]
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  // Written in place, not through a temporary name: a journal cut short fails its checksum and is
  // discarded, so a rename (and its directory sync) would buy nothing.
  const target = journalPath(imagePath)
  const fd = fs.openSync(target, 'w', 0o600)
  try {
    let at = 0
    for (const part of parts) at += writeAll(fd, part, at)
    writeAll(fd, hash.digest(), at)
    fs.fsyncSync(fd)
  } catch (err) {
    fs.closeSync(fd)
    fs.rmSync(target, { force: true }) // no room for it, say: the image was not touched
    throw err
  }
  fs.closeSync(fd)
  // The journal's name must be on disk before the image changes, or a crash would leave no way back.
  syncDirectory(path.dirname(target))
}

/**
 * The journal's patches if a complete one that applies to this image exists; undefined otherwise (none,
 * torn, or written for other bytes than the image holds).
 */
export function readJournal (imagePath: string): Patch[] | undefined {
  let raw: Buffer
  try {
    raw = fs.readFileSync(journalPath(imagePath))
  } catch {
    return undefined
  }
  if (raw.length < MAGIC.length + DIGEST_SIZE || raw.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined
  const body = raw.subarray(0, raw.length - DIGEST_SIZE)
  if (!createHash('sha256').update(body).digest().equals(raw.subarray(raw.length - DIGEST_SIZE))) return undefined
  const newline = body.indexOf(0x0a, MAGIC.length)
  const header = JSON.parse(body.toString('utf8', MAGIC.length, newline)) as JournalHeader
  const patches: Patch[] = []
  let at = newline + 1
  for (const [offset, length] of header.entries) {
    patches.push({ offset, bytes: body.subarray(at, at + length) })
    at += length
  }
  const before: Buffer[] = []
  for (const p of patches) {
    const size = Math.ceil(p.bytes.length / BLOCK) * FINGERPRINT_SIZE
    before.push(body.subarray(at, at + size))
    at += size
  }
  if (at !== body.length) return undefined
  const fd = fs.openSync(imagePath, 'r')
  try {
    if (fs.fstatSync(fd).size !== header.imageSize) return undefined
    return patches.every((p, i) => holdsBeforeOrAfter(readRange(fd, p.offset, p.bytes.length), p.bytes, before[i])) ? patches : undefined
  } finally {
    fs.closeSync(fd)
  }
}

/** Whether every block of `now` is the patch's block or the one whose fingerprint was recorded. */
function holdsBeforeOrAfter (now: Buffer, after: Buffer, before: Buffer): boolean {
  for (let i = 0, start = 0; start < now.length; i++, start += BLOCK) {
    const block = now.subarray(start, start + BLOCK)
    if (block.equals(after.subarray(start, start + BLOCK))) continue
    if (!fingerprint(block).equals(before.subarray(i * FINGERPRINT_SIZE, (i + 1) * FINGERPRINT_SIZE))) return false
  }
  return true
}

function applyPatches (fd: number, patches: readonly Patch[]): void {
  for (const p of patches) writeAll(fd, p.bytes, p.offset)
  fs.fsyncSync(fd)
}

/**
 * Not followed by a directory sync: if a crash brings the journal back, replaying it finds the image
 * already holding its bytes, which changes nothing.
 */
function removeJournal (imagePath: string): void {
  fs.rmSync(journalPath(imagePath), { force: true })
}

/**
 * Finishes an interrupted commit: a complete journal for this image is applied; a torn one (the crash
 * came before the commit started changing the image) or one for other bytes is removed. Returns what
 * happened.
 */
export function recoverJournal (imagePath: string): 'none' | 'replayed' | 'discarded' {
  if (!fs.existsSync(journalPath(imagePath))) return 'none'
  const patches = readJournal(imagePath)
  if (patches === undefined) {
    log('discarding a journal for %s that is incomplete or does not match the image', imagePath)
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

/** Whether a journal (complete or not) lies beside the image. */
export function journalPending (imagePath: string): boolean {
  return fs.existsSync(journalPath(imagePath))
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

/** pwrite until every byte is written: a short write is not an error, and must not pass for success. */
export function writeAll (fd: number, bytes: Buffer, position: number): number {
  let done = 0
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done)
  return done
}

function readRange (fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done)
    if (n === 0) break // past the end: zeros, as a later write there would leave them
    done += n
  }
  return buf
}

function fingerprint (block: Buffer): Buffer {
  return createHash('sha256').update(block).digest().subarray(0, FINGERPRINT_SIZE)
}

function fingerprints (bytes: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(bytes.length / BLOCK) * FINGERPRINT_SIZE)
  for (let i = 0, start = 0; start < bytes.length; i++, start += BLOCK) fingerprint(bytes.subarray(start, start + BLOCK)).copy(out, i * FINGERPRINT_SIZE)
  return out
}
