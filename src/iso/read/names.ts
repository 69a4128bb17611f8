import { isUtf8 } from 'node:buffer'

/**
 * Names on disc are bytes. Rock Ridge and ISO9660:1999 names written on Linux are UTF-8 in practice; older
 * images carry Latin-1 or other 8-bit sets. Valid UTF-8 is read as UTF-8, anything else as Latin-1 so that
 * no byte is lost and every name stays distinct.
 */
export function decodeName (bytes: Buffer): string {
  // Node's own validator: no decoding to find out, no allocation (it runs for every name read).
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1')
}

/*
 * Rock Ridge names and symlink targets that are not UTF-8 read as Latin-1, which a host path written as a
 * JavaScript string turns into UTF-8: "lat\xe9n1.txt" would be extracted as "lat\xc3\xa9n1.txt". The
 * tree loader keeps their bytes as recorded (Node.rrNameBytes, Inode.symlinkTargetBytes; only for those:
 * nearly every name is UTF-8), so extraction can create the host file under the same bytes, as bsdtar and
 * xorriso do. An edit that renames or retargets makes them stale, which `recordedBytes` detects by
 * decoding them again.
 */

/** A copy of `bytes` to keep if they are not UTF-8 (else undefined: the text says it all). */
export function nonUtf8Bytes (bytes: Buffer): Buffer | undefined {
  return isUtf8(bytes) ? undefined : Buffer.from(bytes)
}

/** The bytes `text` was read from, if it was read from non-UTF-8 bytes and is still that text; else UTF-8. */
export function recordedBytes (bytes: Buffer | undefined, text: string): Buffer {
  return bytes !== undefined && decodeName(bytes) === text ? bytes : Buffer.from(text, 'utf8')
}

/**
 * "README.TXT;1" → "README.TXT", "FOO.;1" → "FOO": how an ISO9660 or Joliet identifier reads without its
 * version. ECMA-119 7.5.1 gives every file identifier a dot, so a name without extension ends in one; Linux
 * isofs drops it too (and the ";1" of Joliet names).
 */
export function withoutVersion (identifier: string): string {
  let name = identifier.replace(/;\d*$/, '')
  if (name.endsWith('.') && name.length > 1) name = name.slice(0, -1)
  return name
}
