export * from './iso'
export { IsoError, InvalidImageError, InvalidInputError, InternalError, errnoName } from './errors'
export type { ErrorCode } from './errors'
