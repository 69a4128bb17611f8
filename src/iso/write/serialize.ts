import { SECTOR_SIZE, serializeDescriptor } from '../codec/volume-descriptor'
import { copyPlaced } from './copy-engine'
import { writeTrees } from './directory-writer'
import { bootCatalog, bootPatches } from './el-torito-writer'
import { headSectors, type Layout, type WriteContent } from './layout'
import { SectorWriter, type WriteProgress } from './sector-writer'
import type { ImageSink } from './sink'
import { buildSystemArea, buildTrailer } from './system-area-writer'
import { udfEndAnchor, udfRecognition, writeUdf } from './udf/writer'
import { volumeDescriptors } from './volume-descriptors'

/*
 * Serialization: walks the layout in LBA order and hands bytes to the sink, each structure from its own
 * writer. Metadata is produced one structure at a time and file data is copied in large chunks, so memory
 * stays bounded whatever the size.
 */

export type { WriteProgress } from './sector-writer'

export async function serializeImage (
  layout: Layout, content: WriteContent, sink: ImageSink, onProgress?: (progress: WriteProgress) => void
): Promise<void> {
  const out = new SectorWriter(sink, layout.totalSectors * SECTOR_SIZE, onProgress)
  await out.put(0, serializeHead(layout, content))
  await serializeBody(layout, content, out)
  await out.finish()
}

/**
 * Sectors 0 to the descriptor set terminator: system area (MBR, GPT, APM) and volume descriptors. An
 * append commit writes these last, in one write: the moment the new tree becomes the image's tree.
 */
export function serializeHead (layout: Layout, content: WriteContent): Buffer {
  const head = Buffer.alloc(headSectors(layout) * SECTOR_SIZE)
  buildSystemArea(layout, content).copy(head, 0)
  for (const d of volumeDescriptors(layout, content)) serializeDescriptor(d.descriptor).copy(head, d.lba * SECTOR_SIZE)
  if (layout.udf !== undefined) udfRecognition(layout.udf).copy(head, layout.udf.recognitionLba * SECTOR_SIZE)
  return head
}

/** Everything after the descriptors, in LBA order; what is in `layout.fixed` is already on disk. */
export async function serializeBody (layout: Layout, content: WriteContent, out: SectorWriter): Promise<void> {
  await writeUdf(layout, out)
  if (content.boot !== undefined && layout.bootCatalog !== undefined) {
    await out.put(layout.bootCatalog.lba, bootCatalog(layout, content.boot))
  }
  await writeTrees(layout, out)
  await copyPlaced(layout, await bootPatches(layout, content), out)
  const anchor = udfEndAnchor(layout)
  if (anchor !== undefined) await out.put(anchor.lba, anchor.bytes)
  const trailer = buildTrailer(layout, content)
  if (trailer !== undefined) await out.put(trailer.lba, trailer.bytes)
}
