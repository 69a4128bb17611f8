import { InvalidInputError } from '../../errors'

/*
 * Joliet names (Joliet Specification, 1995): UCS-2, at most 64 characters (genisoimage -joliet-long
 * allows 103, the most that fits a directory record), none of * / : ; ? \ or control characters.
 */

export const JOLIET_MAX = 64
export const JOLIET_LONG_MAX = 103
const FORBIDDEN = /[*/:;?\\\u0000-\u001f]/g

/*
 * New Joliet names carry no ";1" version: genisoimage and xorriso write none (Windows and Linux read both).
 * A name longer than the limit is cut at the limit, extension or not, as genisoimage cuts it.
 */
export function jolietNameFor (source: string, long: boolean): string {
  return cutToUnits(source.replace(FORBIDDEN, '_'), long ? JOLIET_LONG_MAX : JOLIET_MAX)
}

/**
 * The longest prefix of `text` that is at most `max` UTF-16 code units. Joliet's limits count 16-bit
 * characters (the record stores 2 bytes each), so a character outside the BMP, written as a surrogate
 * pair, takes two of the 64; a pair is never split (half of one is no character at all).
 */
export function cutToUnits (text: string, max: number): string {
  if (text.length <= max) return text
  let end = max
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return text.slice(0, end)
}

export function validateJolietName (name: string, long: boolean): string {
  const max = long ? JOLIET_LONG_MAX : JOLIET_MAX
  if (name === '' || name === '.' || name === '..') throw new InvalidInputError('BAD_NAME', `"${name}" is not a valid Joliet name`)
  if (FORBIDDEN.test(name)) {
    FORBIDDEN.lastIndex = 0
    throw new InvalidInputError('BAD_NAME', `"${name}" contains a character Joliet forbids (* / : ; ? \\ or a control character)`)
  }
  if (Buffer.byteLength(name, 'utf16le') / 2 > max) {
    throw new InvalidInputError('NAME_TOO_LONG', `"${name}" is longer than the ${max} characters Joliet allows${long ? '' : ' (use the long form for 103)'}`)
  }
  return name
}

/** Rock Ridge names: any bytes but "/" and NUL, at most 255 bytes (NAME_MAX; NM entries continue). */
export const ROCK_RIDGE_NAME_MAX = 255

export function validateRockRidgeName (name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new InvalidInputError('BAD_NAME', `"${name}" is not a valid file name`)
  }
  if (Buffer.byteLength(name) > ROCK_RIDGE_NAME_MAX) {
    throw new InvalidInputError('NAME_TOO_LONG', `"${name.slice(0, 40)}…" is longer than ${ROCK_RIDGE_NAME_MAX} bytes`)
  }
  return name
}
