import type { SuspEntry } from './susp'

/*
 * AAIP 2.0 (libisofs doc/susp_aaip_2_0.txt): xorriso's file attributes, as SUSP "AL" entries laid out like
 * RRIP SL: a flags byte (bit 0: the list continues in the next AL entry), then component records
 * (flags: bit 0 continues the component; length; bytes). Components pair up as name and value. A name's
 * first byte 0x01-0x06 abbreviates a namespace (0x04: "isofs."). xorriso -md5 on records a file's index
 * into the session's checksum array as "isofs.cx" (4 bytes, most significant first) and the array's
 * place as "isofs.ca" on the root.
 */

export interface Attribute {
  /** The name's bytes as recorded (namespace byte included): written back unchanged. */
  name: Buffer
  value: Buffer
}

/** The attributes of xorriso -md5 on: the checksum array's place (root) and a file's index into it. */
export const CHECKSUM_ATTRIBUTES: ReadonlySet<string> = new Set(['isofs.ca', 'isofs.cx'])

const NAMESPACES: Record<number, string> = { 1: '', 2: 'system.', 3: 'user.', 4: 'isofs.', 5: 'trusted.', 6: 'security.' }
const CONTINUE = 1
/** A SUSP entry's length is one byte: header 4, flags 1, the rest component records. */
const MAX_AREA = 255 - 5

/** The attribute list the AL entries among `entries` hold (undefined pairs dropped: a damaged list). */
export function parseAttributeList (entries: readonly SuspEntry[]): Attribute[] {
  const components: Buffer[] = []
  let current: Buffer[] = []
  for (const entry of entries) {
    if (entry.signature !== 'AL' || entry.data.length < 1) continue
    let at = 1
    while (at + 2 <= entry.data.length) {
      const flags = entry.data[at]
      const length = entry.data[at + 1]
      current.push(entry.data.subarray(at + 2, Math.min(entry.data.length, at + 2 + length)))
      at += 2 + length
      if ((flags & CONTINUE) === 0) {
        components.push(Buffer.concat(current))
        current = []
      }
    }
  }
  const pairs: Attribute[] = []
  for (let i = 0; i + 1 < components.length; i += 2) pairs.push({ name: components[i], value: components[i + 1] })
  return pairs
}

/** AL entries holding `attributes`, none longer than a SUSP entry may be. */
export function serializeAttributeList (attributes: readonly Attribute[]): SuspEntry[] {
  const areas: Buffer[][] = [[]]
  let room = MAX_AREA
  const put = (component: Buffer): void => {
    let at = 0
    do {
      if (room < 3) { areas.push([]); room = MAX_AREA }
      const take = Math.min(component.length - at, room - 2, 255)
      const last = at + take === component.length
      areas[areas.length - 1].push(Buffer.from([last ? 0 : CONTINUE, take]), component.subarray(at, at + take))
      room -= 2 + take
      at += take
    } while (at < component.length)
  }
  for (const a of attributes) { put(a.name); put(a.value) }
  if (attributes.length === 0) return []
  return areas.map((parts, i) => ({ signature: 'AL', version: 1, data: Buffer.concat([Buffer.from([i < areas.length - 1 ? CONTINUE : 0]), ...parts]) }))
}

/** A name as text, its namespace byte spelled out ("\x04cx" is "isofs.cx"). */
export function attributeName (name: Buffer): string {
  const prefix = name.length > 0 ? NAMESPACES[name[0]] : undefined
  return prefix !== undefined ? prefix + name.toString('latin1', 1) : name.toString('latin1')
}

/** A value holding a big-endian number of up to 4 bytes (isofs.cx). */
export function attributeNumber (value: Buffer): number {
  let n = 0
  for (const byte of value.subarray(0, 4)) n = n * 256 + byte
  return n
}

/**
 * Reads "isofs.ca" (libisofs iso_root_set_isofsca): START, END and COUNT, each a length byte and that many
 * big-endian bytes, then SIZE the same way (16), then the algorithm's name ("MD5").
 */
export function parseChecksumArrayAttribute (value: Buffer): { start: number, end: number, count: number, size: number, algorithm: string } | undefined {
  const numbers: number[] = []
  let at = 0
  for (let i = 0; i < 4; i++) {
    const length = value[at]
    if (length === undefined || length > 4 || at + 1 + length > value.length) return undefined
    numbers.push(attributeNumber(value.subarray(at + 1, at + 1 + length)))
    at += 1 + length
  }
  return { start: numbers[0], end: numbers[1], count: numbers[2], size: numbers[3], algorithm: value.toString('latin1', at) }
}

/** "isofs.ca" as libisofs writes it: START, END and COUNT in 4 bytes each, SIZE 16 in one, then "MD5". */
export function serializeChecksumArrayAttribute (place: { start: number, end: number, count: number }): Attribute {
  const value = Buffer.alloc(3 * 5 + 2 + 3)
  let at = 0
  for (const n of [place.start, place.end, place.count]) {
    value[at] = 4
    value.writeUInt32BE(n, at + 1)
    at += 5
  }
  value[at++] = 1
  value[at++] = 16
  value.write('MD5', at, 'latin1')
  return { name: Buffer.from('\x04ca', 'latin1'), value }
}

/** "isofs.cx": a file's index into the checksum array, 4 bytes, most significant first (as xorriso writes it). */
export function checksumIndexAttribute (index: number): Attribute {
  const value = Buffer.alloc(4)
  value.writeUInt32BE(index)
  return { name: Buffer.from('\x04cx', 'latin1'), value }
}

/**
 * `entries` without the named attributes and with `added` (after the kept ones): the AL entries are
 * rebuilt in the place of the first one (at the end when there was none), the other entries kept as they
 * are. Unchanged (the same array) when there is nothing to drop or add.
 */
export function withAttributes (entries: readonly SuspEntry[], names: ReadonlySet<string>, added: readonly Attribute[] = []): readonly SuspEntry[] {
  const hasList = entries.some(e => e.signature === 'AL')
  if (!hasList && added.length === 0) return entries
  const all = parseAttributeList(entries)
  const kept = all.filter(a => !names.has(attributeName(a.name)))
  if (kept.length === all.length && added.length === 0) return entries
  const list = serializeAttributeList([...kept, ...added])
  if (!hasList) return [...entries, ...list]
  const out: SuspEntry[] = []
  let placed = false
  for (const entry of entries) {
    if (entry.signature !== 'AL') out.push(entry)
    else if (!placed) { out.push(...list); placed = true }
  }
  return out
}

/** `entries` without the named attributes (withAttributes adding none). */
export function withoutAttributes (entries: readonly SuspEntry[], names: ReadonlySet<string>): readonly SuspEntry[] {
  return withAttributes(entries, names)
}
