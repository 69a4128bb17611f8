/*
 * Apple Partition Map (Inside Macintosh: Devices, "Partition Map"): block 0 holds a driver descriptor map
 * ("ER", the block size), blocks 1..n the map's entries ("PM"), big-endian. xorriso writes one into the
 * system area for Macs (-hfsplus, -isohybrid-apm-hfsplus; grub-mkrescue for EFI images), with 2048-byte
 * blocks, so the entries sit at bytes 2048, 4096, … of the image; the first 8 bytes double as harmless
 * x86 code in front of an MBR's boot code.
 */

export const APM_DDM_SIGNATURE = 'ER'
export const APM_ENTRY_SIGNATURE = 'PM'
/** The part of an entry this codec interprets; the rest of the block is kept as recorded. */
export const APM_ENTRY_SIZE = 136

export interface ApmEntry {
  /** pmMapBlkCnt: entries in the map (every entry repeats it). */
  mapBlocks: number
  /** pmPyPartStart and pmPartBlkCnt, in map blocks. */
  start: number
  blocks: number
  name: string
  type: string
  /** pmLgDataStart and pmDataCnt: the data area within the partition. */
  dataStart: number
  dataBlocks: number
  status: number
  /** Bytes 92-135 (boot code fields, processor type) as recorded. */
  rest: Buffer
}

/** The map's block size from the driver descriptor map, if the area starts with one. */
export function parseApmBlockSize (area: Buffer): number | undefined {
  if (area.length < 4 || area.toString('latin1', 0, 2) !== APM_DDM_SIGNATURE) return undefined
  const size = area.readUInt16BE(2)
  return size === 512 || size === 2048 ? size : undefined
}

export function parseApmEntry (block: Buffer): ApmEntry | undefined {
  if (block.length < APM_ENTRY_SIZE || block.toString('latin1', 0, 2) !== APM_ENTRY_SIGNATURE) return undefined
  return {
    mapBlocks: block.readUInt32BE(4),
    start: block.readUInt32BE(8),
    blocks: block.readUInt32BE(12),
    name: cString(block.subarray(16, 48)),
    type: cString(block.subarray(48, 80)),
    dataStart: block.readUInt32BE(80),
    dataBlocks: block.readUInt32BE(84),
    status: block.readUInt32BE(88),
    rest: Buffer.from(block.subarray(92, APM_ENTRY_SIZE))
  }
}

export function serializeApmEntry (entry: ApmEntry): Buffer {
  const block = Buffer.alloc(APM_ENTRY_SIZE)
  block.write(APM_ENTRY_SIGNATURE, 0, 'latin1')
  block.writeUInt32BE(entry.mapBlocks, 4)
  block.writeUInt32BE(entry.start, 8)
  block.writeUInt32BE(entry.blocks, 12)
  block.write(entry.name.slice(0, 31), 16, 31, 'latin1')
  block.write(entry.type.slice(0, 31), 48, 31, 'latin1')
  block.writeUInt32BE(entry.dataStart, 80)
  block.writeUInt32BE(entry.dataBlocks, 84)
  block.writeUInt32BE(entry.status >>> 0, 88)
  entry.rest.copy(block, 92, 0, APM_ENTRY_SIZE - 92)
  return block
}

/** Reads the entries of a map whose blocks are `blockSize` bytes, from `area` (the system area). */
export function parseApm (area: Buffer, blockSize: number): ApmEntry[] {
  const entries: ApmEntry[] = []
  const first = parseApmEntry(area.subarray(blockSize, blockSize + APM_ENTRY_SIZE))
  if (first === undefined) return entries
  const count = Math.min(first.mapBlocks, Math.floor(area.length / blockSize) - 1)
  for (let i = 1; i <= count; i++) {
    const entry = parseApmEntry(area.subarray(i * blockSize, i * blockSize + APM_ENTRY_SIZE))
    if (entry === undefined) break
    entries.push(entry)
  }
  return entries
}

function cString (bytes: Buffer): string {
  const nul = bytes.indexOf(0)
  return bytes.toString('latin1', 0, nul === -1 ? bytes.length : nul)
}
