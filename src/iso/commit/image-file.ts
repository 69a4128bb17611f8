import { InvalidInputError, userMessage } from '../../errors'
import { bootCatalogSize } from '../codec/el-torito'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import type { FileByteSource } from '../io/byte-source'
import type { ChangeSet } from '../model/change-set'
import type { Node } from '../model/node'
import { refreshOrigin, type ImageOrigin } from '../read/open-image'
import type { WriteContent } from '../write/layout'
import type { ImageSettings } from '../write/settings'
import type { CommitOptions, CommitResult } from './commit'
import type { CommitContext } from './context'
import { journalPending } from './journal'
import { requireImageUnderstood, requireTreeUnderstood } from './understood'

/** The model a commit writes: its tree, settings and changes, and what is written besides the tree. */
export interface CommitModel {
  root: Node
  settings: ImageSettings
  changes: ChangeSet
  /** Boot structures and system area; `whole`: for a whole-tree write (the whole tree loaded first). */
  content: (whole: boolean) => Promise<WriteContent>
}

export interface ImageCommitOptions extends CommitOptions {
  /** Runs the moment the model switches to the committed image (a mount keeps its readers out for it). */
  excludeReaders?: <T>(work: () => Promise<T>) => Promise<T>
}

/**
 * An image file and what was read from it, through its commits: each commit is planned from the model and
 * the file as they are; afterwards the model reads from where things now are (rebase.ts) and the
 * descriptors are read again. A commit that could not be followed leaves the model stale: nothing more
 * may be committed from it.
 */
export class ImageFile {
  private staleReason: string | undefined

  constructor (readonly path: string, private current: FileByteSource, private read: ImageOrigin) {}

  get source (): FileByteSource {
    return this.current
  }

  get origin (): ImageOrigin {
    return this.read
  }

  /** Why the model may no longer be committed (a commit it could not follow), if so. */
  get stale (): string | undefined {
    return this.staleReason
  }

  /**
   * Loads the commit code (the writer with it) soon, off the clock of the commit that follows: a mount
   * calls this with its first change, so that a 1-byte edit's `isomount -u` does not wait for 170 modules.
   */
  prepareCommit (): void {
    setImmediate(() => {
      import('./commit').catch(() => {})
      import('./rebase').catch(() => {})
    })
  }

  async commit (model: CommitModel, options: ImageCommitOptions = {}): Promise<CommitResult> {
    if (this.staleReason !== undefined) throw new InvalidInputError('STALE', this.staleReason)
    if (model.changes.empty) return { mode: 'unchanged', bytesWritten: 0, reasons: [] }
    requireImageUnderstood(this.read)
    // The volume dates stay: GRUB's search --fs-uuid and blkid take the modification date as the UUID.
    // The writer loads with the first commit: a mount that changes nothing (most) never needs it.
    const { commitChanges } = await import('./commit')
    const { rebaseAfterCommit } = await import('./rebase')
    let result: CommitResult
    try {
      result = await commitChanges({
        context: this.context(),
        root: model.root,
        settings: model.settings,
        changes: model.changes,
        content: model.content,
        wholeTree: async () => await requireTreeUnderstood(model.root, this.read)
      }, options)
    } catch (err) {
      // The commit's journal could be neither applied nor undone: the image is the new one once a mount
      // replays it, and this model describes neither. Nothing more may be committed from it.
      if (journalPending(this.path)) {
        this.staleReason = `${userMessage(err)}; reopen (remount) the image to complete the commit before changing it further`
      }
      throw err
    }
    const exclusive = options.excludeReaders ?? (async work => await work())
    try {
      const { boot } = await model.content(false)
      await exclusive(async () => {
        this.current = await rebaseAfterCommit(result, this.current, this.path, model.changes, boot)
        this.read = await refreshOrigin(this.read, this.current)
      })
    } catch (err) {
      // The changes are in the image, but this model no longer says where things are in it: a further
      // commit planned from it would write at the wrong places.
      this.staleReason = `the changes were committed (${result.mode}) but the image could not be read again (${userMessage(err)}); reopen it`
      throw new InvalidInputError('STALE', this.staleReason)
    }
    model.changes.clear()
    return result
  }

  async close (): Promise<void> {
    await this.current.close()
  }

  private context (): CommitContext {
    const elTorito = this.read.elTorito
    const descriptors = this.read.descriptors
    // A UDF file system without an ISO9660 volume (mkudffs) is read-only (read-only-reasons.ts).
    if (descriptors === undefined) throw new InvalidInputError('READ_ONLY', 'the image has no ISO9660 volume to commit into')
    return {
      path: this.path,
      source: this.current,
      descriptors,
      catalog: elTorito !== undefined
        ? { lba: elTorito.catalogLba, size: Math.ceil(bootCatalogSize(elTorito.catalog) / SECTOR_SIZE) * SECTOR_SIZE }
        : undefined
    }
  }
}
