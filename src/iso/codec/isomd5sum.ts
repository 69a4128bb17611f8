/*
 * The media checksum that isomd5sum's implantisomd5 records for installers' "check media" (Fedora, RHEL,
 * anaconda's rd.live.check; checked by checkisomd5): text in the primary volume descriptor's
 * application-use field (ECMA-119 8.4.32: PVD bytes 883 to 1394), padded with spaces:
 *
 *   ISO MD5SUM = <32 hex>;SKIPSECTORS = <n>;RHLISOSTATUS=<n>;FRAGMENT SUMS = <60 hex>;FRAGMENT COUNT = <n>;
 *   THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!
 *
 * (one line in the field). checkisomd5 accepts the keys in any order and needs ISO MD5SUM and SKIPSECTORS;
 * the others default to what implantisomd5 writes. What the sums cover is in checksum/implanted-md5.ts.
 */

/** ECMA-119 8.4.32: where the application-use field lies in the primary descriptor, and its size. */
export const APPLICATION_USE_OFFSET = 883
export const APPLICATION_USE_SIZE = 512
/** isomd5sum's FRAGMENT_SUM_SIZE: characters of all fragment sums together; the count must divide it. */
export const FRAGMENT_SUMS_LENGTH = 60

export interface ImplantedMd5 {
  /** MD5 of the volume as implantisomd5 computes it, 32 lower-case hex digits. */
  md5: string
  /** Sectors at the volume's end left out of the sums (implantisomd5: 15, for drives that misread them). */
  skipSectors: number
  /** RHLISOSTATUS: implantisomd5's --supported-iso flag (0 or 1). */
  supported: number
  /** One hex digit per digest byte, FRAGMENT_SUMS_LENGTH / fragmentCount per fragment. */
  fragmentSums: string
  fragmentCount: number
}

const TRAILER = 'THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!'

/** The checksum an application-use field holds, or undefined when it holds none (checkisomd5's "NA"). */
export function parseImplantedMd5 (field: Buffer): ImplantedMd5 | undefined {
  const text = field.toString('latin1', 0, Math.min(field.length, APPLICATION_USE_SIZE - 1))
  const values = new Map<string, string>()
  for (const part of text.split(';')) {
    const m = /^(ISO MD5SUM = |SKIPSECTORS = |RHLISOSTATUS=|FRAGMENT SUMS = |FRAGMENT COUNT = )(.*)$/s.exec(part)
    if (m !== null && !values.has(m[1])) values.set(m[1], m[2])
  }
  const md5 = values.get('ISO MD5SUM = ')
  const skip = integer(values.get('SKIPSECTORS = '))
  if (md5 === undefined || md5.length < 32 || skip === undefined) return undefined
  return {
    md5: md5.slice(0, 32),
    skipSectors: skip,
    supported: integer(values.get('RHLISOSTATUS=')) ?? 0,
    fragmentSums: (values.get('FRAGMENT SUMS = ') ?? '').slice(0, FRAGMENT_SUMS_LENGTH),
    fragmentCount: integer(values.get('FRAGMENT COUNT = ')) ?? 20
  }
}

/** The field as implantisomd5 writes it: its key order, its closing sentence, spaces after. */
export function serializeImplantedMd5 (value: ImplantedMd5): Buffer {
  const field = Buffer.alloc(APPLICATION_USE_SIZE, 0x20)
  const text = `ISO MD5SUM = ${value.md5};SKIPSECTORS = ${value.skipSectors};RHLISOSTATUS=${value.supported};` +
    `FRAGMENT SUMS = ${value.fragmentSums};FRAGMENT COUNT = ${value.fragmentCount};${TRAILER}`
  // implantisomd5 refuses text reaching the field's last byte (writeAppData: loc + len >= APPDATA_SIZE).
  if (text.length >= APPLICATION_USE_SIZE) throw new RangeError(`implanted MD5 text of ${text.length} bytes does not fit the application-use field`)
  field.write(text, 0, 'latin1')
  return field
}

/** A decimal number as strtol reads the whole value; undefined for anything else. */
function integer (value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*[+-]?\d+$/.test(value)) return undefined
  return Number(value)
}
