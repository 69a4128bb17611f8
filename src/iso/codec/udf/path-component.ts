import { InvalidImageError, type ImageLocation } from '../../../errors'
import { decodeDchars, encodeDchars } from './cs0'

/*
 * ECMA-167 4/14.16: a symbolic link's data is a sequence of path components, each a type, a length, a
 * version and d-characters. Types (4/14.16.1.1): 1 a root named by the component (UDF 2.3.12.1: not
 * recorded, read as "/"), 2 the root of the file system, 3 the parent, 4 the current directory, 5 a name.
 */

export const ComponentType = { ROOT_NAMED: 1, ROOT: 2, PARENT: 3, CURRENT: 4, NAME: 5 } as const

export interface PathComponent {
  type: number
  version: number
  identifier: Buffer
}

export function parsePathComponents (data: Buffer, where: ImageLocation): PathComponent[] {
  const list: PathComponent[] = []
  let offset = 0
  while (offset < data.length) {
    if (offset + 4 > data.length) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `a path component header at byte ${offset} is cut short`, { ...where, field: 'path component' })
    }
    const length = data[offset + 1]
    if (offset + 4 + length > data.length) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `path component of ${length} bytes at byte ${offset} overruns the ${data.length}-byte link`,
        { ...where, field: 'length of component identifier' })
    }
    list.push({ type: data[offset], version: data.readUInt16LE(offset + 2), identifier: data.subarray(offset + 4, offset + 4 + length) })
    offset += 4 + length
  }
  return list
}

export function serializePathComponents (components: readonly PathComponent[]): Buffer {
  return Buffer.concat(components.map(c => {
    const head = Buffer.alloc(4)
    head[0] = c.type
    head[1] = c.identifier.length
    head.writeUInt16LE(c.version, 2)
    return Buffer.concat([head, c.identifier])
  }))
}

/** The link target as a path: "/" for a root component, ".." and "." for parent and current. */
export function symlinkTarget (components: readonly PathComponent[], where: ImageLocation): string {
  let absolute = false
  const parts: string[] = []
  for (const c of components) {
    switch (c.type) {
      case ComponentType.ROOT_NAMED:
      case ComponentType.ROOT:
        absolute = true
        parts.length = 0
        break
      case ComponentType.PARENT: parts.push('..'); break
      case ComponentType.CURRENT: parts.push('.'); break
      case ComponentType.NAME: parts.push(decodeDchars(c.identifier, where)); break
      default:
        throw new InvalidImageError('IMAGE_BAD_RECORD', `path component type ${c.type} is not one of 1-5`, { ...where, field: 'component type' })
    }
  }
  const joined = parts.join('/')
  return absolute ? '/' + joined : joined
}

/** The path components of a link target (what a writer records). */
export function pathComponentsOf (target: string): PathComponent[] {
  const components: PathComponent[] = []
  if (target.startsWith('/')) components.push({ type: ComponentType.ROOT, version: 0, identifier: Buffer.alloc(0) })
  for (const part of target.split('/')) {
    if (part === '') continue
    if (part === '..') components.push({ type: ComponentType.PARENT, version: 0, identifier: Buffer.alloc(0) })
    else if (part === '.') components.push({ type: ComponentType.CURRENT, version: 0, identifier: Buffer.alloc(0) })
    else components.push({ type: ComponentType.NAME, version: 0, identifier: encodeDchars(part) })
  }
  return components
}
