import { splitIdentifier } from './iso9660'

/*
 * Record order. ECMA-119 9.3: a directory's records are ordered by file name, then extension (each
 * compared as if padded with spaces to equal length), then version descending. Path tables (6.9.1) order
 * directories by level, then parent number, then identifier compared the same way. Joliet directories
 * are ordered by UCS-2 code units (what Windows and genisoimage do).
 */

function comparePadded (a: Buffer, b: Buffer): number {
  const length = Math.max(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = i < a.length ? a[i] : 0x20
    const y = i < b.length ? b[i] : 0x20
    if (x !== y) return x - y
  }
  return 0
}

export function compareIsoIdentifiers (a: string, b: string, aIsDirectory: boolean, bIsDirectory: boolean): number {
  // A directory identifier with a dot (genisoimage's and xorriso's "SUB.DIR") is ordered as a file name
  // and extension, as they order it; one without a dot is all name either way.
  const x = splitIdentifier(a, aIsDirectory && !a.includes('.'))
  const y = splitIdentifier(b, bIsDirectory && !b.includes('.'))
  return comparePadded(Buffer.from(x.name), Buffer.from(y.name)) ||
    comparePadded(Buffer.from(x.extension), Buffer.from(y.extension)) ||
    (y.version ?? 0) - (x.version ?? 0)
}

/** Directory identifiers (path tables, 6.9.1) have no extension or version. */
export function compareDirectoryIdentifiers (a: Buffer, b: Buffer): number {
  return comparePadded(a, b)
}

export function compareJolietNames (a: string, b: string): number {
  const x = Buffer.from(a, 'utf16le')
  const y = Buffer.from(b, 'utf16le')
  const length = Math.min(x.length, y.length)
  for (let i = 0; i < length; i += 2) {
    const d = x.readUInt16LE(i) - y.readUInt16LE(i)
    if (d !== 0) return d
  }
  return x.length - y.length
}
