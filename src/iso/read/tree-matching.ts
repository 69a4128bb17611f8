import type { LbAddr } from '../codec/udf/addresses'
import { ImageExtentsSource, type DataSource } from '../model/data-source'
import type { Inode } from '../model/inode'
import type { Node } from '../model/node'
import { OverlayData } from '../model/overlay-data'
import { withoutVersion } from './names'

/*
 * How the trees of an image (ECMA-119 with Rock Ridge, Joliet, UDF) are matched into one tree of nodes,
 * shared by the loaders of each: files pair by where their data is, directories by name, and inode
 * numbers come from positions in the image.
 */

export interface DirectoryLocation {
  extent: number
  size: number
}

/** Each tree's place of one directory of the unified tree; filled in as the parent is matched. */
export interface DirectoryExtents {
  iso?: DirectoryLocation
  joliet?: DirectoryLocation
  /** The directory's ICB in the UDF file system. */
  udf?: LbAddr
}

/** Joliet identifiers are at most 64 UCS-2 characters; genisoimage -joliet-long allows 103. */
const JOLIET_SHORT_LIMIT = 64

/** The name an entry already matched is known by, to compare another tree's name with. */
export function plainName (node: Node): string {
  const { rr, joliet, udf, iso } = node.names
  return rr ?? (joliet !== undefined ? withoutVersion(joliet) : udf ?? withoutVersion(iso ?? ''))
}

/**
 * The candidate another tree's entry named `name` is: among those `free` (not matched in that tree yet),
 * the one with the same name, exactly, then case-insensitively, then as the 64-character prefix a short
 * Joliet name keeps of a long one. A file may also pair with a candidate of another name: candidates of
 * files have its data, so they are the same file named differently in each tree (a mangled name).
 */
export function pickByName (candidates: Node[], name: string, isDirectory: boolean, free: (node: Node) => boolean): Node | undefined {
  // The usual case for a file: one candidate with its data, which it is whatever its name.
  if (!isDirectory && candidates.length === 1) return free(candidates[0]) ? candidates[0] : undefined
  const unmatched = candidates.filter(free)
  if (unmatched.length === 0) return undefined
  const lower = name.toLowerCase()
  const found = unmatched.find(c => plainName(c) === name) ??
    unmatched.find(c => plainName(c).toLowerCase() === lower) ??
    (name.length >= JOLIET_SHORT_LIMIT ? unmatched.find(c => plainName(c).startsWith(name)) : undefined) ??
    unmatched.find(c => name.startsWith(plainName(c)) && plainName(c).length >= JOLIET_SHORT_LIMIT)
  if (found !== undefined || isDirectory) return found
  return unmatched[0]
}

/**
 * What pairs a file's records across trees: where its data is (first LBA and size). Files without data
 * (empty files, symlinks, devices) are all candidates for each other and pair by name.
 */
export function nodeDataKey (node: Node): string {
  const data = recordedData(node.inode)
  return dataKey(data.size > 0 && data instanceof ImageExtentsSource ? data : undefined)
}

/**
 * A file's data as the image records it, even once an edit made it an overlay (a mount writes into a file
 * before its directory's Joliet twin is merged): what pairs the Joliet record with it.
 */
export function recordedData (inode: Inode): DataSource {
  const data = inode.compressed?.raw ?? inode.data
  return data instanceof OverlayData && data.base !== undefined ? data.base : data
}

export function dataKey (data: ImageExtentsSource | undefined): string {
  const first = data?.sections[0]
  if (data === undefined || data.size === 0 || first === undefined || first.hole === true) return 'empty'
  return first.offset === undefined ? `${first.lba}:${data.size}` : `${first.lba}+${first.offset}:${data.size}`
}

export function pushTo<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/**
 * Inode numbers are derived from where things are in the image, so they are the same at every mount:
 * a directory's or a file's data offset, or for files without data the record's offset. Records are at
 * least 34 bytes (ECMA-119 9.1; UDF file entries are larger) and never overlap data, so offset / 34 is
 * unique. Zero is not a valid inode number, hence the + 1; past 2^32 (images over 146 GB) numbers wrap,
 * as FUSE inode numbers are 32-bit.
 */
export function inoOf (byteOffset: number): number {
  return (Math.floor(byteOffset / 34) % 0xffffffff) + 1
}
