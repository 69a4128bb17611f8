import { Readable } from 'node:stream'
import { InvalidInputError } from '../errors'
import { logger } from '../log'
import { WarningLog } from './codec/diagnostics'
import { volumeDateToMs } from './codec/datetime'
import { parseDirectoryRecord, type DirectoryRecord } from './codec/directory-record'
import type { JolietLevel } from './codec/joliet'
import { rockRidgeVersionOf, type RockRidgeVersion } from './codec/rock-ridge'
import { parseER, parseSP } from './codec/susp'
import { decodeText } from './codec/text'
import { SECTOR_SIZE, type VolumeDescriptor } from './codec/volume-descriptor'
import { FileByteSource, readExactly, type ByteSource } from './io/byte-source'
import { NAMESPACES, NamespaceView, type Namespace, type ViewOptions } from './namespace'
import type { Node } from './model/node'
import { statOf, type Stat } from './model/stat'
import type { DescriptorSet } from './read/descriptors'
import { readElTorito, type ElToritoInfo } from './read/el-torito'
import { SectorCache } from './read/sector-cache'
import { selectDescriptorSet } from './read/sessions'
import { collectSystemUse } from './read/system-use'
import { readSystemArea, type SystemAreaInfo } from './read/system-area'
import { TreeLoader } from './read/tree-loader'

const log = logger('read')

export interface OpenOptions {
  /** Every irregularity is an error instead of a warning (mount option check=strict). */
  strict?: boolean
  /** Interpret Rock Ridge when present (default true; isofs `norock` sets false). */
  rockRidge?: boolean
  /** Read the Joliet tree when present (default true; isofs `nojoliet` sets false). */
  joliet?: boolean
  /** 1-based session to read (default: the newest). */
  session?: number
}

/** The volume's identification, decoded for people. */
export interface VolumeInfo {
  systemId: string
  volumeId: string
  volumeSetId: string
  publisherId: string
  preparerId: string
  applicationId: string
  copyrightFileId: string
  abstractFileId: string
  bibliographicFileId: string
  createdMs?: number
  modifiedMs?: number
  expiresMs?: number
  effectiveMs?: number
  volumeSpaceSize: number
  volumeSetSize: number
  volumeSequenceNumber: number
  logicalBlockSize: number
}

export interface Extensions {
  /** SUSP is in use (SP entry in the root's "." record); `skip` is its skip length. */
  susp?: { skip: number }
  rockRidge?: { version: RockRidgeVersion | 'unknown', identifiers: string[] }
  joliet?: { level: JolietLevel, volumeId: string }
  /** An ISO 9660:1999 enhanced volume descriptor is present (genisoimage -iso-level 4). */
  enhanced: boolean
}

export interface DirectoryEntry {
  name: string
  node: Node
}

/**
 * An ISO9660 image opened for reading: descriptors and the root are read at open, everything else when
 * first used, so opening costs the same whatever the number of files.
 */
export class IsoImage {
  private constructor (
    readonly source: ByteSource,
    private readonly owned: FileByteSource | undefined,
    readonly descriptors: DescriptorSet,
    readonly volume: VolumeInfo,
    readonly extensions: Extensions,
    readonly root: Node,
    readonly elTorito: ElToritoInfo | undefined,
    readonly systemArea: SystemAreaInfo,
    readonly diagnostics: WarningLog
  ) {}

  /** Opens an image file by path, by an open descriptor, or from any ByteSource. */
  static async open (target: string | number | ByteSource, options: OpenOptions = {}): Promise<IsoImage> {
    let owned: FileByteSource | undefined
    let source: ByteSource
    if (typeof target === 'string') source = owned = await FileByteSource.open(target)
    else if (typeof target === 'number') source = await FileByteSource.fromFd(target)
    else source = target
    try {
      return await IsoImage.read(source, owned, options)
    } catch (err) {
      await owned?.close()
      throw err
    }
  }

  private static async read (source: ByteSource, owned: FileByteSource | undefined, options: OpenOptions): Promise<IsoImage> {
    const diag = new WarningLog(options.strict === true)
    const descriptors = await selectDescriptorSet(source, diag, options.session)
    const primary = descriptors.primary
    if (primary.volumeSpaceSize * SECTOR_SIZE > source.size) {
      diag.warn({ structure: 'primary volume descriptor', lba: descriptors.primaryLba, field: 'volume space size' },
        `image is truncated: ${Math.floor(source.size / SECTOR_SIZE)} of ${primary.volumeSpaceSize} blocks present`)
    }
    const sectors = new SectorCache(source)
    const rootSelf = await readRootSelf(source, primary.root, diag)
    const extensions = await detectExtensions(descriptors, rootSelf, sectors, diag)
    const useRockRidge = options.rockRidge !== false && extensions.rockRidge !== undefined
    const useJoliet = options.joliet !== false && descriptors.joliet !== undefined
    const loader = new TreeLoader(source, sectors, diag, {
      rockRidge: useRockRidge, suspSkip: extensions.susp?.skip ?? 0, joliet: useJoliet
    })
    const root = await loader.root(primary.root, rootSelf, descriptors.joliet?.descriptor.root)
    const elTorito = descriptors.bootRecord !== undefined
      ? await readElTorito(source, descriptors.bootRecord, descriptors.primaryLba, diag)
      : undefined
    const systemArea = await readSystemArea(source, diag)
    if (!useRockRidge) delete extensions.rockRidge
    if (!useJoliet) delete extensions.joliet
    log('opened: %o', { volume: decodeText(primary.volumeId, 'ascii'), extensions })
    return new IsoImage(source, owned, descriptors, volumeInfo(primary), extensions, root, elTorito, systemArea, diag)
  }

  /** Namespaces this image offers, in the order the kernel prefers them. */
  get namespaces (): Namespace[] {
    return NAMESPACES.filter(ns =>
      (ns === 'rockridge' && this.extensions.rockRidge !== undefined) ||
      (ns === 'joliet' && this.extensions.joliet !== undefined) ||
      ns === 'iso9660')
  }

  /** Rock Ridge when present, else Joliet, else plain ISO9660 (Linux isofs's rule). */
  get defaultNamespace (): Namespace {
    return this.namespaces[0]
  }

  get warnings (): readonly string[] {
    return this.diagnostics.messages
  }

  view (namespace: Namespace = this.defaultNamespace, options: ViewOptions = {}): NamespaceView {
    if (!this.namespaces.includes(namespace)) {
      throw new InvalidInputError('UNSUPPORTED', `the image has no ${namespace} namespace (it has: ${this.namespaces.join(', ')})`)
    }
    return new NamespaceView(namespace, options)
  }

  async lookup (path: string, namespace?: Namespace): Promise<Node> {
    return await this.view(namespace).resolve(this.root, path)
  }

  async stat (path: string, namespace?: Namespace): Promise<Stat> {
    return statOf(await this.lookup(path, namespace))
  }

  async readdir (path: string, namespace?: Namespace): Promise<DirectoryEntry[]> {
    const view = this.view(namespace)
    const dir = await view.resolve(this.root, path)
    return [...(await view.entries(dir))].map(([name, node]) => ({ name, node }))
  }

  async readlink (path: string, namespace?: Namespace): Promise<string> {
    const node = await this.lookup(path, namespace)
    if (node.inode.symlinkTarget === undefined) throw new InvalidInputError('NOT_A_SYMLINK', `${path} is not a symbolic link`)
    return node.inode.symlinkTarget
  }

  /** A file's content as a stream, read in 1 MiB positional reads. */
  async createReadStream (path: string, namespace?: Namespace): Promise<Readable> {
    const node = await this.lookup(path, namespace)
    if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${path} is a directory`)
    return contentStream(node)
  }

  async readFile (path: string, namespace?: Namespace): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of await this.createReadStream(path, namespace)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  /**
   * Every entry below `path`, depth first in directory order, parents before children. Iterative, so
   * depth is bounded by memory, not by the call stack.
   */
  async * walk (path = '/', namespace?: Namespace): AsyncGenerator<{ path: string, node: Node }> {
    const view = this.view(namespace)
    const start = await view.resolve(this.root, path)
    const stack: Array<{ path: string, node: Node }> = [{ path: path === '/' ? '' : path.replace(/\/+$/, ''), node: start }]
    while (stack.length > 0) {
      const { path: dirPath, node } = stack.pop() as { path: string, node: Node }
      if (node.dir === undefined) continue
      const children = [...(await view.entries(node))].map(([name, child]) => ({ path: `${dirPath}/${name}`, node: child }))
      for (const child of children) yield child
      for (let i = children.length - 1; i >= 0; i--) if (children[i].node.isDirectory) stack.push(children[i])
    }
  }

  async close (): Promise<void> {
    await this.owned?.close()
  }
}

export function contentStream (node: Node, chunkSize = 1024 * 1024): Readable {
  const data = node.inode.data
  let position = 0
  return new Readable({
    highWaterMark: chunkSize,
    read () {
      if (position >= data.size) {
        this.push(null)
        return
      }
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, data.size - position))
      data.read(buf, 0, buf.length, position).then(n => {
        position += n
        if (n === 0) this.destroy(new Error('file data ended early'))
        else this.push(n === buf.length ? buf : buf.subarray(0, n))
      }, err => this.destroy(err))
    }
  })
}

async function readRootSelf (source: ByteSource, root: DirectoryRecord, diag: WarningLog): Promise<DirectoryRecord | undefined> {
  const where = { structure: 'root directory', lba: root.extent }
  const sector = await readExactly(source, root.extent * SECTOR_SIZE, SECTOR_SIZE, where)
  return parseDirectoryRecord(sector, 0, SECTOR_SIZE, diag, where)
}

/**
 * SUSP and Rock Ridge are announced in the root's "." record (SUSP 5.3 SP, 5.5 ER). Images without an ER
 * (mkisofs before 1.10) are still Rock Ridge when RRIP entries appear there.
 */
async function detectExtensions (
  descriptors: DescriptorSet, rootSelf: DirectoryRecord | undefined, sectors: SectorCache, diag: WarningLog
): Promise<Extensions> {
  const extensions: Extensions = { enhanced: descriptors.enhanced !== undefined }
  if (descriptors.joliet !== undefined) {
    extensions.joliet = { level: descriptors.joliet.level, volumeId: decodeText(descriptors.joliet.descriptor.volumeId, 'ucs2') }
  }
  if (rootSelf === undefined) return extensions
  const where = { structure: 'root "." record', lba: descriptors.primary.root.extent }
  const entries = await collectSystemUse(rootSelf.systemUse, 0, sectors, diag, where)
  const sp = entries.find(e => e.signature === 'SP')
  const indicator = sp !== undefined ? parseSP(sp) : undefined
  if (indicator !== undefined) extensions.susp = { skip: indicator.skip }
  const identifiers = entries.filter(e => e.signature === 'ER').map(e => parseER(e, where).identifier)
  const version = identifiers.map(rockRidgeVersionOf).find(v => v !== undefined)
  const hasRripEntries = entries.some(e => ['PX', 'NM', 'TF', 'RR', 'SL', 'PN'].includes(e.signature))
  if (version !== undefined || hasRripEntries) {
    extensions.rockRidge = { version: version ?? 'unknown', identifiers }
    extensions.susp ??= { skip: 0 }
  }
  return extensions
}

function volumeInfo (pvd: VolumeDescriptor): VolumeInfo {
  const text = (field: Buffer): string => decodeText(field, 'ascii')
  const info: VolumeInfo = {
    systemId: text(pvd.systemId),
    volumeId: text(pvd.volumeId),
    volumeSetId: text(pvd.volumeSetId),
    publisherId: text(pvd.publisherId),
    preparerId: text(pvd.preparerId),
    applicationId: text(pvd.applicationId),
    copyrightFileId: text(pvd.copyrightFileId),
    abstractFileId: text(pvd.abstractFileId),
    bibliographicFileId: text(pvd.bibliographicFileId),
    volumeSpaceSize: pvd.volumeSpaceSize,
    volumeSetSize: pvd.volumeSetSize,
    volumeSequenceNumber: pvd.volumeSequenceNumber,
    logicalBlockSize: pvd.logicalBlockSize
  }
  const dates = { createdMs: pvd.created, modifiedMs: pvd.modified, expiresMs: pvd.expires, effectiveMs: pvd.effective }
  for (const [key, date] of Object.entries(dates)) {
    const ms = volumeDateToMs(date)
    if (ms !== undefined) info[key as 'createdMs'] = ms
  }
  return info
}
