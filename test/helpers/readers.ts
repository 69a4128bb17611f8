import * as fs from 'node:fs'
import * as path from 'node:path'
import { PYTHON, run } from './tools'

/*
 * Readers of ISO images nobody on this project wrote, each turned into "extract into a directory" or
 * "list the names" so that tests compare what they see with the source tree.
 */

export function extractWithBsdtar (iso: string, dest: string): string {
  fs.mkdirSync(dest, { recursive: true })
  run('bsdtar', ['-xf', iso, '-C', dest])
  return dest
}

export function extractWith7z (iso: string, dest: string): string {
  fs.mkdirSync(dest, { recursive: true })
  run('7z', ['x', '-y', `-o${dest}`, iso])
  return dest
}

/** xorriso's own reader (osirrox), Rock Ridge included. */
export function extractWithXorriso (iso: string, dest: string): string {
  run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dest], { allowFailure: false })
  return dest
}

/**
 * pycdlib, through Debian's python3: every path of a namespace with type and size and content hash
 * (UDF symbolic links: type only; pycdlib does not decode their path components).
 */
export function pycdlibListing (iso: string, namespace: 'rr' | 'joliet' | 'iso' | 'udf'): Record<string, { type: string, size?: number, sha256?: string, target?: string }> {
  const script = `
import hashlib, io, json, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
ns = sys.argv[2]
key = {'rr': 'rr_path', 'joliet': 'joliet_path', 'iso': 'iso_path', 'udf': 'udf_path'}[ns]
out = {}
for dirname, dirs, files in iso.walk(**{key: '/'}):
    for d in dirs:
        out[(dirname.rstrip('/') + '/' + d).lstrip('/')] = {'type': 'dir'}
    for f in files:
        p = dirname.rstrip('/') + '/' + f
        rec = iso.get_record(**{key: p})
        entry = {'type': 'file'}
        if ns == 'rr' and rec.rock_ridge is not None and rec.rock_ridge.is_symlink():
            entry = {'type': 'symlink', 'target': rec.rock_ridge.symlink_path().decode()}
        elif ns == 'udf' and rec.is_symlink():
            entry = {'type': 'symlink'}
        else:
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, **{key: p})
            data = buf.getvalue()
            entry['size'] = len(data)
            entry['sha256'] = hashlib.sha256(data).hexdigest()
        out[p.lstrip('/')] = entry
print(json.dumps(out))
`
  const r = run(PYTHON, ['-c', script, iso, namespace])
  return JSON.parse(r.stdout)
}

/** isoinfo -l listing: the names in each directory (-R Rock Ridge, -J Joliet, none ISO9660). */
export function isoinfoNames (iso: string, flag: '-R' | '-J' | ''): string[] {
  const args = ['-l', '-i', iso]
  if (flag !== '') args.unshift(flag)
  // isoinfo converts Joliet names to a charset it is told (it knows no UTF-8): Latin-1, read as such.
  if (flag === '-J') args.unshift('-j', 'iso8859-1')
  const out = run('isoinfo', args, { encoding: flag === '-J' ? 'latin1' : 'utf8' }).stdout
  const names: string[] = []
  let dir = ''
  for (const line of out.split('\n')) {
    const header = /^Directory listing of (.*)$/.exec(line)
    if (header !== null) {
      dir = header[1]
      continue
    }
    const entry = /^.{10}\s+\d+\s+\d+\s+\d+\s+\d+\s+\w{3}\s+\d+\s+\d+\s+\[\s*\d+\s+\d+\]\s\s(.*?)\s*$/.exec(line)
    if (entry === null) continue
    let name = entry[1].replace(/ -> .*$/, '')
    if (name === '.' || name === '..') continue
    if (flag === '') name = name.replace(/;\d+$/, '').replace(/\.$/, '')
    names.push(path.posix.join(dir, name).replace(/^\//, ''))
  }
  return names.sort()
}

/** xorriso's `lsdl` of every path: permissions, owner, group, size or device, date, symlink target. */
export function xorrisoListing (iso: string): Record<string, string> {
  const out = run('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl']).stdout
  const listing: Record<string, string> = {}
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s+(\S+)\s+(\w{3}\s+\d+\s+[\d:]+)\s+'([^']*)'(?: -> '(.*)')?$/.exec(line)
    if (m !== null) listing[m[6]] = `${m[1]} ${m[2]}:${m[3]} ${m[4]} ${m[5].replace(/\s+/g, ' ')}${m[7] !== undefined ? ` -> ${m[7]}` : ''}`
  }
  return listing
}

export function isovfyErrors (iso: string): string {
  const out = run('isovfy', [iso], { allowFailure: true })
  return out.stdout + out.stderr
}

/** Mounts `iso` with fuseiso for the duration of `body`, unmounting (bounded) whatever happens. */
export async function withFuseiso (t: { teardown: (fn: () => void) => void }, iso: string, mnt: string, body: (mnt: string) => void | Promise<void>): Promise<void> {
  fs.mkdirSync(mnt, { recursive: true })
  run('fuseiso', [iso, mnt])
  const unmount = (): void => { run('fusermount', ['-u', '-z', mnt], { allowFailure: true, timeout: 10_000 }) }
  t.teardown(unmount)
  try {
    await body(mnt)
  } finally {
    unmount()
  }
}
