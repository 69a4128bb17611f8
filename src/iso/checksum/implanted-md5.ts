import { createHash, type Hash } from 'node:crypto'
import { APPLICATION_USE_OFFSET, APPLICATION_USE_SIZE, FRAGMENT_SUMS_LENGTH, parseImplantedMd5, type ImplantedMd5 } from '../codec/isomd5sum'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/*
 * What implantisomd5 (isomd5sum 1.2) sums, and checkisomd5 checks:
 * - bytes 0 up to the volume's size (the primary descriptor's volume space size, ECMA-119 8.4.8, read from
 *   its big-endian half) less SKIPSECTORS sectors; bytes past the volume (appended partitions) are not
 *   covered;
 * - with the application-use field (which will hold the sums) read as 512 spaces;
 * - read in 32 KiB chunks from offset 0; fragment size = covered bytes / (FRAGMENT COUNT + 1). After each
 *   chunk, when (chunk's start / fragment size) differs from the last fragment seen, the MD5 of everything
 *   so far (that chunk included) gives that fragment's sum: for each of its first 60/COUNT digest bytes,
 *   the first digit of the byte in hex without leading zeros ("%x" of 0x0a is "a", of 0xa0 is "a").
 * The chunking is part of the format: the fragment boundaries fall on chunk ends, not at exact offsets.
 */

const CHUNK = 16 * SECTOR_SIZE

export interface ImplantedSums {
  md5: string
  fragmentSums: string
}

export interface ImplantedMd5Check {
  status: 'PASS' | 'FAIL' | 'NA'
  recorded?: ImplantedMd5
  computed?: ImplantedSums
}

/** The PVD's volume space size in bytes, as isomd5sum reads it (ECMA-119 8.4.8, big-endian half). */
async function volumeBytes (source: ByteSource, pvdLba: number): Promise<number> {
  const pvd = await readExactly(source, pvdLba * SECTOR_SIZE, SECTOR_SIZE, { structure: 'primary volume descriptor', lba: pvdLba })
  return pvd.readUInt32BE(84) * SECTOR_SIZE
}

/**
 * The sums implantisomd5 would record for the image `source` reads, its primary descriptor at `pvdLba`
 * (16 in every image isomd5sum handles), with the given skip and fragment count.
 */
export async function computeImplantedSums (
  source: ByteSource, pvdLba: number, params: Pick<ImplantedMd5, 'skipSectors' | 'fragmentCount'>,
  onProgress?: (done: number, total: number) => void
): Promise<ImplantedSums> {
  const total = Math.max(0, await volumeBytes(source, pvdLba) - params.skipSectors * SECTOR_SIZE)
  const fragmentSize = Math.floor(total / (params.fragmentCount + 1))
  const digitsPerFragment = Math.min(16, Math.floor(FRAGMENT_SUMS_LENGTH / params.fragmentCount))
  const fieldStart = pvdLba * SECTOR_SIZE + APPLICATION_USE_OFFSET
  const hash = createHash('md5')
  const buf = Buffer.alloc(CHUNK)
  let fragmentSums = ''
  let previous = 0
  let offset = 0
  while (offset < total) {
    const n = await source.read(buf, 0, Math.min(CHUNK, total - offset), offset)
    if (n <= 0) break // a file shorter than its volume: checkisomd5 stops there too
    const chunk = buf.subarray(0, n)
    blank(chunk, offset, fieldStart)
    hash.update(chunk)
    const current = fragmentSize > 0 ? Math.floor(offset / fragmentSize) : 0
    if (current !== previous) {
      fragmentSums += fragmentDigits(hash, digitsPerFragment)
      previous = current
    }
    offset += n
    onProgress?.(offset, total)
  }
  return { md5: hash.digest('hex'), fragmentSums }
}

/** checkisomd5's verdict on the image: NA without a recorded checksum, else PASS or FAIL. */
export async function checkImplantedMd5 (
  source: ByteSource, pvdLba: number, applicationUse: Buffer, onProgress?: (done: number, total: number) => void
): Promise<ImplantedMd5Check> {
  const recorded = parseImplantedMd5(applicationUse)
  if (recorded === undefined) return { status: 'NA' }
  const computed = await computeImplantedSums(source, pvdLba, recorded, onProgress)
  // checkisomd5 fails at the first fragment that differs, before the whole sum: both must match.
  const fragmentsMatch = recorded.fragmentCount === 0 || computed.fragmentSums === recorded.fragmentSums.slice(0, computed.fragmentSums.length)
  return { status: computed.md5 === recorded.md5.toLowerCase() && fragmentsMatch ? 'PASS' : 'FAIL', recorded, computed }
}

/** The checksum to record for the image's final bytes, keeping what the old one chose (skip, count, flag). */
export async function freshImplantedMd5 (
  source: ByteSource, pvdLba: number, previous: ImplantedMd5, onProgress?: (done: number, total: number) => void
): Promise<ImplantedMd5> {
  const sums = await computeImplantedSums(source, pvdLba, previous, onProgress)
  return { ...previous, md5: sums.md5, fragmentSums: sums.fragmentSums }
}

/** Where the field lies in the image, in bytes. */
export function applicationUseRange (pvdLba: number): { offset: number, length: number } {
  return { offset: pvdLba * SECTOR_SIZE + APPLICATION_USE_OFFSET, length: APPLICATION_USE_SIZE }
}

function blank (chunk: Buffer, chunkStart: number, fieldStart: number): void {
  const from = Math.max(chunkStart, fieldStart)
  const to = Math.min(chunkStart + chunk.length, fieldStart + APPLICATION_USE_SIZE)
  if (from < to) chunk.fill(0x20, from - chunkStart, to - chunkStart)
}

function fragmentDigits (hash: Hash, count: number): string {
  const digest = hash.copy().digest()
  let digits = ''
  for (let i = 0; i < count; i++) digits += digest[i].toString(16)[0]
  return digits
}
