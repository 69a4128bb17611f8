import { InvalidInputError } from '../errors'
import { S_IFDIR, S_IFMT } from '../iso/model/inode'
import type { Stat } from '../iso/model/stat'
import { S_ISGID } from './attribute-view'
import type { Caller } from './vfs'

/*
 * Permission checks for callers in process, as Linux makes them (fs/namei.c generic_permission, may_delete;
 * fs/attr.c setattr_prepare). A mount does not use these: the kernel checks every request itself against
 * the attributes we show (default_permissions), knowing the caller's groups and capabilities, which a
 * FUSE request does not carry. Root (uid 0) stands for a caller with every capability.
 */

export const MAY_EXEC = 1
export const MAY_WRITE = 2
export const MAY_READ = 4
const S_ISVTX = 0o1000

export function inGroup (caller: Caller, gid: number): boolean {
  return caller.gid === gid || (caller.groups?.includes(gid) ?? false)
}

/** generic_permission: the owner's, the group's or the others' bits; root may do all but run a file no one may run. */
export function permits (stat: Stat, caller: Caller, want: number): boolean {
  if (caller.uid === 0) return (want & MAY_EXEC) === 0 || (stat.mode & S_IFMT) === S_IFDIR || (stat.mode & 0o111) !== 0
  const bits = caller.uid === stat.uid ? stat.mode >> 6 : inGroup(caller, stat.gid) ? stat.mode >> 3 : stat.mode
  return (bits & want) === want
}

export function requirePermission (stat: Stat, caller: Caller, want: number, what: string): void {
  if (!permits(stat, caller, want)) throw new InvalidInputError('ACCESS_DENIED', `${what}: permission denied`)
}

/** chmod, utimens with given times, and the like: only the owner (or root). */
export function requireOwner (stat: Stat, caller: Caller, what: string): void {
  if (caller.uid !== 0 && caller.uid !== stat.uid) throw new InvalidInputError('NOT_PERMITTED', `${what}: operation not permitted`)
}

/** may_delete: write and search permission on the directory; in a sticky one, only the owner of the entry or the directory. */
export function requireRemovable (dir: Stat, entry: Stat, caller: Caller, what: string): void {
  requirePermission(dir, caller, MAY_WRITE | MAY_EXEC, what)
  if ((dir.mode & S_ISVTX) !== 0 && caller.uid !== 0 && caller.uid !== entry.uid && caller.uid !== dir.uid) {
    throw new InvalidInputError('NOT_PERMITTED', `${what}: operation not permitted (sticky directory)`)
  }
}

/** setattr_prepare for chmod: the owner's, and without the set-group-ID bit unless the caller is in the group. */
export function permittedMode (stat: Stat, caller: Caller, mode: number, what: string): number {
  requireOwner(stat, caller, what)
  return caller.uid === 0 || inGroup(caller, stat.gid) ? mode : mode & ~S_ISGID
}

/** setattr_prepare for chown (chown_ok, chgrp_ok): root changes anything; the owner only the group, to one of theirs. */
export function requireChown (stat: Stat, caller: Caller, uid: number | undefined, gid: number | undefined, what: string): void {
  if (caller.uid === 0) return
  const owner = caller.uid === stat.uid
  const uidAllowed = uid === undefined || (owner && uid === stat.uid)
  const gidAllowed = gid === undefined || (owner && (gid === stat.gid || inGroup(caller, gid)))
  if (!uidAllowed || !gidAllowed) throw new InvalidInputError('NOT_PERMITTED', `${what}: operation not permitted`)
}
