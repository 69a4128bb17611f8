import { InvalidImageError, type ImageLocation } from '../../errors'

/**
 * Where parsers report what they forgave. Reading is forgiving (a warning, then the most plausible value);
 * in strict mode (`check=strict`) every warning is an InvalidImageError instead.
 */
export interface Diagnostics {
  readonly strict: boolean
  warn (where: ImageLocation, detail: string): void
}

/** What was found irregular while reading one part of an image (a directory): kept with that part. */
export interface IrregularityHolder {
  irregularities?: string[]
}

/** Irregularities kept per part: the first few say what; a commit refusing the part names the first. */
const KEPT_PER_PART = 8

/**
 * Keeps the first warnings (a broken image can produce millions) and counts the rest. A structure read
 * twice (the root's "." record is read for the extensions and for the root's attributes) warns once.
 *
 * A warning raised while one directory was read (through `scope`) is also kept with that directory: a
 * commit that rewrites it, or patches one of its records, refuses it, while changes elsewhere go ahead.
 * Every other warning is image-wide (descriptors, boot catalog, system area, path tables: structures every
 * commit rewrites or relies on) and refuses every commit.
 */
export class WarningLog implements Diagnostics {
  readonly messages: string[] = []
  dropped = 0
  /** The first image-wide warnings (not raised by a directory's reading), and how many there were. */
  readonly imageWide: string[] = []
  imageWideCount = 0
  private readonly seen = new Set<string>()

  constructor (readonly strict = false, private readonly limit = 200) {}

  warn (where: ImageLocation, detail: string): void {
    const message = this.record(where, detail)
    if (this.imageWideCount++ < KEPT_PER_PART) this.imageWide.push(message)
  }

  /** Diagnostics for reading one part of the image: what it reports is kept in `part` too. */
  scope (part: IrregularityHolder): Diagnostics {
    return {
      strict: this.strict,
      warn: (where, detail) => {
        const message = this.record(where, detail)
        const kept = part.irregularities ??= []
        if (kept.length < KEPT_PER_PART) kept.push(message)
      }
    }
  }

  private record (where: ImageLocation, detail: string): string {
    const error = new InvalidImageError('IMAGE_STRICT', detail, where)
    if (this.strict) throw error
    const message = error.message.replace(/^invalid image: /, '')
    if (this.seen.has(message)) return message
    if (this.messages.length < this.limit) {
      this.messages.push(message)
      this.seen.add(message)
    } else {
      this.dropped++
    }
    return message
  }
}

/** For codecs used on bytes we produced ourselves, where any deviation is a bug, not a quirk. */
export const STRICT: Diagnostics = new WarningLog(true)

/**
 * Runs a parse that refuses a malformed structure (an InvalidImageError) and turns the refusal into a
 * warning that says what the reader does instead (`consequence`, e.g. "entry ignored"); returns undefined
 * then. One bad entry must not cost its neighbours (a directory, or the whole image when it is in the
 * root), which is also what Linux isofs does: it skips what it cannot parse. In strict mode the warning
 * throws, so the image is still refused; a strict-mode refusal from inside the parse passes unchanged.
 */
export function forgiving<T> (diag: Diagnostics, consequence: string, parse: () => T): T | undefined {
  try {
    return parse()
  } catch (err) {
    if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
    diag.warn(locationOf(err), `${String(err.data.detail ?? err.message)}; ${consequence}`)
    return undefined
  }
}

/** The same, for parses that read from the image (a continuation area, a relocated directory). */
export async function forgivingAsync<T> (diag: Diagnostics, consequence: string, parse: () => Promise<T>): Promise<T | undefined> {
  try {
    return await parse()
  } catch (err) {
    if (!(err instanceof InvalidImageError) || err.code === 'IMAGE_STRICT') throw err
    diag.warn(locationOf(err), `${String(err.data.detail ?? err.message)}; ${consequence}`)
    return undefined
  }
}

/** InvalidImageError keeps its location in `data` (errors.ts): the fields of ImageLocation. */
function locationOf (err: InvalidImageError): ImageLocation {
  const { structure, lba, offset, field } = err.data
  const where: ImageLocation = { structure: typeof structure === 'string' ? structure : 'image' }
  if (typeof lba === 'number') where.lba = lba
  if (typeof offset === 'number') where.offset = offset
  if (typeof field === 'string') where.field = field
  return where
}
