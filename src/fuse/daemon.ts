import * as fs from 'node:fs'
import { InvalidInputError } from '../errors'
import { IsoImage } from '../iso/image'
import { logger } from '../log'
import { ImageVfs } from '../vfs/image-vfs'
import type { MountOptions } from '../vfs/mount-options'
import { ControlServer, type ControlRequest } from './control'
import { FuseMount } from './fuse-mount'
import { fuseOperations } from './operations'
import { controlSocketPath, ImageLock, removeMountRecord, writeMountRecord } from './runtime'

const log = logger('fuse')

export interface MountRequest {
  image: string
  mountpoint: string
  options: MountOptions
}

/**
 * Runs one mount to its end: lock the image, open it, mount, serve, and when the kernel lets go (our
 * `isomount -u`, umount(8), fusermount -u, or a signal) clean up. `ready` is called once the mount is live
 * or has failed. Resolves with the process exit status.
 */
export async function runMount (request: MountRequest, ready: (err?: Error) => void): Promise<number> {
  let lock: ImageLock | undefined
  let image: IsoImage | undefined
  let mount: FuseMount | undefined
  let control: ControlServer | undefined
  const { options } = request
  try {
    const imagePath = fs.realpathSync(request.image)
    const mountpoint = fs.realpathSync(request.mountpoint)
    if (!fs.statSync(mountpoint).isDirectory()) throw new InvalidInputError('NOT_A_DIRECTORY', `${mountpoint} is not a directory`)
    lock = ImageLock.acquire(imagePath)
    image = await IsoImage.open(imagePath, {
      strict: options.check === 'strict',
      rockRidge: !options.norock,
      joliet: !options.nojoliet,
      session: options.session
    })
    for (const warning of image.warnings) log('image warning: %s', warning)
    const vfs = new ImageVfs(image, options)
    mount = await FuseMount.start(fuseOperations(vfs), mountpoint, {
      readOnly: true,
      allowOther: options.allowOther,
      fsname: imagePath
    })
    const live = mount
    const opened = image
    const held = lock
    // Everything that must be done before anyone is told the mount is over: a waiting `isomount -u`
    // returns only after this, and the image lock is free by then.
    const finished = live.ended.then(async () => {
      log('unmounted %s', mountpoint)
      await opened.close()
      removeMountRecord(mountpoint)
      held.release()
    })
    const socket = controlSocketPath(mountpoint)
    const pending = new Set<Promise<unknown>>()
    control = await ControlServer.listen(socket, async (req: ControlRequest) => {
      switch (req.op) {
        case 'unmount': {
          const done = live.unmount().then(async () => await finished)
          pending.add(done)
          await done
          return `unmounted ${mountpoint}`
        }
        case 'sync':
          return 'nothing to commit: the mount is read-only'
        case 'status':
          return JSON.stringify({ image: imagePath, mountpoint, namespace: vfs.view.namespace, readOnly: true })
      }
    })
    writeMountRecord({ pid: process.pid, image: imagePath, mountpoint, socket })
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        log('%s: unmounting %s', signal, mountpoint)
        // A busy mount is detached instead; the session still ends only when its last user is gone.
        live.unmount().catch(() => live.detach())
      })
    }
    ready()
    await finished
    await Promise.allSettled(pending)
    return 0
  } catch (err) {
    ready(err as Error)
    if (mount !== undefined) await mount.detach()
    await image?.close()
    lock?.release()
    return 1
  } finally {
    // Closing after the last reply was handed to the socket lets a waiting client read it.
    await new Promise(resolve => setTimeout(resolve, 20))
    control?.close()
  }
}
