import { recordDateFromMs, volumeDateFromMs } from '../codec/datetime'
import {
  makeLocation, makeNM, makePN, makePX, makeRE, makeRR, makeSL, makeTF, makeZF, NameFlags,
  RockRidgeFieldFlags, RRIP_IDENTIFIERS, symlinkComponents, SymlinkFlags, type RockRidgeVersion, type SymlinkComponent, type ZisofsInfo
} from '../codec/rock-ridge'
import { makeER, makeSP, type SuspEntry } from '../codec/susp'
import { XA_RECORD_SIZE } from '../codec/xa'
import type { Inode } from '../model/inode'

/*
 * The Rock Ridge entries of one directory record, built from the model. LBAs (CL, PL) are parameters so
 * the layout pass can size records before extents are known and the writer can fill them in after.
 */

const RRIP_1991A = {
  identifier: RRIP_IDENTIFIERS['1.09'],
  descriptor: 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS',
  source: 'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.'
}

/**
 * The ER entry each RRIP version registers, as the writers record it. RRIP 1.10 registers RRIP_1991A
 * like 1.09 (xorriso -compliance old_rr, pycdlib-genisoimage -rrip110 and schily mkisofs -rrip110 all
 * write it so; IEEE_P1282 is the draft name 1.12 went by); it differs from 1.09 in writing no RR entry.
 */
const EXTENSION: Record<RockRidgeVersion, { identifier: string, descriptor: string, source: string }> = {
  '1.09': RRIP_1991A,
  '1.10': RRIP_1991A,
  '1.12': {
    identifier: RRIP_IDENTIFIERS['1.12'],
    descriptor: 'THE IEEE 1282 PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS.',
    source: 'PLEASE CONTACT THE IEEE STANDARDS DEPARTMENT, PISCATAWAY, NJ, USA FOR THE 1282 SPECIFICATION.'
  }
}

/** NM and SL content per entry: SUSP entries are at most 255 bytes (a length byte). */
const MAX_ENTRY_CONTENT = 250
/** An SL component has a one-byte length, and must fit an entry with its two header bytes. */
const MAX_COMPONENT = 248

export type RecordRole =
  | { kind: 'self', root: boolean }
  | { kind: 'parent' }
  | { kind: 'entry', name: string }
  /** RRIP 4.1.5.1: the record a relocated directory leaves at its logical place. */
  | { kind: 'placeholder', name: string, childLba: number }
  /** RRIP 4.1.5.3: the relocated directory's record in the relocation directory. */
  | { kind: 'relocated', name: string }

export interface RockRidgeContext {
  version: RockRidgeVersion
  /** The link count to record (files: names in the ISO9660 tree; directories: 2 + subdirectories). */
  links: number
  /** PX records a serial number whatever the version (layout.ts needsSerials). */
  serials?: boolean
  /** For a relocated directory's ".." record: its logical parent (RRIP 4.1.5.2 PL). */
  parentLba?: number
  zisofs?: ZisofsInfo
  /** Entries read from the image that this code does not interpret, written back unchanged (the root's own: its AL). */
  foreign?: readonly SuspEntry[]
  /** The image has CD-XA records before the SUSP entries. */
  xa?: boolean
}

export function rockRidgeEntries (inode: Inode, role: RecordRole, context: RockRidgeContext): SuspEntry[] {
  const entries: SuspEntry[] = []
  // With XA records the SP skip length covers them, as genisoimage -XA -R writes (and Linux expects).
  if (role.kind === 'self' && role.root) entries.push(makeSP(context.xa === true ? XA_RECORD_SIZE : 0))
  let fields = 0
  const rrAt = entries.length
  if (context.version === '1.09') entries.push(makeRR(0))
  const add = (flag: number, ...list: SuspEntry[]): void => {
    fields |= flag
    entries.push(...list)
  }
  add(RockRidgeFieldFlags.PX, makePX({
    mode: inode.mode,
    links: context.links,
    uid: inode.uid,
    gid: inode.gid,
    serial: context.version === '1.12' || context.serials === true ? inode.ino : undefined
  }))
  const { mtimeMs, atimeMs, ctimeMs } = inode.times
  // The short form (ECMA-119 9.1.5, what genisoimage and xorriso write) keeps whole seconds; the long one
  // (8.4.26.1) hundredths, so it is written where the modification time, which make, rsync and backups
  // compare, has hundredths to keep (a change through the mount: a write, touch, cp -a from a file system
  // with finer times); access and change times alone are cut to the second instead. Old readers misread
  // the long form: xorriso, pycdlib and fuseiso read it, but Linux only since its 2025 fix "isofs: fix
  // Y2038 and Y2156 issues in Rock Ridge TF entry" (before, garbage times) and libarchive (bsdtar) a month
  // late before 3.7.5 (its pull request 2260).
  const longForm = Math.floor(mtimeMs / 10) % 100 !== 0
  const date = longForm ? volumeDateFromMs : recordDateFromMs
  add(RockRidgeFieldFlags.TF, makeTF({
    longForm,
    stamps: { modify: date(mtimeMs), access: date(atimeMs), attributes: date(ctimeMs) }
  }))
  if (inode.kind === 'char-device' || inode.kind === 'block-device') add(RockRidgeFieldFlags.PN, makePN(splitDevice(inode.rdev)))
  if ('name' in role) add(RockRidgeFieldFlags.NM, ...nameEntries(role.name))
  if (inode.symlinkTarget !== undefined && role.kind === 'entry') add(RockRidgeFieldFlags.SL, ...symlinkEntries(inode.symlinkTarget))
  if (role.kind === 'placeholder') add(RockRidgeFieldFlags.CL, makeLocation('CL', role.childLba))
  if (role.kind === 'parent' && context.parentLba !== undefined) add(RockRidgeFieldFlags.PL, makeLocation('PL', context.parentLba))
  if (role.kind === 'relocated') add(RockRidgeFieldFlags.RE, makeRE())
  if (context.zisofs !== undefined && role.kind === 'entry') entries.push(makeZF(context.zisofs))
  if (role.kind === 'entry' && context.foreign !== undefined) entries.push(...context.foreign)
  if (context.version === '1.09') entries[rrAt] = makeRR(fields)
  if (role.kind === 'self' && role.root) {
    entries.push(makeER({ version: 1, ...EXTENSION[context.version] }))
    // The root's own attributes (xorriso's "isofs.ca") follow its ER, as xorriso writes them.
    if (context.foreign !== undefined) entries.push(...context.foreign)
  }
  return entries
}

/** RRIP 4.1.4: a name longer than one entry holds continues in the next NM (CONTINUE flag). */
function nameEntries (name: string): SuspEntry[] {
  const bytes = Buffer.from(name, 'utf8')
  const entries: SuspEntry[] = []
  for (let at = 0; at < bytes.length || entries.length === 0; at += MAX_ENTRY_CONTENT) {
    const more = at + MAX_ENTRY_CONTENT < bytes.length
    entries.push(makeNM({ flags: more ? NameFlags.CONTINUE : 0, content: bytes.subarray(at, at + MAX_ENTRY_CONTENT) }))
  }
  return entries
}

/**
 * RRIP 4.1.3: the target as components, encoded as genisoimage and xorriso do (codec symlinkComponents:
 * "/" and every "//" as ROOT, "." CURRENT, ".." PARENT, long parts continued); the components are spread
 * over as many SL entries as they need, chained with the SL CONTINUE flag.
 */
export function symlinkEntries (target: string): SuspEntry[] {
  const components = symlinkComponents(Buffer.from(target, 'utf8'), MAX_COMPONENT)
  const entries: SuspEntry[] = []
  let current: SymlinkComponent[] = []
  let size = 1
  for (const c of components) {
    if (size + 2 + c.content.length > MAX_ENTRY_CONTENT && current.length > 0) {
      entries.push(makeSL({ flags: SymlinkFlags.CONTINUE, components: current }))
      current = []
      size = 1
    }
    current.push(c)
    size += 2 + c.content.length
  }
  entries.push(makeSL({ flags: 0, components: current }))
  return entries
}

/**
 * glibc dev_t to RRIP PN's halves the way genisoimage and libisofs write them: the upper and lower 32 bits.
 * libisofs reads them back as one 64-bit dev_t; Linux (fs/isofs/rock.c) reads a zero high half with bits
 * above the minor as major << 8 | minor. Both then agree for every device with major and minor below 256
 * (writing high = major, low = minor instead, libisofs and xorriso show 1,3 as 0,1048579).
 */
function splitDevice (rdev: number): { high: number, low: number } {
  return { high: Math.floor(rdev / 2 ** 32), low: rdev % 2 ** 32 }
}
