import { constants as fsConstants } from 'node:fs'
import { InvalidInputError } from '../errors'
import type { IsoImage } from '../iso/image'
import { S_IFMT } from '../iso/model/inode'
import type { Node } from '../iso/model/node'
import { statOf, type Stat } from '../iso/model/stat'
import type { NamespaceView } from '../iso/namespace'
import type { MountOptions } from './mount-options'
import type { FsStats, Vfs } from './vfs'

/** open(2) access mode bits (O_RDONLY, O_WRONLY, O_RDWR): 3 on Linux and macOS; Node does not export it. */
const O_ACCMODE = 3

/** Name length limits per namespace: Rock Ridge NM has no limit but POSIX's; Joliet -joliet-long 103. */
const NAME_MAX = { rockridge: 255, joliet: 103, iso9660: 207 }

/** A VFS over an opened image through one namespace view. */
export class ImageVfs implements Vfs {
  readonly view: NamespaceView
  private readonly handles = new Map<number, Node>()
  private nextHandle = 1

  constructor (readonly image: IsoImage, private readonly options: MountOptions) {
    this.view = image.view(options.namespace ?? image.defaultNamespace, {
      hideHidden: options.hide,
      showAssociated: options.showassoc
    })
  }

  async getattr (path: string): Promise<Stat> {
    return this.stat(await this.resolve(path))
  }

  async readdir (path: string): Promise<string[]> {
    const node = await this.resolve(path)
    return [...(await this.view.entries(node)).keys()]
  }

  async readlink (path: string): Promise<string> {
    const node = await this.resolve(path)
    if (node.inode.symlinkTarget === undefined) throw new InvalidInputError('NOT_A_SYMLINK', `${path} is not a symbolic link`)
    return node.inode.symlinkTarget
  }

  async open (path: string, flags: number): Promise<number> {
    const node = await this.resolve(path)
    if ((flags & O_ACCMODE) !== fsConstants.O_RDONLY) {
      throw new InvalidInputError('READ_ONLY', 'the image is mounted read-only')
    }
    const handle = this.nextHandle++
    this.handles.set(handle, node)
    return handle
  }

  async read (handle: number, buf: Buffer, length: number, position: number): Promise<number> {
    const node = this.handles.get(handle)
    if (node === undefined) throw new InvalidInputError('BAD_HANDLE', `no open file with handle ${handle}`)
    if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', 'is a directory')
    const data = node.inode.data
    if (position >= data.size) return 0
    return await data.read(buf, 0, Math.min(length, data.size - position), position)
  }

  async release (handle: number): Promise<void> {
    this.handles.delete(handle)
  }

  async statfs (): Promise<FsStats> {
    return {
      blockSize: 2048,
      blocks: this.image.volume.volumeSpaceSize,
      blocksFree: 0,
      files: 0,
      filesFree: 0,
      nameMax: NAME_MAX[this.view.namespace],
      readOnly: true
    }
  }

  private async resolve (path: string): Promise<Node> {
    return await this.view.resolve(this.image.root, path)
  }

  /** isofs rules: uid=, gid=, mode= and dmode= apply where the image records no owner and mode. */
  private stat (node: Node): Stat {
    const stat = statOf(node)
    if (!stat.posix) {
      const permissions = node.isDirectory ? this.options.dmode : this.options.mode
      if (permissions !== undefined) stat.mode = (stat.mode & S_IFMT) | permissions
      if (this.options.uid !== undefined) stat.uid = this.options.uid
      if (this.options.gid !== undefined) stat.gid = this.options.gid
    }
    return stat
  }
}
