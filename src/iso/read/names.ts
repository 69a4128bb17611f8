/**
 * Names on disc are bytes. Rock Ridge and ISO9660:1999 names written on Linux are UTF-8 in practice; older
 * images carry Latin-1 or other 8-bit sets. Valid UTF-8 is read as UTF-8, anything else as Latin-1 so that
 * no byte is lost and every name stays distinct.
 */
export function decodeName (bytes: Buffer): string {
  // Nearly every name is ASCII: one pass to check, and no UTF-8 round trip.
  let ascii = true
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false
      break
    }
  }
  if (ascii) return bytes.toString('latin1')
  const text = bytes.toString('utf8')
  if (!text.includes('\ufffd') || Buffer.from(text, 'utf8').equals(bytes)) return text
  return bytes.toString('latin1')
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
