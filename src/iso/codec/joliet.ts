/*
 * Joliet (Microsoft's "Joliet Specification", 1995): names and identifiers in UCS-2, big-endian, in a
 * supplementary volume descriptor whose escape sequences say the level. We decode as UTF-16BE so that the
 * surrogate pairs some writers (xorriso -joliet-utf16) record come back as one character.
 */

export type JolietLevel = 1 | 2 | 3

/** Escape sequences (bytes 88-119 of the SVD): "%/@" level 1, "%/C" level 2, "%/E" level 3. */
const LEVEL_BY_FINAL_BYTE: Record<number, JolietLevel> = { 0x40: 1, 0x43: 2, 0x45: 3 }
const FINAL_BYTE_BY_LEVEL: Record<JolietLevel, number> = { 1: 0x40, 2: 0x43, 3: 0x45 }

/** The Joliet level the escape-sequence field announces, or undefined when it is not Joliet. */
export function jolietLevelOf (escapeSequences: Buffer): JolietLevel | undefined {
  // The sequences may be anywhere in the 32-byte field (ECMA-119 8.5.6); writers put them first.
  for (let i = 0; i + 2 < escapeSequences.length; i++) {
    if (escapeSequences[i] === 0x25 && escapeSequences[i + 1] === 0x2f) {
      const level = LEVEL_BY_FINAL_BYTE[escapeSequences[i + 2]]
      if (level !== undefined) return level
    }
  }
  return undefined
}

export function jolietEscapeSequences (level: JolietLevel): Buffer {
  const field = Buffer.alloc(32)
  field[0] = 0x25
  field[1] = 0x2f
  field[2] = FINAL_BYTE_BY_LEVEL[level]
  return field
}

export function decodeUcs2 (bytes: Buffer): string {
  const even = bytes.length & ~1
  const swapped = Buffer.allocUnsafe(even)
  for (let i = 0; i < even; i += 2) {
    swapped[i] = bytes[i + 1]
    swapped[i + 1] = bytes[i]
  }
  return swapped.toString('utf16le')
}

export function encodeUcs2 (text: string): Buffer {
  const bytes = Buffer.from(text, 'utf16le')
  for (let i = 0; i < bytes.length; i += 2) {
    const low = bytes[i]
    bytes[i] = bytes[i + 1]
    bytes[i + 1] = low
  }
  return bytes
}
