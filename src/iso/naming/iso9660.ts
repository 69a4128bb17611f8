import { InvalidInputError } from '../../errors'

/*
 * ECMA-119 file and directory identifiers per interchange level (10.1-10.3, and ISO 9660:1999 for level 4):
 * strict validation of names a caller gives, and generation of a valid name from any other name, the way
 * genisoimage does it (upper case, other characters to "_", the last dot separates the extension, length
 * limits, collisions numbered).
 */

export type InterchangeLevel = 1 | 2 | 3 | 4

/** ECMA-119 7.4.1: d-characters. */
const D_CHARACTERS = /^[A-Z0-9_]*$/
/** ISO 9660:1999 (level 4) allows any character but the separators; identifiers up to 207 bytes. */
export const LEVEL4_MAX_BYTES = 207
/** 7.5.2 for levels 2 and 3: name and extension together at most 30 characters. */
const LEVEL2_FILE_MAX = 30
/** 7.6.3: directory identifiers at most 31 characters (levels 2 and 3). */
const LEVEL2_DIRECTORY_MAX = 31
/** ECMA-119 7.5.1: versions run from 1 to 32767. */
const MAX_VERSION = 32767

export interface IsoIdentifier {
  name: string
  extension: string
  version?: number
}

/** Splits "NAME.EXT;1" (7.5.1); a directory identifier has no separators. */
export function splitIdentifier (identifier: string, isDirectory: boolean): IsoIdentifier {
  if (isDirectory) return { name: identifier, extension: '' }
  let rest = identifier
  let version: number | undefined
  const semicolon = rest.lastIndexOf(';')
  if (semicolon !== -1 && /^\d+$/.test(rest.slice(semicolon + 1))) {
    version = Number(rest.slice(semicolon + 1))
    rest = rest.slice(0, semicolon)
  }
  const dot = rest.lastIndexOf('.')
  return dot === -1 ? { name: rest, extension: '', version } : { name: rest.slice(0, dot), extension: rest.slice(dot + 1), version }
}

/** The recorded form: files always carry the dot (7.5.1) and, below level 4, a version. */
export function joinIdentifier (id: IsoIdentifier, isDirectory: boolean, level: InterchangeLevel): string {
  if (isDirectory) return id.name
  if (level === 4) return id.extension === '' ? id.name : `${id.name}.${id.extension}`
  return `${id.name}.${id.extension};${id.version ?? 1}`
}

/**
 * Checks a caller-given ISO9660 identifier against the level's rules and returns its recorded form
 * (";1" added to files where missing). Throws InvalidInputError naming the rule broken.
 */
export function validateIsoName (identifier: string, isDirectory: boolean, level: InterchangeLevel): string {
  const fail = (rule: string): never => {
    throw new InvalidInputError('BAD_NAME', `"${identifier}" is not a valid ISO9660 ${isDirectory ? 'directory' : 'file'} name at interchange level ${level}: ${rule}`, { name: identifier, level })
  }
  if (identifier === '' || identifier === '.' || identifier === '..') fail('empty or reserved')
  if (level === 4) {
    if (/[/\0]/.test(identifier)) fail('"/" and NUL are not allowed')
    if (Buffer.byteLength(identifier) > LEVEL4_MAX_BYTES) fail(`longer than ${LEVEL4_MAX_BYTES} bytes (ISO 9660:1999 7.5)`)
    return identifier
  }
  const id = splitIdentifier(identifier, isDirectory)
  if (!D_CHARACTERS.test(id.name) || !D_CHARACTERS.test(id.extension)) fail('only A-Z, 0-9 and _ are allowed (ECMA-119 7.4.1 d-characters)')
  if (id.version !== undefined && (id.version < 1 || id.version > MAX_VERSION)) fail('version must be 1 to 32767 (ECMA-119 7.5.1)')
  if (isDirectory) {
    const max = level === 1 ? 8 : LEVEL2_DIRECTORY_MAX
    if (id.name.length > max) fail(`directory names are at most ${max} characters (ECMA-119 ${level === 1 ? '10.1' : '7.6.3'})`)
  } else {
    if (id.name === '' && id.extension === '') fail('a file needs a name or an extension (ECMA-119 7.5.1)')
    if (level === 1 && (id.name.length > 8 || id.extension.length > 3)) fail('level 1 allows 8 characters and a 3-character extension (ECMA-119 10.1)')
    if (id.name.length + id.extension.length > LEVEL2_FILE_MAX) fail('name and extension are at most 30 characters together (ECMA-119 7.5.2)')
  }
  return joinIdentifier(id, isDirectory, level)
}

/**
 * A valid identifier for `source` (a Rock Ridge or Joliet name, or a host file name) at `level`, unique in
 * its directory: `taken` says whether a recorded identifier is already used there. Collisions are numbered
 * at the end of the name part (README00.TXT, README01.TXT…), as genisoimage does.
 */
export function generateIsoName (
  source: string, isDirectory: boolean, level: InterchangeLevel, taken: (identifier: string) => boolean, counters?: Map<string, number>
): string {
  const base = level === 4 ? level4Base(source, isDirectory) : mappedBase(source, isDirectory, level)
  const first = joinIdentifier(base, isDirectory, level)
  if (!taken(first)) return first
  const nameMax = nameLimit(base, isDirectory, level)
  const candidate = (n: number): string => {
    const digits = String(n).padStart(n < 100 ? 2 : String(n).length, '0')
    const stem = truncateBytes(base.name, Math.max(0, nameMax - digits.length), level)
    return joinIdentifier({ ...base, name: stem + digits }, isDirectory, level)
  }
  // Numbering resumes where it stopped for this base, and after a few misses continues from a counter
  // shared by the whole directory: thousands of names mapping to a few bases (level 1's 8.3) would
  // otherwise probe from 0 each time, quadratic in the directory's size.
  const start = counters?.get(first) ?? 0
  for (let n = start; n < start + 16; n++) {
    if (!taken(candidate(n))) {
      counters?.set(first, n + 1)
      return candidate(n)
    }
  }
  for (let n = Math.max(start + 16, counters?.get('') ?? 0); n < 100_000_000; n++) {
    if (!taken(candidate(n))) {
      counters?.set('', n + 1)
      return candidate(n)
    }
  }
  throw new InvalidInputError('EXISTS', `no free ISO9660 name for "${source}"`)
}

function mappedBase (source: string, isDirectory: boolean, level: 1 | 2 | 3): IsoIdentifier {
  const upper = source.toUpperCase()
  const map = (text: string): string => text.replace(/[^A-Z0-9_]/g, '_')
  let name: string
  let extension = ''
  const dot = upper.lastIndexOf('.')
  if (isDirectory || dot <= 0) {
    name = map(upper)
  } else {
    name = map(upper.slice(0, dot))
    extension = map(upper.slice(dot + 1))
  }
  if (level === 1) {
    name = name.slice(0, 8)
    extension = extension.slice(0, 3)
  } else if (isDirectory) {
    name = name.slice(0, LEVEL2_DIRECTORY_MAX)
  } else {
    extension = extension.slice(0, Math.min(extension.length, LEVEL2_FILE_MAX - 1))
    name = name.slice(0, LEVEL2_FILE_MAX - extension.length)
  }
  if (name === '' && (isDirectory || extension === '')) name = '_'
  return { name, extension }
}

function level4Base (source: string, isDirectory: boolean): IsoIdentifier {
  const cleaned = source.replace(/[/\0]/g, '_') || '_'
  if (isDirectory) return { name: truncateBytes(cleaned, LEVEL4_MAX_BYTES, 4), extension: '' }
  const dot = cleaned.lastIndexOf('.')
  const extension = dot > 0 ? cleaned.slice(dot + 1) : ''
  const name = dot > 0 ? cleaned.slice(0, dot) : cleaned
  const extBytes = extension === '' ? 0 : Buffer.byteLength(extension) + 1
  return { name: truncateBytes(name, LEVEL4_MAX_BYTES - extBytes, 4), extension }
}

function nameLimit (base: IsoIdentifier, isDirectory: boolean, level: InterchangeLevel): number {
  if (level === 4) return LEVEL4_MAX_BYTES - (base.extension === '' ? 0 : Buffer.byteLength(base.extension) + 1)
  if (level === 1) return 8
  return isDirectory ? LEVEL2_DIRECTORY_MAX : LEVEL2_FILE_MAX - base.extension.length
}

/** Cuts to a byte budget without splitting a UTF-8 character (level 4 names are UTF-8). */
function truncateBytes (text: string, max: number, level: InterchangeLevel): string {
  if (level !== 4) return text.slice(0, max)
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > max) break
    out += ch
  }
  return out
}
