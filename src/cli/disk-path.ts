import * as fs from 'node:fs'
import { InvalidInputError } from '../errors'
import { parseGptHeader } from '../iso/codec/gpt'
import { parseApmBlockSize } from '../iso/codec/apm'

/*
 * xorrisofs(1)'s "disk_path" arguments (--grub2-mbr, -isohybrid-mbr, -append_partition): a file, or an
 * interval reader string "--interval:local_fs:FROM-TO:ZEROIZERS:PATH" (Ubuntu's build scripts take the
 * MBR from the first 16 sectors of an existing ISO: "--interval:local_fs:0s-15s:zero_mbrpt,zero_gpt:in.iso").
 * "appended_partition_N" intervals name partitions (mkisofs.ts); "imported_iso" needs an -indev, which
 * mkisofs emulation has not.
 */

const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, s: 2048, d: 512 }
/** Reading more than this for a boot record or MBR is a mistake in the interval, not a wish. */
const MAX_INTERVAL = 64 * 1024 * 1024

export function isInterval (arg: string): boolean {
  return arg.startsWith('--interval:')
}

/** The bytes a disk_path argument names. */
export function readDiskPath (arg: string, option: string): Buffer {
  if (!isInterval(arg)) return fs.readFileSync(arg)
  const parts = arg.split(':')
  const [, flags, interval, zeroizers] = parts
  const source = parts.slice(4).join(':')
  if (flags !== 'local_fs') {
    throw new InvalidInputError('UNSUPPORTED', `${option} ${arg}: only --interval:local_fs: intervals are supported (an "imported_iso" needs xorriso's -indev)`)
  }
  const match = /^(\d+)([kmgtsd]?)-(\d+)([kmgtsd]?)$/.exec(interval ?? '')
  if (match === null || source === '') throw new InvalidInputError('BAD_ARGUMENT', `${option} ${arg}: expected --interval:local_fs:FROM-TO:ZEROIZERS:PATH`)
  const from = Number(match[1]) * (UNITS[match[2]] ?? 1)
  // "A scaled value end number depicts the last byte of the scaled range": 0d-0d is bytes 0-511.
  const to = match[4] !== '' ? (Number(match[3]) + 1) * UNITS[match[4]] - 1 : Number(match[3])
  if (to < from || to - from + 1 > MAX_INTERVAL) throw new InvalidInputError('BAD_ARGUMENT', `${option} ${arg}: the interval ${interval} is empty or too large`)
  const bytes = Buffer.alloc(to - from + 1)
  const fd = fs.openSync(source, 'r')
  try {
    fs.readSync(fd, bytes, 0, bytes.length, from)
  } finally {
    fs.closeSync(fd)
  }
  for (const zeroizer of (zeroizers ?? '').split(',').filter(z => z !== '')) zeroize(bytes, zeroizer, option)
  return bytes
}

function zeroize (bytes: Buffer, zeroizer: string, option: string): void {
  if (zeroizer === 'zero_mbrpt') {
    if (bytes.length >= 512 && bytes[510] === 0x55 && bytes[511] === 0xaa) bytes.fill(0, 446, 510)
    return
  }
  if (zeroizer === 'zero_gpt') {
    const header = bytes.length >= 1024 ? parseGptHeader(bytes.subarray(512, 1024)) : undefined
    if (header === undefined) return
    bytes.fill(0, 512, 1024)
    const start = header.entriesLba * 512
    bytes.fill(0, Math.min(start, bytes.length), Math.min(start + header.entryCount * header.entrySize, bytes.length))
    return
  }
  if (zeroizer === 'zero_apm') {
    const blockSize = parseApmBlockSize(bytes)
    if (blockSize === undefined) return
    const entries = bytes.length > blockSize + 8 ? bytes.readUInt32BE(blockSize + 4) : 0
    bytes.fill(0, Math.min(blockSize, bytes.length), Math.min((entries + 1) * blockSize, bytes.length))
    return
  }
  const range = /^(\d+)-(\d+)$/.exec(zeroizer)
  if (range === null) throw new InvalidInputError('BAD_ARGUMENT', `${option}: unknown zeroizer "${zeroizer}" (zero_mbrpt, zero_gpt, zero_apm or FROM-TO)`)
  bytes.fill(0, Number(range[1]), Math.min(bytes.length, Number(range[2]) + 1))
}
