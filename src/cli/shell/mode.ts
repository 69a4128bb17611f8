import { InvalidInputError } from '../../errors'

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 }

/**
 * chmod(1)'s MODE: octal ("644", "0755") or symbolic clauses ("u+x", "go-w,a+r", "a=rX", "+t"), applied to
 * `current` (permission bits). A clause without a who means all ("+x" is "a+x"): there is no umask to
 * mask it with, the image is not the host's file system. X is x for directories, or where anyone has x.
 */
export function applyMode (spec: string, current: number, isDirectory: boolean): number {
  if (/^[0-7]{1,4}$/.test(spec)) return parseInt(spec, 8)
  let mode = current & 0o7777
  for (const clause of spec.split(',')) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause)
    if (m === null) throw new InvalidInputError('BAD_ARGUMENT', `chmod: invalid mode "${spec}" (octal, or [ugoa][+-=][rwxXst], comma-separated)`)
    const who = m[1] === '' ? WHO.a : [...m[1]].reduce((bits, c) => bits | WHO[c], 0)
    let bits = 0
    for (const p of m[3]) {
      if (p === 'r') bits |= 0o444
      else if (p === 'w') bits |= 0o222
      else if (p === 'x') bits |= 0o111
      else if (p === 'X') bits |= isDirectory || (mode & 0o111) !== 0 ? 0o111 : 0
      else if (p === 's') bits |= 0o6000
      else if (p === 't') bits |= 0o1000
    }
    bits &= who
    if (m[2] === '+') mode |= bits
    else if (m[2] === '-') mode &= ~bits
    // "=" clears what the who covers first; a directory keeps its set-id bits unless named (GNU chmod).
    else mode = (mode & ~(who & (isDirectory && !m[3].includes('s') ? 0o1777 : 0o7777))) | bits
  }
  return mode
}
