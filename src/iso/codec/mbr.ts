/*
 * The master boot record in the first 512 bytes of the system area (ECMA-119 6.2.1 leaves sectors 0-15 to
 * the system). isohybrid images (syslinux isohybrid, xorriso -isohybrid-mbr) put boot code there, the
 * 512-byte LBA of the El Torito boot image at byte 432, a disk id at 440 and a partition table at 446.
 */

export const MBR_SIZE = 512
export const MBR_PARTITION_TABLE = 446
export const MBR_PARTITION_ENTRY_SIZE = 16
/** syslinux isohybrid: "Offset 432: LBA of isolinux.bin", in 512-byte sectors (64-bit, little-endian). */
export const ISOHYBRID_BOOT_LBA_OFFSET = 432
export const MBR_DISK_ID_OFFSET = 440

export interface MbrPartition {
  status: number
  chsStart: Buffer
  type: number
  chsEnd: Buffer
  lbaStart: number
  sectors: number
}

export interface Mbr {
  /** Bytes 0-445 as recorded: boot code, isohybrid fields, disk id. */
  head: Buffer
  partitions: MbrPartition[]
}

export function hasMbrSignature (sector: Buffer): boolean {
  return sector.length >= MBR_SIZE && sector[510] === 0x55 && sector[511] === 0xaa
}

export function parseMbr (sector: Buffer): Mbr | undefined {
  if (!hasMbrSignature(sector)) return undefined
  const partitions: MbrPartition[] = []
  for (let i = 0; i < 4; i++) {
    const e = sector.subarray(MBR_PARTITION_TABLE + i * 16, MBR_PARTITION_TABLE + (i + 1) * 16)
    partitions.push({
      status: e[0],
      chsStart: Buffer.from(e.subarray(1, 4)),
      type: e[4],
      chsEnd: Buffer.from(e.subarray(5, 8)),
      lbaStart: e.readUInt32LE(8),
      sectors: e.readUInt32LE(12)
    })
  }
  return { head: Buffer.from(sector.subarray(0, MBR_PARTITION_TABLE)), partitions }
}

export function serializeMbr (mbr: Mbr): Buffer {
  const sector = Buffer.alloc(MBR_SIZE)
  mbr.head.copy(sector, 0, 0, MBR_PARTITION_TABLE)
  mbr.partitions.slice(0, 4).forEach((p, i) => {
    const e = sector.subarray(MBR_PARTITION_TABLE + i * 16, MBR_PARTITION_TABLE + (i + 1) * 16)
    e[0] = p.status
    p.chsStart.copy(e, 1, 0, 3)
    e[4] = p.type
    p.chsEnd.copy(e, 5, 0, 3)
    e.writeUInt32LE(p.lbaStart >>> 0, 8)
    e.writeUInt32LE(p.sectors >>> 0, 12)
  })
  sector[510] = 0x55
  sector[511] = 0xaa
  return sector
}

/** The isohybrid boot image pointer, in 512-byte sectors (0 when absent). */
export function isohybridBootLba512 (mbr: Mbr): number {
  return mbr.head.readUInt32LE(ISOHYBRID_BOOT_LBA_OFFSET) + mbr.head.readUInt32LE(ISOHYBRID_BOOT_LBA_OFFSET + 4) * 2 ** 32
}

/** Cylinder/head/sector address of a 512-byte LBA for the given geometry, as packed in MBR entries. */
export function chsOf (lba: number, heads: number, sectorsPerTrack: number): Buffer {
  const maxCylinder = 1023
  let cylinder = Math.floor(lba / (heads * sectorsPerTrack))
  let head = Math.floor(lba / sectorsPerTrack) % heads
  let sector = (lba % sectorsPerTrack) + 1
  if (cylinder > maxCylinder) {
    cylinder = maxCylinder
    head = heads - 1
    sector = sectorsPerTrack
  }
  return Buffer.from([head, sector | ((cylinder >> 2) & 0xc0), cylinder & 0xff])
}
