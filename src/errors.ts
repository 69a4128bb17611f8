/**
 * The project's error hierarchy: three kinds (invalid image, invalid input, internal), each error with a
 * stable `code` and structured `data`, and the one place where codes become errno names.
 */

/** Codes for images that do not follow the standards closely enough to be read. */
export type InvalidImageCode =
  | 'IMAGE_TRUNCATED'
  | 'IMAGE_NOT_ISO9660'
  | 'IMAGE_BAD_DESCRIPTOR'
  | 'IMAGE_BLOCK_SIZE'
  | 'IMAGE_BAD_RECORD'
  | 'IMAGE_BAD_DIRECTORY'
  | 'IMAGE_BAD_SYSTEM_USE'
  | 'IMAGE_LOOP'
  | 'IMAGE_BAD_PATH_TABLE'
  | 'IMAGE_BAD_BOOT_CATALOG'
  | 'IMAGE_BAD_PARTITION_TABLE'
  | 'IMAGE_BAD_ZISOFS'
  | 'IMAGE_STRICT'

/** Codes for requests a caller made that cannot be honoured. */
export type InvalidInputCode =
  | 'NOT_FOUND'
  | 'EXISTS'
  | 'NOT_A_DIRECTORY'
  | 'IS_A_DIRECTORY'
  | 'NOT_EMPTY'
  | 'NOT_A_SYMLINK'
  | 'NAME_TOO_LONG'
  | 'BAD_NAME'
  | 'BAD_PATH'
  | 'BAD_ARGUMENT'
  | 'READ_ONLY'
  | 'TOO_LARGE'
  | 'BAD_HANDLE'
  | 'UNSUPPORTED'
  | 'BUSY'
  | 'CROSS_DEVICE'
  | 'NO_SPACE'
  | 'NOT_PERMITTED'
  /** The caller's permissions do not allow it (a mode bit), as against NOT_PERMITTED (no one but the owner). */
  | 'ACCESS_DENIED'
  /** The image changed under the model (a commit that could not be followed): reopen it. */
  | 'STALE'
  | 'SYMLINK_LOOP'

export type ErrorCode = InvalidImageCode | InvalidInputCode | 'INTERNAL'

export type ErrorData = Record<string, string | number | boolean | undefined>

export abstract class IsoError extends Error {
  abstract readonly code: ErrorCode
  readonly data: ErrorData

  constructor (message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.data = data
    this.name = new.target.name
  }
}

/** Where in an image a structure was found wrong: named so the user can look at it with a hex editor. */
export interface ImageLocation {
  structure: string
  lba?: number
  offset?: number
  field?: string
}

export class InvalidImageError extends IsoError {
  readonly code: InvalidImageCode

  constructor (code: InvalidImageCode, detail: string, where: ImageLocation) {
    super(`invalid image: ${describeLocation(where)}: ${detail}`, { ...where, detail })
    this.code = code
  }
}

export class InvalidInputError extends IsoError {
  readonly code: InvalidInputCode

  constructor (code: InvalidInputCode, message: string, data: ErrorData = {}) {
    super(message, data)
    this.code = code
  }
}

export class InternalError extends IsoError {
  readonly code = 'INTERNAL' as const

  constructor (message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(`internal error: ${message}`, data, options)
  }
}

function describeLocation (where: ImageLocation): string {
  let text = where.structure
  if (where.lba !== undefined) text += ` at LBA ${where.lba}`
  if (where.offset !== undefined) text += ` offset ${where.offset}`
  if (where.field !== undefined) text += `, field ${where.field}`
  return text
}

const ERRNO_BY_CODE: Record<ErrorCode, string> = {
  IMAGE_TRUNCATED: 'EIO',
  IMAGE_NOT_ISO9660: 'EIO',
  IMAGE_BAD_DESCRIPTOR: 'EIO',
  IMAGE_BLOCK_SIZE: 'EIO',
  IMAGE_BAD_RECORD: 'EIO',
  IMAGE_BAD_DIRECTORY: 'EIO',
  IMAGE_BAD_SYSTEM_USE: 'EIO',
  IMAGE_LOOP: 'ELOOP',
  IMAGE_BAD_PATH_TABLE: 'EIO',
  IMAGE_BAD_BOOT_CATALOG: 'EIO',
  IMAGE_BAD_PARTITION_TABLE: 'EIO',
  IMAGE_BAD_ZISOFS: 'EIO',
  IMAGE_STRICT: 'EIO',
  NOT_FOUND: 'ENOENT',
  EXISTS: 'EEXIST',
  NOT_A_DIRECTORY: 'ENOTDIR',
  IS_A_DIRECTORY: 'EISDIR',
  NOT_EMPTY: 'ENOTEMPTY',
  NOT_A_SYMLINK: 'EINVAL',
  NAME_TOO_LONG: 'ENAMETOOLONG',
  BAD_NAME: 'EINVAL',
  BAD_PATH: 'EINVAL',
  BAD_ARGUMENT: 'EINVAL',
  READ_ONLY: 'EROFS',
  TOO_LARGE: 'EFBIG',
  BAD_HANDLE: 'EBADF',
  UNSUPPORTED: 'ENOTSUP',
  BUSY: 'EBUSY',
  CROSS_DEVICE: 'EXDEV',
  NO_SPACE: 'ENOSPC',
  NOT_PERMITTED: 'EPERM',
  ACCESS_DENIED: 'EACCES',
  STALE: 'ESTALE',
  SYMLINK_LOOP: 'ELOOP',
  INTERNAL: 'EIO'
}

/**
 * The errno name (`ENOENT`, …) an error stands for. Errors from Node's own I/O already carry one
 * (`ENOSPC` from a temp file, say) and pass through; anything unknown is an I/O error.
 */
export function errnoName (err: unknown): string {
  if (err instanceof IsoError) return ERRNO_BY_CODE[err.code]
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
  return 'EIO'
}

/** A one-line message for the user, without a stack, whatever was thrown. */
export function userMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
