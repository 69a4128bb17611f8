import { InvalidImageError, type ImageLocation } from '../../errors'

/**
 * Where parsers report what they forgave. Reading is forgiving (a warning, then the most plausible value);
 * in strict mode (`check=strict`) every warning is an InvalidImageError instead.
 */
export interface Diagnostics {
  readonly strict: boolean
  warn (where: ImageLocation, detail: string): void
}

/** Keeps the first warnings (a broken image can produce millions) and counts the rest. */
export class WarningLog implements Diagnostics {
  readonly messages: string[] = []
  dropped = 0

  constructor (readonly strict = false, private readonly limit = 200) {}

  warn (where: ImageLocation, detail: string): void {
    const error = new InvalidImageError('IMAGE_STRICT', detail, where)
    if (this.strict) throw error
    if (this.messages.length < this.limit) this.messages.push(error.message.replace(/^invalid image: /, ''))
    else this.dropped++
  }
}

/** For codecs used on bytes we produced ourselves, where any deviation is a bug, not a quirk. */
export const STRICT: Diagnostics = new WarningLog(true)
