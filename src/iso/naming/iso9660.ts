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

/**
 * Relaxations of ECMA-119's rules for generated names, as genisoimage's options ask for them (each
 * violates the standard; "it happens to work on many systems"). None set: names as the standard says.
 */
export interface IsoNameRules {
  /** -l: names up to 31 characters at level 1 too, not 8.3. */
  fullNames?: boolean
  /** -max-iso9660-filenames: names up to 37 characters (the version's bytes taken; implies omitVersion). */
  maxLength?: 31 | 37
  /** -d: no "." after a file name without an extension. */
  omitPeriod?: boolean
  /** -N: no ";1" version. */
  omitVersion?: boolean
  /** -allow-lowercase: lower case letters are kept. */
  allowLowercase?: boolean
  /** -relaxed-filenames: every 7-bit ASCII character but "/" is kept (lower case still per allowLowercase). */
  relaxed?: boolean
  /** -allow-leading-dots: a leading "." is kept, not made "_". */
  allowLeadingDots?: boolean
  /** -allow-multidot: dots before the extension's are kept, not made "_". */
  allowMultidot?: boolean
  /** -no-iso-translate: "#", "~" and "-" are kept, not made "_". */
  keepDosCharacters?: boolean
}

/** The recorded form: files carry the dot (7.5.1) and, below level 4, a version, unless the rules omit them. */
export function joinIdentifier (id: IsoIdentifier, isDirectory: boolean, level: InterchangeLevel, rules: IsoNameRules = {}): string {
  if (isDirectory || level === 4) return id.extension === '' ? id.name : `${id.name}.${id.extension}`
  const dot = id.extension !== '' || rules.omitPeriod !== true ? `.${id.extension}` : ''
  return rules.omitVersion === true || rules.maxLength === 37 ? `${id.name}${dot}` : `${id.name}${dot};${id.version ?? 1}`
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
  source: string, isDirectory: boolean, level: InterchangeLevel, taken: (identifier: string) => boolean,
  counters?: Map<string, number>, rules: IsoNameRules = {}
): string {
  const base = level === 4 ? level4Base(source, isDirectory) : mappedBase(source, isDirectory, level, rules)
  const first = joinIdentifier(base, isDirectory, level, rules)
  if (!taken(first)) return first
  const nameMax = nameLimit(base, isDirectory, level, rules)
  const candidate = (n: number): string => {
    const digits = String(n).padStart(n < 100 ? 2 : String(n).length, '0')
    const stem = truncateBytes(base.name, Math.max(0, nameMax - digits.length), level)
    return joinIdentifier({ ...base, name: stem + digits }, isDirectory, level, rules)
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

/** genisoimage's name length below level 4: 31 characters in all (dot included), 37 with -max-iso9660-filenames. */
function nameLength (rules: IsoNameRules): number {
  return rules.maxLength ?? 31
}

/**
 * A name mapped the way genisoimage maps it (name.c iso9660_file_length): upper case; characters outside
 * the d-characters to "_"; the extension is what follows the last dot (not a dot that ends the name or is
 * followed by "~"), other dots "_"; a leading dot "_"; at level 1 8.3, else 31 characters in all, the
 * name part keeping at least half of them when the extension is long; ".tar.gz" and ".ps.gz" shortened
 * to ".tgz" and ".psz" rather than losing "tar". The rules relax each of these as genisoimage's options do.
 * A directory's name is mapped the same way, its dot kept ("DIR_WITH.DOT" for "dir.with.dots"), but it
 * gets no dot or version added: ECMA-119 7.6.1 allows no dot in a directory identifier, but genisoimage
 * and xorriso both write one, and every reader takes it.
 */
function mappedBase (source: string, isDirectory: boolean, level: 1 | 2 | 3, rules: IsoNameRules): IsoIdentifier {
  const total = nameLength(rules)
  let text = source
  if (rules.allowMultidot !== true) {
    if (text.toLowerCase().endsWith('.tar.gz')) text = text.slice(0, -7) + '.tgz'
    else if (text.toLowerCase().endsWith('.ps.gz')) text = text.slice(0, -6) + '.psz'
  }
  let extensionDot = text.lastIndexOf('.')
  if (extensionDot !== -1 && (extensionDot === text.length - 1 || text[extensionDot + 1] === '~')) {
    const earlier = text.lastIndexOf('.', extensionDot - 1)
    if (earlier !== -1) extensionDot = earlier
  }
  const extensionLength = extensionDot === -1 ? 0 : text.length - extensionDot // with its dot
  let nameMax = 8
  let extensionMax = 3
  if (rules.fullNames === true || level > 1) {
    nameMax = total
    extensionMax = total - 1
    if (!isDirectory) {
      // A long extension leaves the name half the length; the total is what cuts it then.
      if (extensionLength > Math.floor(total / 2) + 1) nameMax = Math.floor(total / 2)
      else nameMax -= extensionLength
      extensionMax = extensionLength
    }
  }
  let name = ''
  let extension = ''
  let seenDot = false
  const length = (): number => name.length + extension.length + (seenDot ? 1 : 0)
  for (let i = 0; i < text.length && length() < total; i++) {
    const c = text[i]
    if (c === '.') {
      if (name === '' && !seenDot && rules.allowLeadingDots !== true) name += '_'
      else if (i === extensionDot) seenDot = true
      else if (seenDot) {
        if (extension.length < extensionMax) extension += rules.allowMultidot === true ? '.' : '_'
      } else if (name.length < nameMax) name += rules.allowMultidot === true ? '.' : '_'
      continue
    }
    if (seenDot ? extension.length >= extensionMax : name.length >= nameMax) continue
    if (seenDot) extension += mapCharacter(c, rules)
    else name += mapCharacter(c, rules)
  }
  // The dot a file without extension gets takes the last character of a name at the limit (as genisoimage).
  if (!isDirectory && !seenDot && rules.omitPeriod !== true && name.length >= total - 1) name = name.slice(0, -1)
  if (name === '' && extension === '') name = '_'
  return { name, extension }
}

/** One character of a name below level 4 (see mappedBase). */
function mapCharacter (c: string, rules: IsoNameRules): string {
  if (c.charCodeAt(0) > 0x7e) return '_'
  const letter = rules.allowLowercase === true ? c : c.toUpperCase()
  if (rules.relaxed === true) return letter === '/' ? '_' : letter
  if (/^[A-Za-z0-9_]$/.test(letter)) return letter
  if ((c === '#' || c === '~' || c === '-') && rules.keepDosCharacters === true) return c
  return '_'
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

function nameLimit (base: IsoIdentifier, isDirectory: boolean, level: InterchangeLevel, rules: IsoNameRules): number {
  if (level === 4) return LEVEL4_MAX_BYTES - (base.extension === '' ? 0 : Buffer.byteLength(base.extension) + 1)
  if (level === 1 && rules.fullNames !== true) return 8
  const dot = base.extension !== '' || (!isDirectory && rules.omitPeriod !== true) ? 1 : 0
  return nameLength(rules) - dot - base.extension.length
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
