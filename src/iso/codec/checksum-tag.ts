/*
 * libisofs checksum tags (libisofs doc/checksums.txt), written by xorriso -md5 on: one 2 KiB block each, a
 * line of text padded with zero bytes:
 *
 *   <type> pos=<lba> range_start=<lba> range_size=<blocks> [session_start=<lba>] [next=<lba>] md5=<32 hex> self=<32 hex>\n
 *
 * "md5" sums the blocks range_start .. range_start + range_size - 1; "self" sums the line up to and
 * including md5's last digit. The superblock tag follows the descriptor set terminator, the tree tag the
 * directories, the session tag everything else (checksum array included); "next" chains them. On media
 * xorriso treats as overwritable (a plain file) the session starts at LBA 32 and a copy of its superblock
 * at LBA 0 carries a "relocated 64 kB superblock" tag (rlsb32) with session_start.
 */

export type ChecksumTagType = 'superblock' | 'tree' | 'session' | 'relocated-superblock'

export interface ChecksumTag {
  type: ChecksumTagType
  pos: number
  rangeStart: number
  rangeSize: number
  sessionStart?: number
  next?: number
  md5: string
  self: string
}

const TYPES: Record<string, ChecksumTagType> = {
  libisofs_sb_checksum_tag_v1: 'superblock',
  libisofs_tree_checksum_tag_v1: 'tree',
  libisofs_checksum_tag_v1: 'session',
  libisofs_rlsb32_checksum_tag_v1: 'relocated-superblock'
}
const NAMES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k])) as Record<ChecksumTagType, string>

const PATTERN = /^(libisofs_\w+_tag_v1) pos=(\d+) range_start=(\d+) range_size=(\d+)(?: session_start=(\d+))?(?: next=(\d+))? md5=([0-9a-f]{32}) self=([0-9a-f]{32})\n/

/** The tag a block holds, or undefined when it holds none. */
export function parseChecksumTag (block: Buffer): ChecksumTag | undefined {
  if (block.toString('latin1', 0, 9) !== 'libisofs_') return undefined
  const end = block.indexOf(0x0a)
  const m = PATTERN.exec(block.toString('latin1', 0, end < 0 ? 0 : end + 1))
  if (m === null || TYPES[m[1]] === undefined) return undefined
  return {
    type: TYPES[m[1]],
    pos: Number(m[2]),
    rangeStart: Number(m[3]),
    rangeSize: Number(m[4]),
    sessionStart: m[5] !== undefined ? Number(m[5]) : undefined,
    next: m[6] !== undefined ? Number(m[6]) : undefined,
    md5: m[7],
    self: m[8]
  }
}

/** The text "self" sums: the tag's line up to and including md5's last digit. */
export function checksumTagSelfText (tag: Omit<ChecksumTag, 'self'>): string {
  let text = `${NAMES[tag.type]} pos=${tag.pos} range_start=${tag.rangeStart} range_size=${tag.rangeSize}`
  if (tag.sessionStart !== undefined) text += ` session_start=${tag.sessionStart}`
  if (tag.next !== undefined) text += ` next=${tag.next}`
  return `${text} md5=${tag.md5}`
}

/** The 2 KiB block holding `tag`. */
export function serializeChecksumTag (tag: ChecksumTag): Buffer {
  const block = Buffer.alloc(2048)
  block.write(`${checksumTagSelfText(tag)} self=${tag.self}\n`, 0, 'latin1')
  return block
}
