/*
 * The boot info table genisoimage/mkisofs patch into a no-emulation boot file with -boot-info-table
 * (mkisofs man page, "-boot-info-table"): at byte 8, four little-endian 32-bit fields, then 40 zero bytes.
 * isolinux and GRUB's eltorito.img read it to find themselves on the disc.
 */

export const BOOT_INFO_TABLE_OFFSET = 8
export const BOOT_INFO_TABLE_SIZE = 56
/** The checksum covers the file from byte 64 to its end. */
const CHECKSUM_START = 64

export interface BootInfoTable {
  pvdLba: number
  fileLba: number
  fileLength: number
  checksum: number
}

export function parseBootInfoTable (head: Buffer): BootInfoTable | undefined {
  if (head.length < BOOT_INFO_TABLE_OFFSET + 16) return undefined
  return {
    pvdLba: head.readUInt32LE(8),
    fileLba: head.readUInt32LE(12),
    fileLength: head.readUInt32LE(16),
    checksum: head.readUInt32LE(20)
  }
}

export function serializeBootInfoTable (table: BootInfoTable, into: Buffer): void {
  into.writeUInt32LE(table.pvdLba, 8)
  into.writeUInt32LE(table.fileLba, 12)
  into.writeUInt32LE(table.fileLength >>> 0, 16)
  into.writeUInt32LE(table.checksum >>> 0, 20)
  into.fill(0, 24, 64)
}

/**
 * Running 32-bit sum of little-endian words from byte 64 on, fed in chunks (`offset` = the chunk's position
 * in the file) so that a large boot file need not be in memory. A last partial word is zero-padded.
 */
export class BootInfoChecksum {
  private sum = 0
  private readonly pending = Buffer.alloc(4)
  private pendingLength = 0

  update (chunk: Buffer, offset: number): void {
    let start = Math.max(0, CHECKSUM_START - offset)
    while (start < chunk.length && this.pendingLength > 0) {
      this.pending[this.pendingLength++] = chunk[start++]
      if (this.pendingLength === 4) this.flushPending()
    }
    const whole = start + Math.floor((chunk.length - start) / 4) * 4
    for (let i = start; i < whole; i += 4) this.sum = (this.sum + chunk.readUInt32LE(i)) >>> 0
    for (let i = whole; i < chunk.length; i++) this.pending[this.pendingLength++] = chunk[i]
  }

  digest (): number {
    if (this.pendingLength > 0) {
      this.pending.fill(0, this.pendingLength)
      this.flushPending()
    }
    return this.sum
  }

  private flushPending (): void {
    this.sum = (this.sum + this.pending.readUInt32LE(0)) >>> 0
    this.pendingLength = 0
  }
}
