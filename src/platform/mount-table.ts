/**
 * The two mount tables isomount reads, as plain values: Linux's /proc/self/mountinfo and the listing the
 * BSD `mount` command prints on macOS. Parsing is kept apart from reading so both are tested on captured
 * samples on any system.
 */
export interface MountEntry {
  /** What was mounted (for a FUSE mount, its fsname: the image path). */
  source: string
  /** Where, as an absolute path. */
  target: string
  /** File system type: `fuse.isomount` on Linux, `macfuse` or `osxfuse` on macOS. */
  type: string
}

/**
 * proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue": the mount
 * point is field 5; optional fields end at a lone "-", after which come the type and the source. Spaces,
 * tabs, newlines and backslashes in paths are written as octal escapes (\040).
 */
export function parseMountinfo (text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const separator = fields.indexOf('-', 6)
    if (fields.length < 10 || separator === -1 || separator + 2 >= fields.length) continue
    entries.push({
      source: unescapeOctal(fields[separator + 2]),
      target: unescapeOctal(fields[4]),
      type: fields[separator + 1]
    })
  }
  return entries
}

function unescapeOctal (text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/**
 * macOS mount(8) prints "SOURCE on TARGET (TYPE, OPTION, ...)" with paths as they are, unescaped: a path
 * holding " on /" would make a line ambiguous, so the target is taken after the first " on /", and
 * `hasTarget` below compares whole lines instead of parsing them.
 */
export function parseBsdMount (text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const on = line.indexOf(' on /')
    const open = line.lastIndexOf(' (')
    if (on === -1 || open < on || !line.endsWith(')')) continue
    entries.push({
      source: line.slice(0, on),
      target: line.slice(on + 4, open),
      type: line.slice(open + 2, -1).split(',')[0].trim()
    })
  }
  return entries
}

/** Whether the BSD listing has a mount at exactly `target`, whatever its source holds. */
export function bsdMountHasTarget (text: string, target: string): boolean {
  return text.split('\n').some(line => line.includes(` on ${target} (`) && line.endsWith(')'))
}
