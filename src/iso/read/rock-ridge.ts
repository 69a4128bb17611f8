import type { ImageLocation } from '../../errors'
import { forgiving, type Diagnostics } from '../codec/diagnostics'
import { recordDateToMs, volumeDateToMs, type RecordDate, type VolumeDate } from '../codec/datetime'
import {
  ComponentFlags, NameFlags, parseLocation, parseNM, parsePN, parsePX, parseSF, parseSL, parseTF, parseZF,
  type PosixAttributes, type SparseFile, type SymlinkComponent, type TimeStamps, type ZisofsInfo
} from '../codec/rock-ridge'
import type { SuspEntry } from '../codec/susp'
import { decodeName } from './names'

/** What the Rock Ridge entries of one record say, assembled across NM/SL continuations. */
export interface RockRidgeInfo {
  name?: string
  /** The name's bytes as recorded (NM contents joined). */
  nameBytes?: Buffer
  posix?: PosixAttributes
  /** Device number from PN (RRIP 4.1.2), encoded as glibc's makedev(major, minor). */
  device?: number
  symlink?: string
  symlinkBytes?: Buffer
  times?: { mtimeMs?: number, atimeMs?: number, ctimeMs?: number, birthtimeMs?: number }
  /** CL: this record stands for a directory relocated to that LBA (RRIP 4.1.5.1). */
  childLink?: number
  /** PL: the relocated directory's real parent (RRIP 4.1.5.2). */
  parentLink?: number
  /** RE: this is a relocated directory; it belongs at its CL record's place (RRIP 4.1.5.3). */
  relocated: boolean
  zisofs?: ZisofsInfo
  /** SF (RRIP 4.1.7): recorded, not interpreted (see tree-loader.ts). */
  sparse?: SparseFile
  /** Entries neither SUSP nor RRIP interpret here, kept for writing back. */
  foreign: SuspEntry[]
}

/** SUSP's own entries (SUSP 5): meaningful in the root "." record, dropped elsewhere. */
const SUSP_FRAMEWORK = new Set(['SP', 'ST', 'ER', 'ES', 'PD', 'CE'])
/** RRIP 1.09's RR entry only lists which RRIP entries follow; it carries nothing else. */
const IGNORED = new Set(['RR'])

export function interpretRockRidge (entries: readonly SuspEntry[], diag: Diagnostics, where: ImageLocation): RockRidgeInfo {
  const info: RockRidgeInfo = { relocated: false, foreign: [] }
  const nameParts: Buffer[] = []
  let nameSpecial = false
  let nameBroken = false
  let nameContinues = false
  const components: SymlinkComponent[] = []
  let sawSymlink = false
  const interpret = (entry: SuspEntry): void => {
    switch (entry.signature) {
      case 'NM': {
        const nm = parseNM(entry, where)
        // CURRENT/PARENT name "." and ".."; HOST names the local host: none is a usable name (RRIP 4.1.4).
        if ((nm.flags & (NameFlags.CURRENT | NameFlags.PARENT | NameFlags.HOST)) !== 0) nameSpecial = true
        else nameParts.push(nm.content)
        nameContinues = (nm.flags & NameFlags.CONTINUE) !== 0
        break
      }
      case 'PX': info.posix = parsePX(entry, diag, where); break
      case 'PN': {
        const pn = parsePN(entry, diag, where)
        info.device = deviceNumber(pn.high, pn.low)
        break
      }
      case 'SL':
        sawSymlink = true
        components.push(...parseSL(entry, diag, where).components)
        break
      case 'TF': info.times = timesOf(parseTF(entry, diag, where)); break
      case 'CL': info.childLink = parseLocation(entry, diag, where); break
      case 'PL': info.parentLink = parseLocation(entry, diag, where); break
      case 'RE': info.relocated = true; break
      case 'ZF':
      case 'Z2': info.zisofs = parseZF(entry, diag, where); break
      case 'SF': info.sparse = parseSF(entry, diag, where); break
      default:
        // Kept past this call: copied out of the directory buffer it is a view into.
        if (!SUSP_FRAMEWORK.has(entry.signature) && !IGNORED.has(entry.signature)) info.foreign.push({ ...entry, data: Buffer.from(entry.data) })
    }
  }
  for (const entry of entries) {
    // A malformed entry (too short for its fields) costs only itself: the record's other entries, and the
    // directory's other records, still read (Linux isofs skips such entries too).
    const done = forgiving(diag, 'entry ignored', () => { interpret(entry); return true })
    if (done === undefined && entry.signature === 'NM') nameBroken = true
    if (done === undefined && entry.signature === 'SL') sawSymlink = true
  }
  // Part of a name is worse than none: a broken NM chain, or one whose last part says more follows (the
  // rest was in a continuation area that could not be read), falls back to the ISO9660 identifier.
  if (nameContinues) diag.warn({ ...where, field: 'NM' }, 'name continues in an entry that is missing; the ISO9660 name is used')
  if (nameParts.length > 0 && !nameSpecial && !nameBroken && !nameContinues) {
    info.nameBytes = Buffer.concat(nameParts)
    info.name = decodeName(info.nameBytes)
  }
  if (sawSymlink) {
    info.symlinkBytes = symlinkTargetBytes(components)
    info.symlink = decodeName(info.symlinkBytes)
  }
  return info
}

/**
 * RRIP 4.1.3.1, read as Linux does (fs/isofs/rock.c, get_symlink_chunk): each component adds its text
 * (ROOT "/", CURRENT ".", PARENT "..", otherwise its bytes), and a "/" follows every component but the last
 * unless it is ROOT or has the CONTINUE flag. ROOT is thus "/" wherever it stands: genisoimage and xorriso
 * record `a//b` as "a", ROOT, "b" and `//net/x` as ROOT, ROOT, "net", "x", which Linux, isoinfo and xorriso
 * read back as written (treating ROOT as "start again at /" made them "/b" and "/net/x"). VOLROOT and HOST
 * have no portable meaning: Linux adds no text for them, only the separator, and so does this.
 */
export function symlinkTarget (components: readonly SymlinkComponent[]): string {
  return decodeName(symlinkTargetBytes(components))
}

/** The target's bytes, decoded as a whole: a multi-byte character may be split over CONTINUE components. */
export function symlinkTargetBytes (components: readonly SymlinkComponent[]): Buffer {
  const parts: Buffer[] = []
  components.forEach((c, i) => {
    const root = (c.flags & ComponentFlags.ROOT) !== 0
    if (root) parts.push(SLASH)
    else if ((c.flags & ComponentFlags.CURRENT) !== 0) parts.push(DOT)
    else if ((c.flags & ComponentFlags.PARENT) !== 0) parts.push(DOT_DOT)
    else if ((c.flags & (ComponentFlags.VOLROOT | ComponentFlags.HOST)) === 0) parts.push(c.content)
    if (!root && (c.flags & ComponentFlags.CONTINUE) === 0 && i < components.length - 1) parts.push(SLASH)
  })
  return Buffer.concat(parts)
}

const SLASH = Buffer.from('/')
const DOT = Buffer.from('.')
const DOT_DOT = Buffer.from('..')

function timesOf (tf: TimeStamps): NonNullable<RockRidgeInfo['times']> {
  const ms = (date: RecordDate | VolumeDate | undefined): number | undefined => {
    if (date === undefined) return undefined
    return 'digits' in date ? volumeDateToMs(date) : recordDateToMs(date)
  }
  return {
    mtimeMs: ms(tf.stamps.modify),
    atimeMs: ms(tf.stamps.access),
    ctimeMs: ms(tf.stamps.attributes),
    birthtimeMs: ms(tf.stamps.creation)
  }
}

/**
 * RRIP 4.1.2 stores a device as two 32-bit halves, and writers disagree on what goes in them:
 * genisoimage writes major and minor (high = major, low = minor); libisofs (xorriso) writes the two halves
 * of glibc's 64-bit dev_t, whose high half is 0 for every Linux device (majors have 12 bits). Linux
 * (fs/isofs/rock.c) tells them apart the same way as here: a zero high half with bits above the low byte
 * is a whole device number in the low half, anything else is high = major, low = minor. Linux decodes that
 * whole number as old 8:8 (MKDEV(low >> 8, low & 0xff)); this reads it as glibc's 32-bit encoding, which
 * is the same for every number below 2^20 and is what libisofs wrote above that: xorriso's c 300,70000
 * (low 0x11112c70) is 300,70000 here and in xorriso, where Linux's 8:8 reading overflows into 300,112.
 */
export function deviceNumber (high: number, low: number): number {
  if (high === 0 && (low & ~0xff) !== 0) {
    return makedev(((low >>> 8) & 0xfff), (low & 0xff) | ((low >>> 12) & 0xfff00))
  }
  return makedev(high, low)
}

/** glibc's makedev(): the dev_t encoding st_rdev uses. */
export function makedev (major: number, minor: number): number {
  return ((major & 0xfff) * 256) + (minor & 0xff) + ((minor & 0xffffff00) >>> 0) * 4096 + (Math.floor(major / 4096) * 2 ** 32 * 4096)
}
