import { InvalidInputError } from '../errors'
import { parseNamespace, type Namespace } from '../iso/namespace'

export type CommitMode = 'auto' | 'inplace' | 'append' | 'remaster' | 'never'

/**
 * Mount options. Names follow Linux isofs where the meaning is the same (norock, nojoliet, uid=, gid=,
 * mode=, dmode=, overriderockperms, check=, session=, hide, showassoc); namespace=, noudf, commit=, userwrite and
 * ro are ours. What the owner and permission options show, and what changes record: vfs/attribute-view.ts.
 */
export interface MountOptions {
  namespace?: Namespace
  norock: boolean
  nojoliet: boolean
  /** Ignore the UDF file system of a bridge image. */
  noudf: boolean
  /** Drop an HFS+ tree that shares the files' data (grub-mkrescue's, for Macs) instead of staying read-only. */
  nohfsplus: boolean
  /** The owner shown for every entry, Rock Ridge or not (isofs `uid=`). */
  uid?: number
  gid?: number
  /** Permission bits for files whose image records none (no Rock Ridge), as isofs `mode=`. */
  mode?: number
  /** The same for directories (isofs `dmode=`). */
  dmode?: number
  /** mode= and dmode= apply to every file and directory, Rock Ridge or not (isofs `overriderockperms`). */
  overriderockperms: boolean
  /** Every entry shows as the mounting user's, with the owner's write permission (ours). */
  userwrite: boolean
  check: 'relaxed' | 'strict'
  session?: number
  hide: boolean
  showassoc: boolean
  ro: boolean
  commit: CommitMode
  allowOther: boolean
  /** Mount over a directory that is not empty (libfuse's `nonempty`). */
  nonempty: boolean
  /** macOS: let Finder write `._*` and `.DS_Store` files (`appledouble`) and com.apple.* attributes (`applexattr`). */
  appleDouble: boolean
  appleXattr: boolean
}

export const DEFAULT_MOUNT_OPTIONS: MountOptions = {
  norock: false,
  nojoliet: false,
  noudf: false,
  nohfsplus: false,
  overriderockperms: false,
  userwrite: false,
  check: 'relaxed',
  hide: false,
  showassoc: false,
  ro: false,
  commit: 'auto',
  allowOther: false,
  nonempty: false,
  appleDouble: false,
  appleXattr: false
}

/** Generic mount(8) options that mean nothing to an image file system, accepted so fstab lines work. */
const IGNORED = new Set(['rw', 'defaults', 'nosuid', 'suid', 'nodev', 'dev', 'exec', 'noexec', 'atime', 'noatime',
  'relatime', 'norelatime', 'nodiratime', 'auto', 'noauto', 'user', 'nouser', 'users', '_netdev', 'nofail'])

/** Parses "-o" option strings ("ro,namespace=joliet,uid=1000"); several -o flags may be given. */
export function parseMountOptions (specs: readonly string[]): MountOptions {
  const options: MountOptions = { ...DEFAULT_MOUNT_OPTIONS }
  for (const spec of specs) {
    for (const item of spec.split(',').map(s => s.trim()).filter(s => s !== '')) {
      const eq = item.indexOf('=')
      const key = eq === -1 ? item : item.slice(0, eq)
      const value = eq === -1 ? undefined : item.slice(eq + 1)
      applyOption(options, key, value)
    }
  }
  return options
}

function applyOption (options: MountOptions, key: string, value: string | undefined): void {
  const flag = (): true => {
    if (value !== undefined) throw bad(key, `takes no value`)
    return true
  }
  const required = (): string => {
    if (value === undefined || value === '') throw bad(key, 'needs a value')
    return value
  }
  switch (key) {
    case 'namespace': options.namespace = parseNamespace(required()); break
    case 'norock': options.norock = flag(); break
    case 'nojoliet': options.nojoliet = flag(); break
    case 'noudf': options.noudf = flag(); break
    case 'nohfsplus': options.nohfsplus = flag(); break
    case 'uid': options.uid = integer(key, required(), 10); break
    case 'gid': options.gid = integer(key, required(), 10); break
    case 'mode': options.mode = integer(key, required(), 8) & 0o7777; break
    case 'dmode': options.dmode = integer(key, required(), 8) & 0o7777; break
    case 'overriderockperms': options.overriderockperms = flag(); break
    case 'userwrite': options.userwrite = flag(); break
    case 'check': {
      const v = required()
      // isofs also accepts the one-letter forms.
      if (v === 'relaxed' || v === 'r') options.check = 'relaxed'
      else if (v === 'strict' || v === 's') options.check = 'strict'
      else throw bad(key, `must be relaxed or strict, not "${v}"`)
      break
    }
    case 'session': options.session = integer(key, required(), 10); break
    case 'hide': options.hide = flag(); break
    case 'showassoc': options.showassoc = flag(); break
    case 'unhide': options.showassoc = flag(); break
    case 'ro': options.ro = flag(); break
    case 'commit': {
      const v = required()
      if (!['auto', 'inplace', 'append', 'remaster', 'never'].includes(v)) {
        throw bad(key, `must be auto, inplace, append, remaster or never, not "${v}"`)
      }
      options.commit = v as CommitMode
      break
    }
    case 'allow_other': options.allowOther = flag(); break
    case 'nonempty': options.nonempty = flag(); break
    case 'appledouble': options.appleDouble = flag(); break
    case 'applexattr': options.appleXattr = flag(); break
    default:
      if (IGNORED.has(key) && value === undefined) return
      throw new InvalidInputError('BAD_ARGUMENT', `unknown mount option "${key}"`)
  }
}

function integer (key: string, text: string, radix: 8 | 10): number {
  const pattern = radix === 8 ? /^0?[0-7]+$/ : /^\d+$/
  if (!pattern.test(text)) throw bad(key, `"${text}" is not a${radix === 8 ? 'n octal' : ''} number`)
  return parseInt(text, radix)
}

function bad (key: string, detail: string): InvalidInputError {
  return new InvalidInputError('BAD_ARGUMENT', `mount option ${key} ${detail}`)
}
