import type { ImageLocation } from '../../errors'
import { SECTOR_SIZE } from '../codec/volume-descriptor'
import { readExactly, type ByteSource } from '../io/byte-source'

/**
 * A small cache of recently read sectors. SUSP continuation areas of many records share a sector
 * (genisoimage and xorriso pack them), so a directory load would otherwise read one sector per record.
 */
export class SectorCache {
  private readonly sectors = new Map<number, Promise<Buffer>>()

  constructor (private readonly source: ByteSource, private readonly capacity = 64) {}

  /** The image's size in bytes: what a pointer read from the image is checked against before a read. */
  get size (): number {
    return this.source.size
  }

  async readRange (lba: number, offset: number, length: number, where: ImageLocation): Promise<Buffer> {
    if (offset + length <= SECTOR_SIZE) {
      const sector = await this.sector(lba, where)
      return sector.subarray(offset, offset + length)
    }
    return await readExactly(this.source, lba * SECTOR_SIZE + offset, length, where)
  }

  private sector (lba: number, where: ImageLocation): Promise<Buffer> {
    let sector = this.sectors.get(lba)
    if (sector === undefined) {
      if (this.sectors.size >= this.capacity) this.sectors.delete(this.sectors.keys().next().value as number)
      sector = readExactly(this.source, lba * SECTOR_SIZE, SECTOR_SIZE, where)
      sector.catch(() => this.sectors.delete(lba))
      this.sectors.set(lba, sector)
    }
    return sector
  }
}
