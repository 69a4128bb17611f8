import { InvalidInputError } from '../../errors'
import { encodeDchars } from '../codec/udf/cs0'

/*
 * UDF names (OSTA UDF 2.3.4.4, ECMA-167 4/14.4.7): any characters but "/" and NUL, recorded as OSTA CS0
 * d-characters in at most 255 bytes with the compression ID: 254 Latin-1 characters, or 127 others.
 */

export const UDF_IDENTIFIER_MAX_BYTES = 255

/** The name's d-characters, or an error saying why it cannot be a UDF file identifier. */
export function udfIdentifierOf (name: string): Buffer {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new InvalidInputError('BAD_NAME', `"${name}" is not a valid UDF name`)
  }
  const bytes = encodeDchars(name)
  if (bytes.length > UDF_IDENTIFIER_MAX_BYTES) {
    throw new InvalidInputError('NAME_TOO_LONG', `"${name.slice(0, 40)}…" is too long for a UDF name (${bytes.length - 1} of ${UDF_IDENTIFIER_MAX_BYTES - 1} bytes)`)
  }
  return bytes
}

export function validateUdfName (name: string): string {
  udfIdentifierOf(name)
  return name
}
