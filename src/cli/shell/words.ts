import { InvalidInputError } from '../../errors'

/*
 * The shell's command lines, split as sh splits words (a subset: no expansion): blanks separate words,
 * '…' quotes literally, "…" quotes with \" and \\ escaped, a backslash outside quotes escapes the next
 * character, and # starts a comment at the beginning of a word (so scripts can carry comments).
 */

export interface Word {
  /** The word with quotes and escapes removed. */
  text: string
  /** Where it starts and ends in the line (quotes included). */
  start: number
  end: number
  /** Quotes or backslashes were used: its raw spelling is not its text. */
  quoted: boolean
}

export interface SplitLine {
  words: Word[]
  /** The quote still open at the end of the line (only when splitting a partial line for completion). */
  open?: '"' | "'"
}

export function splitWords (line: string, partial = false): SplitLine {
  const words: Word[] = []
  let i = 0
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++
    if (i >= line.length) break
    if (line[i] === '#') break
    const start = i
    let text = ''
    let quoted = false
    let open: '"' | "'" | undefined
    while (i < line.length && (open !== undefined || !/\s/.test(line[i]))) {
      const c = line[i]
      if (open === "'") {
        if (c === "'") open = undefined
        else text += c
        i++
      } else if (open === '"') {
        if (c === '"') open = undefined
        else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) text += line[++i]
        else text += c
        i++
      } else if (c === "'" || c === '"') {
        open = c
        quoted = true
        i++
      } else if (c === '\\') {
        quoted = true
        if (i + 1 < line.length) text += line[i + 1]
        i += 2
      } else {
        text += c
        i++
      }
    }
    words.push({ text, start, end: Math.min(i, line.length), quoted })
    if (open !== undefined) {
      if (!partial) throw new InvalidInputError('BAD_ARGUMENT', `unterminated ${open} quote`)
      return { words, open }
    }
  }
  return { words }
}

/**
 * `text` spelled so that splitWords gives it back as one word: as is when it needs nothing, else with
 * the characters the splitter treats specially escaped (what tab completion inserts for "My Files").
 */
export function quoteWord (text: string): string {
  return text.replace(/[\s'"\\#]/g, c => `\\${c}`)
}

/**
 * The words of a command with at most `max` arguments: extra unquoted words are taken as one last
 * argument, spaces and all (so `cd My Documents` goes to "My Documents"); a quoted word among them
 * means the user quoted on purpose, and too many arguments is an error.
 */
export function argumentsOf (line: string, words: Word[], max: number, command: string): string[] {
  if (words.length <= max) return words.map(w => w.text)
  const rest = words.slice(max - 1)
  if (max === 0 || rest.some(w => w.quoted)) {
    throw new InvalidInputError('BAD_ARGUMENT', `${command}: too many arguments (quote a path with spaces, or see help ${command})`)
  }
  return [...words.slice(0, max - 1).map(w => w.text), line.slice(rest[0].start, rest[rest.length - 1].end)]
}
