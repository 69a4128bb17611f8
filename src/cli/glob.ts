/** fnmatch(3)-style patterns (*, ?, [...]) as genisoimage's -m/-hide take them; "*" crosses "/" too. */
export function globToRegExp (glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end === -1) source += '\\['
      else {
        let set = glob.slice(i + 1, end)
        if (set.startsWith('!')) set = '^' + set.slice(1)
        source += `[${set.replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, m => `\\${m}`)
  }
  return new RegExp(`^${source}$`)
}

/** A predicate true when any pattern matches the name or the whole path. */
export function globMatcher (patterns: readonly string[]): (fullPath: string, name: string) => boolean {
  const regexps = patterns.map(globToRegExp)
  return (fullPath, name) => regexps.some(r => r.test(name) || r.test(fullPath))
}
