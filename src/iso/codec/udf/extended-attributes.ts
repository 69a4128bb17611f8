import { InvalidImageError, type ImageLocation } from '../../../errors'
import { sealDescriptor, serializeTag, type DescriptorTag } from './tag'

/*
 * ECMA-167 4/14.10: a file entry's extended attributes: a header descriptor (tag 262) and attributes of
 * three groups (ECMA-defined, implementation use from one offset, application use from another). This
 * code interprets one, the device specification (4/14.10.7: a device's major and minor numbers); every
 * other attribute (UDF 3.3.4: free EA space, DVD copyright management, Mac finder info…) is carried as
 * recorded and otherwise ignored.
 */

export const EA_HEADER_SIZE = 24

export const AttributeType = { CHARACTER_SET: 1, ALTERNATE_PERMISSIONS: 3, FILE_TIMES: 5, INFORMATION_TIMES: 6, DEVICE_SPECIFICATION: 12, IMPLEMENTATION_USE: 2048, APPLICATION_USE: 65536 } as const

export interface ExtendedAttribute {
  type: number
  subtype: number
  reserved: Buffer
  /** The attribute's bytes after its 12-byte header. */
  data: Buffer
}

export interface ExtendedAttributes {
  tag: DescriptorTag
  implementationAttributesLocation: number
  applicationAttributesLocation: number
  attributes: ExtendedAttribute[]
}

/** At most this many attributes are read from one entry: a damaged list ends, it does not spin. */
const MAX_ATTRIBUTES = 1024

export function parseExtendedAttributes (area: Buffer, tag: DescriptorTag, where: ImageLocation): ExtendedAttributes {
  const attributes: ExtendedAttribute[] = []
  let offset = EA_HEADER_SIZE
  while (offset + 12 <= area.length && attributes.length < MAX_ATTRIBUTES) {
    const length = area.readUInt32LE(offset + 8)
    if (length === 0) break
    if (length < 12 || offset + length > area.length) {
      throw new InvalidImageError('IMAGE_BAD_RECORD', `extended attribute of ${length} bytes at byte ${offset} overruns the ${area.length}-byte area`,
        { ...where, field: 'attribute length' })
    }
    attributes.push({
      type: area.readUInt32LE(offset),
      subtype: area[offset + 4],
      reserved: area.subarray(offset + 5, offset + 8),
      data: area.subarray(offset + 12, offset + length)
    })
    offset += length
  }
  return {
    tag,
    implementationAttributesLocation: area.readUInt32LE(16),
    applicationAttributesLocation: area.readUInt32LE(20),
    attributes
  }
}

export function serializeExtendedAttributes (eas: ExtendedAttributes): Buffer {
  const parts = eas.attributes.map(a => {
    const head = Buffer.alloc(12)
    head.writeUInt32LE(a.type, 0)
    head[4] = a.subtype
    a.reserved.copy(head, 5, 0, 3)
    head.writeUInt32LE(12 + a.data.length, 8)
    return Buffer.concat([head, a.data])
  })
  const header = Buffer.alloc(EA_HEADER_SIZE)
  serializeTag(eas.tag, header)
  header.writeUInt32LE(eas.implementationAttributesLocation, 16)
  header.writeUInt32LE(eas.applicationAttributesLocation, 20)
  sealDescriptor(header, 0, eas.tag.crcLength)
  return Buffer.concat([header, ...parts])
}

/** The device numbers of a device specification attribute, if the list has one. */
export function deviceNumbers (eas: ExtendedAttributes): { major: number, minor: number } | undefined {
  const device = eas.attributes.find(a => a.type === AttributeType.DEVICE_SPECIFICATION && a.data.length >= 12)
  if (device === undefined) return undefined
  return { major: device.data.readUInt32LE(4), minor: device.data.readUInt32LE(8) }
}

