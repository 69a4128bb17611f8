import type { Inode } from './inode'

/**
 * What changed since the image was opened (or last committed): a commit writes nothing when this is
 * empty, and can update in place only when no entry was added, removed or renamed.
 */
export class ChangeSet {
  /** Entries added, removed or renamed; names, hidden bits, boot or hybrid configuration changed. */
  structure = false
  /** Inodes whose content changed. */
  readonly data = new Set<Inode>()
  /** Inodes whose mode, owner or times changed. */
  readonly attributes = new Set<Inode>()

  get empty (): boolean {
    return !this.structure && this.data.size === 0 && this.attributes.size === 0
  }

  clear (): void {
    this.structure = false
    this.data.clear()
    this.attributes.clear()
  }
}
