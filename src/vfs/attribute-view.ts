import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../iso/model/inode'
import type { Node } from '../iso/model/node'
import { statOf, type Stat } from '../iso/model/stat'
import type { MountOptions } from './mount-options'
import type { Caller } from './vfs'

/** The set-group-ID bit: on a directory, new entries take its group (and new directories the bit). */
export const S_ISGID = 0o2000

export interface Owner {
  uid: number
  gid: number
}

/**
 * What a mount shows of the attributes an image records, and what changes record. The options are Linux
 * isofs's (fs/isofs/inode.c): uid= and gid= replace every owner, Rock Ridge or not; mode= and dmode= give
 * files and directories the image records no permissions for (no Rock Ridge) theirs, and every file and
 * directory with overriderockperms. userwrite is ours: every entry shows as the mounting user's, with the
 * owner's write permission (directories rwx), so that a user can edit an image whose Rock Ridge says
 * root and 0444 without being root.
 *
 * Those options change what is shown, never what is recorded: an owner shown by uid=, gid= or userwrite
 * is not written into the image. New entries then record the owner and group of the directory they are
 * made in (a distribution tree stays root's), and a chown to the owner shown records nothing (what
 * `cp -a` or `tar x` run by that user do). Otherwise new entries record their creator, with the group of
 * a set-group-ID directory (and directories its bit), as Linux file systems do.
 */
export class AttributeView {
  constructor (private readonly options: MountOptions, private readonly mountingUser: Owner) {}

  /** The owners shown are the mount's, not the image's. */
  get ownersShown (): boolean {
    return this.options.uid !== undefined || this.options.gid !== undefined || this.options.userwrite
  }

  shown (node: Node): Stat {
    const stat = statOf(node)
    const { options } = this
    const type = stat.mode & S_IFMT
    if (!stat.posix || options.overriderockperms) {
      const permissions = type === S_IFDIR ? options.dmode : type === S_IFREG || !stat.posix ? options.mode : undefined
      if (permissions !== undefined) stat.mode = type | permissions
    }
    const owner = this.shownOwner()
    if (owner.uid !== undefined) stat.uid = owner.uid
    if (owner.gid !== undefined) stat.gid = owner.gid
    if (options.userwrite && type !== S_IFLNK) stat.mode |= type === S_IFDIR ? 0o700 : 0o200
    return stat
  }

  /** Owner and group of a new entry in `parent`, and the set-group-ID bit it inherits. */
  newEntry (parent: Node, caller: Owner, isDirectory: boolean): Owner & { setgid: boolean } {
    const recorded = parent.inode
    const setgid = (recorded.mode & S_ISGID) !== 0
    if (this.ownersShown) return { uid: recorded.uid, gid: recorded.gid, setgid: setgid && isDirectory }
    return { uid: caller.uid, gid: setgid ? recorded.gid : caller.gid, setgid: setgid && isDirectory }
  }

  /** What a chown records: ids equal to the owner the mount shows in place of the recorded one are no change. */
  recordedIds (uid: number | undefined, gid: number | undefined): { uid?: number, gid?: number } {
    const owner = this.shownOwner()
    return {
      uid: uid !== undefined && uid !== owner.uid ? uid : undefined,
      gid: gid !== undefined && gid !== owner.gid ? gid : undefined
    }
  }

  private shownOwner (): { uid?: number, gid?: number } {
    const { options } = this
    return {
      uid: options.uid ?? (options.userwrite ? this.mountingUser.uid : undefined),
      gid: options.gid ?? (options.userwrite ? this.mountingUser.gid : undefined)
    }
  }
}

/** The daemon's own user: the owner `userwrite` shows, and who acts without a caller. */
export function processOwner (): Owner & Caller {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
}
