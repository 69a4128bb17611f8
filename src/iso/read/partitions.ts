import { guidToString } from '../codec/gpt'
import { ImageExtentsSource } from '../model/data-source'
import type { Node } from '../model/node'
import type { Coverage, SystemAreaModel } from '../model/system-area'

/** One partition entry as the API describes it (IsoImage.partitions()). */
export interface PartitionDescription {
  table: 'mbr' | 'gpt' | 'apm'
  /** 1-based, as fdisk and xorriso -report_system_area number them. */
  index: number
  /** MBR type ("0xef"), GPT type GUID, or APM type name. */
  type: string
  name?: string
  /** As recorded in the image (512-byte blocks). */
  start: number
  blocks: number
  /** What it covers: the volume's data, the whole device, a file, a region no tree names, a gap, itself. */
  covers: 'volume' | 'device' | 'file' | 'region' | 'gap' | 'fixed' | 'map'
  /** Whether a commit rewrites it to follow what it covers, or leaves it as it is. */
  onCommit: 'updated' | 'kept'
}

export function describePartitions (model: SystemAreaModel | undefined): PartitionDescription[] {
  if (model === undefined) return []
  const list: PartitionDescription[] = []
  model.mbr?.slots.forEach((slot, i) => {
    if (slot === undefined) return
    list.push({ table: 'mbr', index: i + 1, type: `0x${slot.entry.type.toString(16).padStart(2, '0')}`, start: slot.entry.lbaStart, blocks: slot.entry.sectors, ...covers(slot.coverage) })
  })
  for (const slot of model.gpt?.slots ?? []) {
    const e = slot.entry
    list.push({ table: 'gpt', index: slot.slot + 1, type: guidToString(e.typeGuid), name: e.name, start: e.firstLba, blocks: e.lastLba - e.firstLba + 1, ...covers(slot.coverage) })
  }
  const scale = (model.apm?.blockSize ?? 512) / 512
  model.apm?.slots.forEach((slot, i) => {
    const e = slot.entry
    list.push({ table: 'apm', index: i + 1, type: e.type, name: e.name, start: e.start * scale, blocks: e.blocks * scale, ...covers(slot.coverage) })
  })
  return list
}

function covers (coverage: Coverage | { kind: 'map' }): Pick<PartitionDescription, 'covers' | 'onCommit'> {
  switch (coverage.kind) {
    case 'payload': return { covers: coverage.payload.isFile ? 'file' : 'region', onCommit: 'updated' }
    case 'fixed': return { covers: 'fixed', onCommit: 'kept' }
    default: return { covers: coverage.kind, onCommit: 'updated' }
  }
}

/** First sectors of every file's data in the (loaded) tree. */
export function fileStarts (root: Node): number[] {
  const starts: number[] = []
  const stack: Node[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    for (const child of node.dir?.peek() ?? []) {
      if (child.dir !== undefined) stack.push(child)
      const data = child.inode.compressed?.raw ?? child.inode.data
      if (data instanceof ImageExtentsSource && data.size > 0) starts.push(data.lba)
    }
  }
  return starts
}
