import type { FileByteSource } from '../io/byte-source'
import type { DescriptorSet } from '../read/descriptors'

/** What a commit works on: the image file, as opened for reading, and its current descriptor set. */
export interface CommitContext {
  path: string
  source: FileByteSource
  descriptors: DescriptorSet
}
