import { InvalidInputError } from '../../errors'
import type { Diagnostics } from '../codec/diagnostics'
import { WarningLog } from '../codec/diagnostics'
import { DESCRIPTORS_START, hasStandardIdentifier, SECTOR_SIZE } from '../codec/volume-descriptor'
import type { ByteSource } from '../io/byte-source'
import { readDescriptorSet, type DescriptorSet } from './descriptors'

/**
 * Sessions of an image file. A CD's sessions are listed by its TOC; an image file has none, so we find them
 * the way xorriso emulates a TOC on random-access media: the first 32 blocks hold a copy of the newest
 * session's descriptors, sessions start at block 32, each with its own descriptor set 16 blocks in, and
 * the next session begins at the end of the previous one rounded up to 32 blocks.
 */
export interface SessionInfo {
  start: number
  volumeSpaceSize: number
}

const SESSION_ALIGNMENT = 32
const MAX_SESSIONS = 1000

export async function listSessions (source: ByteSource): Promise<SessionInfo[]> {
  const quiet = new WarningLog(false)
  const newest = await readDescriptorSet(source, quiet, 0)
  const sessions: SessionInfo[] = []
  let lastRoot: number | undefined
  let start = SESSION_ALIGNMENT
  while (sessions.length < MAX_SESSIONS && await hasDescriptorAt(source, start)) {
    let set: DescriptorSet
    try {
      set = await readDescriptorSet(source, quiet, start)
    } catch {
      break
    }
    sessions.push({ start, volumeSpaceSize: set.primary.volumeSpaceSize })
    lastRoot = set.primary.root.extent
    const next = Math.ceil((start + set.primary.volumeSpaceSize) / SESSION_ALIGNMENT) * SESSION_ALIGNMENT
    if (next <= start) break
    start = next
  }
  // The chain is real only if it ends at the session block 16 describes; otherwise block 48 merely held
  // file data that looked like a descriptor (an ISO image stored inside this one, say).
  if (sessions.length === 0 || lastRoot !== newest.primary.root.extent) {
    return [{ start: 0, volumeSpaceSize: newest.primary.volumeSpaceSize }]
  }
  return sessions
}

/**
 * The descriptor set to read: the one at block 16 (the newest session) unless `session` (1-based, as the
 * Linux isofs option and xorriso -toc count) names another.
 */
export async function selectDescriptorSet (source: ByteSource, diag: Diagnostics, session?: number): Promise<DescriptorSet> {
  if (session === undefined || session === 0) return await readDescriptorSet(source, diag, 0)
  const sessions = await listSessions(source)
  const chosen = sessions[session - 1]
  if (chosen === undefined) {
    throw new InvalidInputError('BAD_ARGUMENT', `session ${session} does not exist (the image has ${sessions.length})`)
  }
  return await readDescriptorSet(source, diag, chosen.start)
}

async function hasDescriptorAt (source: ByteSource, sessionStart: number): Promise<boolean> {
  const position = (sessionStart + DESCRIPTORS_START) * SECTOR_SIZE
  if (position + SECTOR_SIZE > source.size) return false
  const head = Buffer.alloc(6)
  await source.read(head, 0, 6, position)
  return hasStandardIdentifier(head)
}
