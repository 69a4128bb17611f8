import type { FileByteSource } from '../io/byte-source'
import type { DescriptorSet } from '../read/descriptors'

/** What a commit works on: the image file, as opened for reading, and its current descriptor set. */
export interface CommitContext {
  path: string
  source: FileByteSource
  descriptors: DescriptorSet
  /** Where the image's El Torito catalog is and the bytes its sectors hold (a commit rewrites it there). */
  catalog?: { lba: number, size: number }
}
