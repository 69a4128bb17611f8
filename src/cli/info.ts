import { decodeText } from '../iso/codec/text'
import { guidToString } from '../iso/codec/gpt'
import { entityIdText, revisionText } from '../iso/codec/udf/entity-id'
import { IntegrityType } from '../iso/codec/udf/integrity'
import { accessTypeName } from '../iso/codec/udf/volume-descriptors'
import { DescriptorType, isVolumeDescriptor } from '../iso/codec/volume-descriptor'
import { userMessage } from '../errors'
import type { IsoImage } from '../iso/image'
import { ImageExtentsSource } from '../iso/model/data-source'
import type { UdfVolume } from '../iso/read/udf/volume'
import { dateString } from './format'
import { carriedChecksums, hasSessionMd5, type MediaChecksums } from '../iso/checksum/carried'

const PLATFORMS: Record<number, string> = { 0x00: 'x86 (BIOS)', 0x01: 'PowerPC', 0x02: 'Mac', 0xef: 'EFI' }
const EMULATIONS = ['none', '1.2M floppy', '1.44M floppy', '2.88M floppy', 'hard disk']
const COVERS: Record<string, string> = {
  volume: 'the ISO volume', device: 'the whole device', file: 'a file', region: 'a carried region', gap: 'a gap filler', fixed: 'the system area', map: 'the partition map'
}

/** What `isotool info` prints: the same facts as text or JSON. */
export async function describeImage (image: IsoImage, path: string, json: boolean): Promise<string> {
  const bootPaths = await pathsByLba(image, [
    ...(image.elTorito?.images.map(i => i.loadLba) ?? []),
    ...(image.elTorito !== undefined ? [image.elTorito.catalogLba] : [])
  ])
  // Read before the warnings are collected: a path table that disagrees with the tree adds one.
  const pathTables = await image.origin?.pathTables() ?? []
  const writable = await writability(image)
  // A UDF file system alone (mkudffs) has no ISO9660 descriptors, where these checksums live.
  const descriptors = image.origin?.descriptors
  const checksums: MediaChecksums = descriptors !== undefined ? await carriedChecksums(image.source, descriptors) : { sessionTags: [] }
  const facts = {
    image: path,
    size: image.source.size,
    volume: image.volume,
    namespaces: image.namespaces,
    extensions: image.extensions,
    descriptors: (image.origin?.descriptors?.descriptors ?? []).map(({ lba, descriptor }) => ({ lba, type: descriptorName(descriptor) })),
    udf: image.origin?.udf !== undefined ? udfFacts(image.origin.udf) : undefined,
    pathTables: pathTables.map(r => ({ ...r, tables: r.tables.map(({ records, ...rest }) => ({ ...rest, records: records?.length })) })),
    elTorito: image.elTorito === undefined ? undefined : {
      catalogLba: image.elTorito.catalogLba,
      catalogPath: bootPaths.get(image.elTorito.catalogLba),
      images: image.elTorito.images.map(({ entry, ...rest }) => ({ ...rest, path: bootPaths.get(rest.loadLba) }))
    },
    systemArea: {
      used: image.systemArea.used,
      isohybridBootLba512: image.systemArea.isohybridBootLba512,
      // Numbered by slot (1-4) as fdisk and xorriso -report_system_area number them; empty slots left out.
      mbr: image.systemArea.mbr?.partitions.map((p, i) => ({
        index: i + 1, active: p.status === 0x80, type: p.type, start: p.lbaStart, sectors: p.sectors
      })).filter(p => p.type !== 0 || p.sectors !== 0),
      gpt: image.systemArea.gpt?.partitions.map((p, i) => ({
        index: p.index ?? i + 1,
        type: guidToString(p.typeGuid), name: p.name, firstLba: p.firstLba, lastLba: p.lastLba
      })),
      /** What each entry covers and what a commit does with it (IsoImage.partitions()). */
      partitions: image.partitions()
    },
    writable,
    checksums: {
      implantisomd5: checksums.implanted !== undefined,
      xorrisoSessionMd5: hasSessionMd5(checksums)
    },
    warnings: image.warnings
  }
  if (json) return JSON.stringify(facts, null, 2) + '\n'

  const v = image.volume
  const lines = [
    `Image:          ${path} (${image.source.size} bytes)`,
    `Volume id:      ${v.volumeId}`,
    `System id:      ${v.systemId}`,
    `Volume set id:  ${v.volumeSetId}`,
    `Publisher:      ${v.publisherId}`,
    `Preparer:       ${v.preparerId}`,
    `Application:    ${v.applicationId}`,
    `Created:        ${v.createdMs !== undefined ? dateString(v.createdMs) : '-'}`,
    `Modified:       ${v.modifiedMs !== undefined ? dateString(v.modifiedMs) : '-'}`,
    `Volume size:    ${v.volumeSpaceSize} blocks of ${v.logicalBlockSize} bytes`,
    `Descriptors:    ${image.origin?.descriptors === undefined && image.origin !== undefined ? 'none (no ISO9660 volume)' : facts.descriptors.map(d => `${d.lba} ${d.type}`).join(', ')}`,
    `Rock Ridge:     ${image.extensions.rockRidge !== undefined ? `${image.extensions.rockRidge.version} ${image.extensions.rockRidge.identifiers.join(' ')}` : 'no'}`,
    `Joliet:         ${image.extensions.joliet !== undefined ? `level ${image.extensions.joliet.level}, volume id ${image.extensions.joliet.volumeId}` : 'no'}`,
    `ISO 9660:1999:  ${image.extensions.enhanced ? 'enhanced volume descriptor present' : 'no'}`,
    ...udfLines(facts.udf),
    `Namespaces:     ${image.namespaces.join(', ')}`,
    `Writable:       ${writable.writable ? 'yes' : `no: ${writable.reason ?? ''}`}`,
    `Checksums:      ${checksumSummary(checksums)}`,
    ...pathTables.map(r => `Path tables:    ${r.tree}: ${r.tables.map(c => `${c.kind} at LBA ${c.lba}`).join(', ')}; ` +
      `${r.directories} directories, ${r.consistent ? 'consistent with the directory records' : 'NOT consistent with the directory records (see warnings)'}`)
  ]
  if (facts.elTorito === undefined) {
    lines.push('El Torito:      no')
  } else {
    lines.push(`El Torito:      catalog at LBA ${facts.elTorito.catalogLba}${facts.elTorito.catalogPath !== undefined ? ` (${facts.elTorito.catalogPath})` : ' (hidden)'}`)
    lines.push('  #  platform     boot  emulation     seg     sectors  LBA       info-table  path')
    for (const i of facts.elTorito.images) {
      lines.push(`  ${String(i.index).padEnd(2)} ${(PLATFORMS[i.platform] ?? `0x${i.platform.toString(16)}`).padEnd(12)} ` +
        `${(i.bootable ? 'yes' : 'no').padEnd(5)} ${(EMULATIONS[i.emulation] ?? String(i.emulation)).padEnd(13)} ` +
        `0x${i.loadSegment.toString(16).padStart(4, '0')}  ${String(i.sectorCount).padEnd(8)} ${String(i.loadLba).padEnd(9)} ` +
        `${(i.bootInfoTable ? 'yes' : 'no').padEnd(11)} ${i.path ?? '(hidden)'}`)
    }
  }
  const sa = facts.systemArea
  if (!sa.used) {
    lines.push('System area:    empty')
  } else {
    lines.push(`System area:    ${sa.mbr !== undefined ? 'MBR' : 'no MBR'}${sa.isohybridBootLba512 !== undefined ? `, isohybrid boot image at 512-byte LBA ${sa.isohybridBootLba512}` : ''}${sa.gpt !== undefined ? ', GPT' : ''}`)
    const role = (table: string, index: number): string => {
      const p = sa.partitions.find(d => d.table === table && d.index === index)
      return p === undefined ? '' : `  [${COVERS[p.covers]}; ${p.onCommit === 'kept' ? 'kept as it is' : 'follows it'}]`
    }
    for (const p of sa.mbr ?? []) {
      lines.push(`  MBR ${p.index}: ${p.active ? 'active, ' : ''}type 0x${p.type.toString(16).padStart(2, '0')}, start ${p.start}, ${p.sectors} sectors${role('mbr', p.index)}`)
    }
    for (const p of sa.gpt ?? []) {
      lines.push(`  GPT ${p.index}: ${p.type} "${p.name}" blocks ${p.firstLba}-${p.lastLba}${role('gpt', p.index)}`)
    }
    for (const p of sa.partitions.filter(d => d.table === 'apm')) {
      lines.push(`  APM ${p.index}: ${p.type} "${p.name ?? ''}" blocks ${p.start}-${p.start + p.blocks - 1}${role('apm', p.index)}`)
    }
  }
  for (const w of image.warnings) lines.push(`Warning:        ${w}`)
  return lines.join('\n') + '\n'
}

type UdfFacts = ReturnType<typeof udfFacts>

/** The UDF volume: revision, names, partitions and what its integrity descriptor counts. */
function udfFacts (udf: UdfVolume): {
  revision: string, recognition: string, blockSize: number, sequence: string, anchorLba: number,
  volumeId: string, logicalVolumeId: string, volumeSetId: string, fileSetId: string, implementation: string,
  partitions: Array<{ reference: number, map: string, number?: number, start?: number, blocks?: number, accessType?: string }>,
  integrity?: { state: string, files?: number, directories?: number, nextUniqueId: string, freeBlocks: number[], sizes: number[], minReadRevision?: string, minWriteRevision?: string, maxWriteRevision?: string }
} {
  const byNumber = new Map(udf.partitions.map(p => [p.number, p]))
  const integrity = udf.integrity
  const use = udf.integrityUse
  return {
    revision: revisionText(udf.revision),
    recognition: udf.nsr,
    blockSize: udf.blockSize,
    sequence: udf.sequence,
    anchorLba: udf.anchorLocation,
    volumeId: udf.volumeId,
    logicalVolumeId: udf.logicalVolumeId,
    volumeSetId: udf.volumeSetId,
    fileSetId: udf.fileSetId,
    implementation: entityIdText(udf.primary.implementationId),
    partitions: udf.logicalVolume.partitionMaps.map((map, reference) => {
      const number = 'partitionNumber' in map ? map.partitionNumber : undefined
      const pd = number !== undefined ? byNumber.get(number) : undefined
      const kind = 'kind' in map ? map.kind : 'type 1'
      return { reference, map: kind, number, start: pd?.start, blocks: pd?.length, accessType: pd !== undefined ? accessTypeName(pd.accessType) : undefined }
    }),
    integrity: integrity === undefined ? undefined : {
      state: integrity.integrityType === IntegrityType.CLOSE ? 'closed' : integrity.integrityType === IntegrityType.OPEN ? 'open' : `type ${integrity.integrityType}`,
      files: use?.files,
      directories: use?.directories,
      nextUniqueId: integrity.nextUniqueId.toString(),
      freeBlocks: integrity.freeSpace,
      sizes: integrity.sizes,
      minReadRevision: use !== undefined ? revisionText(use.minReadRevision) : undefined,
      minWriteRevision: use !== undefined ? revisionText(use.minWriteRevision) : undefined,
      maxWriteRevision: use !== undefined ? revisionText(use.maxWriteRevision) : undefined
    }
  }
}

function udfLines (udf: UdfFacts | undefined): string[] {
  if (udf === undefined) return ['UDF:            no']
  const lines = [
    `UDF:            revision ${udf.revision} (${udf.recognition}), ${udf.blockSize}-byte blocks, anchor at ${udf.anchorLba}, ${udf.sequence} descriptor sequence`,
    `  Volume id:    ${udf.volumeId}; logical volume ${udf.logicalVolumeId}; file set ${udf.fileSetId}`,
    `  Volume set:   ${udf.volumeSetId}`,
    `  Written by:   ${udf.implementation}`
  ]
  for (const p of udf.partitions) {
    lines.push(`  Partition ${p.reference}:  ${p.map}${p.number !== undefined ? `, number ${p.number}` : ''}` +
      `${p.start !== undefined && p.blocks !== undefined ? `, blocks ${p.start}-${p.start + p.blocks - 1} (${p.blocks})` : ''}${p.accessType !== undefined ? `, ${p.accessType}` : ''}`)
  }
  const i = udf.integrity
  if (i === undefined) {
    lines.push('  Integrity:    no descriptor read')
  } else {
    lines.push(`  Integrity:    ${i.state}, ${i.files ?? '?'} files, ${i.directories ?? '?'} directories, next unique ID ${i.nextUniqueId}, ` +
      `free blocks ${i.freeBlocks.map(f => f === 0xffffffff ? '?' : String(f)).join('/')} of ${i.sizes.join('/')}` +
      `${i.minReadRevision !== undefined ? `; read ${i.minReadRevision}+, written by ${i.minWriteRevision}-${i.maxWriteRevision ?? '?'}` : ''}`)
  }
  return lines
}

/** Whether a commit could write this image, by the very check a commit makes (it reads the whole tree). */
async function writability (image: IsoImage): Promise<{ writable: boolean, reason?: string, code?: string }> {
  try {
    await image.requireUnderstood()
    return { writable: true }
  } catch (err) {
    return { writable: false, reason: userMessage(err), code: (err as { data?: { reason?: string } }).data?.reason }
  }
}

function descriptorName (d: { type: number, version: number }): string {
  switch (d.type) {
    case DescriptorType.BOOT_RECORD: return 'boot record'
    case DescriptorType.PRIMARY: return 'primary'
    case DescriptorType.SUPPLEMENTARY: {
      const vd = d as Parameters<typeof isVolumeDescriptor>[0]
      if (!isVolumeDescriptor(vd)) return 'supplementary'
      if (vd.version === 2) return 'enhanced (ISO 9660:1999)'
      return decodeText(vd.escapeSequences, 'ascii') !== '' ? 'supplementary (Joliet)' : 'supplementary'
    }
    case DescriptorType.PARTITION: return 'partition'
    default: return `type ${d.type}`
  }
}

/** Paths of the files whose data starts at the given LBAs (boot images, the boot catalog). */
async function pathsByLba (image: IsoImage, lbas: number[]): Promise<Map<number, string>> {
  const wanted = new Set(lbas)
  const found = new Map<number, string>()
  if (wanted.size === 0) return found
  for await (const { path, node } of image.walk('/')) {
    const data = node.inode.data
    if (data instanceof ImageExtentsSource && wanted.has(data.lba) && !found.has(data.lba)) {
      found.set(data.lba, path)
      if (found.size === wanted.size) break
    }
  }
  return found
}

/** Which checksums the image carries and what a commit does with each (`isotool verify` checks them). */
function checksumSummary (checksums: MediaChecksums): string {
  const parts: string[] = []
  if (checksums.implanted !== undefined) parts.push('implantisomd5 (a commit writes it afresh)')
  if (hasSessionMd5(checksums)) {
    parts.push(checksums.implanted !== undefined
      ? 'xorriso session and file MD5s (-md5 on; a commit drops them: implantisomd5\'s sum and they would cover each other)'
      : 'xorriso session and file MD5s (-md5 on; a commit writes them afresh, with a whole tree)')
  }
  return parts.length > 0 ? parts.join('; ') : 'none'
}
