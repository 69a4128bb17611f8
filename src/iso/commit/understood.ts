import { InvalidImageError, InvalidInputError } from '../../errors'
import type { Node } from '../model/node'
import type { ImageOrigin } from '../read/open-image'
import { describeReadOnly } from '../read/read-only-reasons'
import { loadAll } from '../read/load-all'
import { pathOf } from '../write/tree-plan'

/*
 * We never write what we did not fully understand, and that is checked where the writing is: the
 * structures every commit rewrites or relies on (descriptors, system area, boot catalog, path tables) at
 * every commit, a directory when a commit rewrites it or patches one of its records, and the whole tree
 * when the whole tree is written (a remaster, a write elsewhere). Reading never waits for any of it: an
 * irregular directory somewhere in a large image refuses only the changes that would touch it.
 */

/** Structures a change would break (read-only-reasons.ts), or image-wide irregularities: no commit at all. */
export function requireImageUnderstood (origin: ImageOrigin | undefined): void {
  if (origin === undefined) return
  const [refusal] = origin.readOnlyReasons
  if (refusal !== undefined) throw new InvalidInputError('READ_ONLY', `the image cannot be written: ${describeReadOnly(refusal)}`, { reason: refusal.code })
  const log = origin.diagnostics
  if (log.imageWideCount > 0) {
    throw new InvalidImageError('IMAGE_STRICT',
      `${log.imageWideCount} irregularit${log.imageWideCount === 1 ? 'y' : 'ies'} in structures every commit rewrites (first: ${log.imageWide[0]}); ` +
      'an image not fully understood is never written', { structure: 'image' })
  }
}

/** A directory read with irregularities is never written again, nor are its records patched. */
export function requireDirectoryUnderstood (dir: Node): void {
  const found = dir.dir?.irregularities
  if (found === undefined || found.length === 0) return
  throw new InvalidImageError('IMAGE_STRICT',
    `directory ${pathOf(dir)} was read with irregularities (first: ${found[0]}); a directory not fully understood is never written back`,
    { structure: 'directory', lba: dir.dir?.extents?.iso?.extent ?? dir.dir?.extents?.joliet?.extent })
}

/** Every directory loaded (Joliet names merged), and not one irregularity anywhere: what a whole-tree write needs. */
export async function requireTreeUnderstood (root: Node, origin: ImageOrigin | undefined): Promise<void> {
  requireImageUnderstood(origin)
  await loadAll(root)
  const warnings = origin?.diagnostics.messages ?? []
  if (warnings.length > 0) {
    throw new InvalidImageError('IMAGE_STRICT',
      `${warnings.length} irregularit${warnings.length === 1 ? 'y' : 'ies'} (first: ${warnings[0]}); an image not fully understood is never written`,
      { structure: 'image' })
  }
}
