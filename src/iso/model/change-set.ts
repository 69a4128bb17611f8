import type { Inode } from './inode'
import type { Node } from './node'

/**
 * What changed since the image was opened (or last committed), in the terms a commit needs to write only
 * that: which directories must be written again, which inodes' records patched, and where their names are.
 * A commit writes nothing when this is empty.
 */
export class ChangeSet {
  /** Directories whose entries changed (added, removed, renamed, names or hidden bits changed): written again. */
  readonly directories = new Set<Node>()
  /** Directories moved to another parent (their ".." records name the new one), with the depth they had before. */
  readonly moved = new Map<Node, number>()
  /** Inodes whose content changed. */
  readonly data = new Set<Inode>()
  /** Inodes whose mode, owner, times or link count changed. */
  readonly attributes = new Set<Inode>()
  /**
   * Inodes whose records change shape, not only their fields (a Rock Ridge PX added where none was, a zisofs
   * file's ZF dropped): every directory naming them is written again.
   */
  readonly reshaped = new Set<Inode>()
  /**
   * For each inode above, the directories its names were seen in when it changed: where a commit looks for
   * the records to patch (a hard link elsewhere is found through the link count).
   */
  readonly seenIn = new Map<Inode, Set<Node>>()
  /** The El Torito configuration or the system area's tables changed. */
  boot = false

  get empty (): boolean {
    return this.directories.size === 0 && this.moved.size === 0 && this.data.size === 0 && this.attributes.size === 0 &&
      this.reshaped.size === 0 && !this.boot
  }

  /** Records that `inode`, named in directory `dir` (none for the root), changed; `kind` says how. */
  inodeChanged (inode: Inode, dir: Node | undefined, kind: 'data' | 'attributes' | 'reshaped'): void {
    this[kind].add(inode)
    if (dir === undefined) return
    const dirs = this.seenIn.get(inode)
    if (dirs === undefined) this.seenIn.set(inode, new Set([dir]))
    else dirs.add(dir)
  }

  clear (): void {
    this.directories.clear()
    this.moved.clear()
    this.data.clear()
    this.attributes.clear()
    this.reshaped.clear()
    this.seenIn.clear()
    this.boot = false
  }
}
