import * as path from 'node:path'
import { logger } from '../log'
import type { Caller } from '../vfs/vfs'

const log = logger('fuse')

/*
 * What our patch of fuse-native adds to its addon (scripts/build-fuse-native.js): the caller of the request
 * being answered, telling the kernel that a file's attributes changed under all its names, and emptying
 * the attributes the addon keeps from listings (it answers lookups of listed entries itself). The rest
 * of the project sees neither the addon nor libfuse: callers are plain values, invalidation a callback.
 */

interface Additions {
  fuse_native_caller?: () => [uid: number, gid: number, pid: number] | undefined
  fuse_native_invalidate?: (thread: Buffer, ino: number) => number
  fuse_native_forget_attributes?: (thread: Buffer) => void
}

/** The addon fuse-native loaded: node-gyp-build resolves the same file, and require() gives the same module. */
function loadAddon (): Additions {
  const dir = path.dirname(require.resolve('fuse-native/package.json'))
  const load = require(require.resolve('node-gyp-build', { paths: [dir] })) as (dir: string) => Additions
  return load(dir)
}

const addon = loadAddon()
if (addon.fuse_native_caller === undefined) {
  log('fuse-native was built without the request context (scripts/build-fuse-native.js): new files belong to the daemon\'s user')
}

/**
 * The process whose request the callback running now answers. Valid only synchronously inside a FUSE
 * callback (the libfuse thread waits there for our answer); undefined elsewhere, or with an addon built
 * without our patch.
 */
export function requestCaller (): Caller | undefined {
  const ids = addon.fuse_native_caller?.()
  return ids === undefined ? undefined : { uid: ids[0], gid: ids[1], pid: ids[2] }
}

/**
 * Has the kernel drop the cached attributes of every kernel inode showing our inode `ino` (one per name
 * looked up: libfuse's path API gives each name its own). `thread` is fuse-native's per-mount state.
 * Returns how many were told.
 */
export function invalidateInode (thread: Buffer, ino: number): number {
  return addon.fuse_native_invalidate?.(thread, ino) ?? 0
}

/**
 * Empties the attributes the addon answers lookups from (the entries of the latest listings): for changes
 * made other than through a request, which the addon sees itself (a commit, which may move what it shows).
 */
export function forgetAttributes (thread: Buffer): void {
  addon.fuse_native_forget_attributes?.(thread)
}
