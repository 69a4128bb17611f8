import { InvalidImageError, type ImageLocation } from '../../errors'
import type { Diagnostics } from './diagnostics'
import {
  parseRecordDate, parseVolumeDate, RECORD_DATE_SIZE, serializeRecordDate, serializeVolumeDate, VOLUME_DATE_SIZE,
  type RecordDate, type VolumeDate
} from './datetime'
import { readBoth32, writeBoth32 } from './numbers'
import { requireLength, type SuspEntry } from './susp'

/*
 * Rock Ridge Interchange Protocol entries (RRIP 1.09, 1.10 = IEEE P1282, 1.12 = IEEE 1282), plus the
 * zisofs ZF entry (not in RRIP; defined by zisofs-tools and read by Linux isofs). Each entry has a
 * parse/make pair over the SUSP entry's data.
 */

export type RockRidgeVersion = '1.09' | '1.10' | '1.12'

/** The ER extension identifiers each RRIP version registers (RRIP 1.12 section 5). */
export const RRIP_IDENTIFIERS: Record<RockRidgeVersion, string> = {
  '1.09': 'RRIP_1991A',
  '1.10': 'IEEE_P1282',
  '1.12': 'IEEE_1282'
}

export function rockRidgeVersionOf (identifier: string): RockRidgeVersion | undefined {
  for (const [version, id] of Object.entries(RRIP_IDENTIFIERS)) if (id === identifier) return version as RockRidgeVersion
  return undefined
}

// 4.1.1 PX: POSIX file attributes. 1.09/1.10 entries are 36 bytes; 1.12 adds the file serial number (44).
export interface PosixAttributes {
  mode: number
  links: number
  uid: number
  gid: number
  serial?: number
}

export function parsePX (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): PosixAttributes {
  requireLength(entry, 32, where)
  const px: PosixAttributes = {
    mode: readBoth32(entry.data, 0, diag, where, 'PX mode'),
    links: readBoth32(entry.data, 8, diag, where, 'PX links'),
    uid: readBoth32(entry.data, 16, diag, where, 'PX uid'),
    gid: readBoth32(entry.data, 24, diag, where, 'PX gid')
  }
  if (entry.data.length >= 40) px.serial = readBoth32(entry.data, 32, diag, where, 'PX serial number')
  return px
}

export function makePX (px: PosixAttributes): SuspEntry {
  const data = Buffer.alloc(px.serial === undefined ? 32 : 40)
  writeBoth32(data, 0, px.mode >>> 0)
  writeBoth32(data, 8, px.links)
  writeBoth32(data, 16, px.uid >>> 0)
  writeBoth32(data, 24, px.gid >>> 0)
  if (px.serial !== undefined) writeBoth32(data, 32, px.serial >>> 0)
  return { signature: 'PX', version: 1, data }
}

// 4.1.2 PN: device number, as two 32-bit halves.
export interface DeviceNumber {
  high: number
  low: number
}

export function parsePN (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): DeviceNumber {
  requireLength(entry, 16, where)
  return {
    high: readBoth32(entry.data, 0, diag, where, 'PN high'),
    low: readBoth32(entry.data, 8, diag, where, 'PN low')
  }
}

export function makePN (dev: DeviceNumber): SuspEntry {
  const data = Buffer.alloc(16)
  writeBoth32(data, 0, dev.high)
  writeBoth32(data, 8, dev.low)
  return { signature: 'PN', version: 1, data }
}

// 4.1.3 SL: symbolic link components. A target may span several SL entries (flag CONTINUE).
export const SymlinkFlags = { CONTINUE: 0x01 } as const
export const ComponentFlags = { CONTINUE: 0x01, CURRENT: 0x02, PARENT: 0x04, ROOT: 0x08, VOLROOT: 0x10, HOST: 0x20 } as const

export interface SymlinkComponent {
  flags: number
  content: Buffer
}

export interface SymlinkEntry {
  flags: number
  components: SymlinkComponent[]
}

export function parseSL (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): SymlinkEntry {
  requireLength(entry, 1, where)
  const components: SymlinkComponent[] = []
  let at = 1
  while (at + 2 <= entry.data.length) {
    const length = entry.data[at + 1]
    if (at + 2 + length > entry.data.length) {
      diag.warn({ ...where, field: 'SL component length' }, `component of ${length} bytes overruns the entry`)
      break
    }
    components.push({ flags: entry.data[at], content: Buffer.from(entry.data.subarray(at + 2, at + 2 + length)) })
    at += 2 + length
  }
  return { flags: entry.data[0], components }
}

export function makeSL (sl: SymlinkEntry): SuspEntry {
  const parts: Buffer[] = [Buffer.from([sl.flags])]
  for (const c of sl.components) parts.push(Buffer.from([c.flags, c.content.length]), c.content)
  return { signature: 'SL', version: 1, data: Buffer.concat(parts) }
}

/**
 * A target as SL components, encoded as genisoimage and xorriso encode it: a leading "/" and every empty
 * part between two slashes is ROOT ("a//b" is "a", ROOT, "b"; "//net/x" is ROOT, ROOT, "net", "x"), "." is
 * CURRENT, ".." PARENT, and a trailing "/" is not recorded. Linux, isoinfo and xorriso read all of these
 * back as written; an empty text component instead of ROOT reads as "a//b" in Linux but "a/b" in xorriso.
 * Parts longer than `maxContent` bytes continue in the next component (CONTINUE flag). The inverse is
 * symlinkTargetBytes (read/rock-ridge.ts), which reads ROOT as Linux does.
 */
export function symlinkComponents (target: Buffer, maxContent = 255): SymlinkComponent[] {
  if (target.length === 0) return []
  const parts: Buffer[] = []
  for (let start = 0; ; ) {
    const slash = target.indexOf(0x2f, start)
    parts.push(target.subarray(start, slash === -1 ? target.length : slash))
    if (slash === -1) break
    start = slash + 1
  }
  // "dir/" ends in an empty part; "/" alone is ROOT and that empty part.
  if (parts.length > 1 && parts[parts.length - 1].length === 0) parts.pop()
  const components: SymlinkComponent[] = []
  for (const part of parts) {
    if (part.length === 0) components.push({ flags: ComponentFlags.ROOT, content: Buffer.alloc(0) })
    else if (part.length === 1 && part[0] === 0x2e) components.push({ flags: ComponentFlags.CURRENT, content: Buffer.alloc(0) })
    else if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) components.push({ flags: ComponentFlags.PARENT, content: Buffer.alloc(0) })
    else {
      for (let at = 0; at < part.length; at += maxContent) {
        const more = at + maxContent < part.length
        components.push({ flags: more ? ComponentFlags.CONTINUE : 0, content: part.subarray(at, at + maxContent) })
      }
    }
  }
  return components
}

// 4.1.4 NM: alternate name. Long names continue over several NM entries (flag CONTINUE).
export const NameFlags = { CONTINUE: 0x01, CURRENT: 0x02, PARENT: 0x04, HOST: 0x20 } as const

export interface AlternateName {
  flags: number
  content: Buffer
}

export function parseNM (entry: SuspEntry, where: ImageLocation): AlternateName {
  requireLength(entry, 1, where)
  return { flags: entry.data[0], content: entry.data.subarray(1) }
}

export function makeNM (nm: AlternateName): SuspEntry {
  return { signature: 'NM', version: 1, data: Buffer.concat([Buffer.from([nm.flags]), nm.content]) }
}

// 4.1.5 CL / PL / RE: deep directory relocation.
export function parseLocation (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): number {
  requireLength(entry, 8, where)
  return readBoth32(entry.data, 0, diag, where, `${entry.signature} location`)
}

export function makeLocation (signature: 'CL' | 'PL', lba: number): SuspEntry {
  const data = Buffer.alloc(8)
  writeBoth32(data, 0, lba)
  return { signature, version: 1, data }
}

export function makeRE (): SuspEntry {
  return { signature: 'RE', version: 1, data: Buffer.alloc(0) }
}

// 4.1.6 TF: time stamps, in the order of their flag bits, short (7-byte) or long (17-byte) form.
export const TimeFlags = {
  CREATION: 0x01,
  MODIFY: 0x02,
  ACCESS: 0x04,
  ATTRIBUTES: 0x08,
  BACKUP: 0x10,
  EXPIRATION: 0x20,
  EFFECTIVE: 0x40,
  LONG_FORM: 0x80
} as const

export type TimeKind = 'creation' | 'modify' | 'access' | 'attributes' | 'backup' | 'expiration' | 'effective'
const TIME_KINDS: TimeKind[] = ['creation', 'modify', 'access', 'attributes', 'backup', 'expiration', 'effective']

export interface TimeStamps {
  longForm: boolean
  stamps: Partial<Record<TimeKind, RecordDate | VolumeDate>>
}

export function parseTF (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): TimeStamps {
  requireLength(entry, 1, where)
  const flags = entry.data[0]
  const longForm = (flags & TimeFlags.LONG_FORM) !== 0
  const size = longForm ? VOLUME_DATE_SIZE : RECORD_DATE_SIZE
  const stamps: TimeStamps['stamps'] = {}
  let at = 1
  TIME_KINDS.forEach((kind, bit) => {
    if ((flags & (1 << bit)) === 0) return
    if (at + size > entry.data.length) {
      diag.warn({ ...where, field: `TF ${kind}` }, 'time stamp missing from a short TF entry')
      return
    }
    stamps[kind] = longForm ? parseVolumeDate(entry.data, at) : parseRecordDate(entry.data, at)
    at += size
  })
  return { longForm, stamps }
}

export function makeTF (tf: TimeStamps): SuspEntry {
  const size = tf.longForm ? VOLUME_DATE_SIZE : RECORD_DATE_SIZE
  const kinds = TIME_KINDS.filter(kind => tf.stamps[kind] !== undefined)
  const data = Buffer.alloc(1 + kinds.length * size)
  data[0] = tf.longForm ? TimeFlags.LONG_FORM : 0
  let at = 1
  for (const kind of kinds) {
    data[0] |= 1 << TIME_KINDS.indexOf(kind)
    if (tf.longForm) serializeVolumeDate(tf.stamps[kind] as VolumeDate, data, at)
    else serializeRecordDate(tf.stamps[kind] as RecordDate, data, at)
    at += size
  }
  return { signature: 'TF', version: 1, data }
}

// 4.1.7 SF: sparse file (1.12 form: virtual size high, low, table depth): the file's data is then recorded
// as sparse tables, not as its bytes. Parsed so a reader can tell; no writer here makes one.
export interface SparseFile {
  virtualSize: number
  tableDepth: number
}

export function parseSF (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): SparseFile {
  if (entry.data.length >= 17) {
    const high = readBoth32(entry.data, 0, diag, where, 'SF size high')
    const low = readBoth32(entry.data, 8, diag, where, 'SF size low')
    return { virtualSize: high * 2 ** 32 + low, tableDepth: entry.data[16] }
  }
  // RRIP 1.10's SF carries only one 32-bit size.
  requireLength(entry, 8, where)
  return { virtualSize: readBoth32(entry.data, 0, diag, where, 'SF size'), tableDepth: 0 }
}

// RRIP 1.09 RR: which Rock Ridge fields the record carries (obsolete in 1.12, still written by genisoimage).
export const RockRidgeFieldFlags = { PX: 0x01, PN: 0x02, SL: 0x04, NM: 0x08, CL: 0x10, PL: 0x20, RE: 0x40, TF: 0x80 } as const

export function makeRR (flags: number): SuspEntry {
  return { signature: 'RR', version: 1, data: Buffer.from([flags]) }
}

// ZF: zisofs compressed file ("pz" algorithm: zlib blocks), as read by Linux isofs (fs/isofs/rock.c). zisofs2
// (libisofs doc/zisofs2_format.txt) records entry version 2, the algorithm in capitals ("PZ" = zlib) and
// the uncompressed size as a 64-bit little-endian number; xorriso -zisofs susp_z2=on names the entry "Z2"
// instead, so that kernels that know only "pz" do not complain.
export interface ZisofsInfo {
  algorithm: string
  headerSizeDiv4: number
  log2BlockSize: number
  uncompressedSize: number
  /** Entry version: 1 (zisofs, the default) or 2 (zisofs2). */
  version?: 1 | 2
  /** "Z2" for zisofs2 entries written under that signature; "ZF" by default. */
  signature?: 'ZF' | 'Z2'
}

export function parseZF (entry: SuspEntry, diag: Diagnostics, where: ImageLocation): ZisofsInfo {
  requireLength(entry, 12, where)
  const info: ZisofsInfo = {
    algorithm: entry.data.toString('latin1', 0, 2),
    headerSizeDiv4: entry.data[2],
    log2BlockSize: entry.data[3],
    uncompressedSize: 0
  }
  if (entry.version === 2 || entry.signature === 'Z2') {
    const size = entry.data.readBigUInt64LE(4)
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InvalidImageError('IMAGE_BAD_SYSTEM_USE', `zisofs2 size ${size} is beyond what can be read`, { ...where, field: `${entry.signature} uncompressed size` })
    }
    info.uncompressedSize = Number(size)
    info.version = 2
    if (entry.signature === 'Z2') info.signature = 'Z2'
  } else {
    info.uncompressedSize = readBoth32(entry.data, 4, diag, where, 'ZF uncompressed size')
  }
  return info
}

export function makeZF (zf: ZisofsInfo): SuspEntry {
  const data = Buffer.alloc(12)
  data.write(zf.algorithm, 0, 2, 'latin1')
  data[2] = zf.headerSizeDiv4
  data[3] = zf.log2BlockSize
  if (zf.version === 2) data.writeBigUInt64LE(BigInt(zf.uncompressedSize), 4)
  else writeBoth32(data, 4, zf.uncompressedSize)
  return { signature: zf.signature ?? 'ZF', version: zf.version ?? 1, data }
}
