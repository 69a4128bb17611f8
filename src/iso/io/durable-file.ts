import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import { currentPlatform } from '../../platform'

/*
 * Files that must reach the disk whole or not at all: the temporary image a remaster renames over the old
 * one, the journal beside it. Kept apart from the writer so that what a mount needs before it serves (a
 * journal to replay, temporaries to clear) loads without it.
 */

/** The name a temporary image of `target` starts with; the writer adds its pid and a time. */
export function temporaryPrefix (target: string): string {
  return `.${path.basename(target)}.isomount-`
}

/**
 * Removes what a killed writer left beside `target`: temporary images of processes that no longer run.
 * Returns how many. (The target itself was never touched by them: they are renamed over it only whole.)
 */
export function removeStaleTemporaries (target: string): number {
  const dir = path.dirname(path.resolve(target))
  const prefix = temporaryPrefix(target)
  let removed = 0
  for (const name of fs.readdirSync(dir)) {
    const pid = name.startsWith(prefix) && name.endsWith('.tmp') ? Number(name.slice(prefix.length).split('-')[0]) : NaN
    if (!Number.isInteger(pid) || currentPlatform().processStatus(pid) !== undefined) continue
    fs.rmSync(path.join(dir, name), { force: true })
    removed++
  }
  return removed
}

export async function checkFreeSpace (dir: string, bytes: number): Promise<void> {
  const st = await fs.promises.statfs(dir)
  const available = st.bavail * st.bsize
  if (available < bytes) {
    throw new InvalidInputError('NO_SPACE', `${dir} has ${available} bytes free; the image needs ${bytes}`)
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export function syncDirectory (dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
