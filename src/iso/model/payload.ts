import type { DataSource } from './data-source'
import type { Inode } from './inode'

/*
 * What the structures outside the directory trees point at. An El Torito entry, an MBR, GPT or APM
 * partition entry, the isohybrid boot pointer: each names a range of the image, and each must still name
 * the same bytes after a commit moves them. So they point at a Payload, not at an LBA; the layout decides
 * where every payload goes and the writers fill in the addresses.
 */

/**
 * Bytes that no directory tree names: an appended partition (an EFI System Partition added by xorriso
 * -append_partition), a hidden El Torito image, a partition whose content is its own business. They are
 * carried byte for byte; a region may move (its entries follow it), but it is never changed.
 */
export class Region {
  constructor (
    /** The bytes: a range of the image as read, or a host file for a new image. */
    public data: DataSource,
    /**
     * Where it goes when written: inside the ISO volume with the files (a hidden boot image), or after the
     * ISO volume's data (an appended partition, outside every tree, as xorriso places it).
     */
    readonly place: 'volume' | 'appended',
    /** For messages: "appended partition 2", "hidden boot image". */
    readonly label: string
  ) {}
}

/**
 * The target of one or more pointers: a file (its data moves and changes with the file) or a region.
 * Shared by every pointer to the same bytes (the El Torito EFI entry, MBR partition 2 and a GPT entry often
 * name one ESP), so that binding it to a file reaches all of them at once.
 *
 * An image's boot images and partitions are known at open, before any directory is read: they start as
 * regions of the image, and become files when the directory naming them is loaded (bind). One never bound
 * has no name in any tree (a hidden image), or its directory was never needed.
 */
export class Payload {
  /** The file's size when it was bound (before any edit): what a recorded sector count is compared with. */
  boundSize?: number

  constructor (public holder: Inode | Region) {}

  get isFile (): boolean {
    return !(this.holder instanceof Region)
  }

  /** The bytes as written: a kept zisofs file's raw stream, as its extents hold it. */
  get data (): DataSource {
    const h = this.holder
    return h instanceof Region ? h.data : h.compressed?.raw ?? h.data
  }

  /** Points it at a file: the one found where it lies, or later one that replaced it by name. */
  bind (inode: Inode): void {
    this.holder = inode
    this.boundSize ??= (inode.compressed?.raw ?? inode.data).size
  }
}
