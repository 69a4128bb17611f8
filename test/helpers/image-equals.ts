import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Test } from 'tap'
import { mountImage } from './mount'
import { extractWith7z, extractWithBsdtar, extractWithXorriso, pycdlibListing } from './readers'
import { contentOnly, snapshot, type SnapshotOptions, type TreeEntry } from './tree'

/*
 * "The image equals the host copy", as five readers see it: xorriso, bsdtar, 7z, pycdlib (none written
 * here) and a fresh read-only mount of ours. Each is held to what it can show: xorriso, bsdtar and the
 * mount keep Rock Ridge modes and times; 7z reads Joliet names and file data only; pycdlib is asked for
 * Rock Ridge names, types, sizes, contents and symlink targets.
 */

export interface EqualsOptions {
  /** Paths written "now" (their mtimes differ between the copies by the seconds between the runs). */
  skipMtime?: RegExp
  /** Paths to leave out everywhere (for example names Joliet cannot hold, for 7z). */
  skip?: RegExp
  /** Paths whose names Joliet cannot hold as they are: left out of what 7z (which reads Joliet) is held to. */
  notInJoliet?: RegExp
  /** Readers to leave out, for an image one cannot read (each use says why). */
  without?: Array<'7z' | 'pycdlib'>
}

export async function expectImageEquals (t: Test, iso: string, host: string, scratchDir: string, options: EqualsOptions = {}): Promise<void> {
  const full: SnapshotOptions = { modes: true, mtimes: true, links: true, skipMtime: options.skipMtime, skip: options.skip }
  const expected = snapshot(host, full)
  fs.rmSync(scratchDir, { recursive: true, force: true })
  fs.mkdirSync(scratchDir, { recursive: true })

  const byXorriso = snapshot(extractWithXorriso(iso, path.join(scratchDir, 'xorriso')), { ...full, links: false })
  t.same(byXorriso, withoutLinks(expected), 'xorriso extracts the host tree: names, contents, modes, mtimes, symlinks, fifos')

  const byBsdtar = snapshot(extractWithBsdtar(iso, path.join(scratchDir, 'bsdtar')), full)
  t.same(byBsdtar, expected, 'bsdtar extracts the host tree, hard links included')

  if (options.without?.includes('7z') !== true) {
    const by7z = snapshot(extractWith7z(iso, path.join(scratchDir, '7z')), { skip: options.skip })
    const want = Object.fromEntries(Object.entries(dataOnly(expected)).filter(([p]) => options.notInJoliet?.test(p) !== true))
    // ... and the names Joliet cut them to (a prefix of the full name, in the same directory) out of what 7z extracted.
    const excluded = Object.keys(expected).filter(p => options.notInJoliet?.test(p) === true)
    // Joliet has no symlinks or fifos: 7z shows those Rock Ridge entries as empty files, left out too.
    const got = Object.fromEntries(Object.entries(by7z).filter(([p]) =>
      !excluded.some(full => full !== p && full.startsWith(p) && path.dirname(full) === path.dirname(p)) && !['symlink', 'fifo'].includes(expected[p]?.type)))
    t.same(got, want, '7z (Joliet names) extracts the same files and directories with the same data')
  }

  if (options.without?.includes('pycdlib') !== true) {
    const byPycdlib = pycdlibListing(iso, 'rr')
    const want = Object.fromEntries(Object.entries(contentOnly(expected))
      .filter(([, e]) => e.type !== 'fifo')
      .map(([p, e]) => [p, defined(e)]))
    const got = Object.fromEntries(Object.entries(byPycdlib).filter(([p]) => options.skip?.test(p) !== true && expected[p]?.type !== 'fifo'))
    t.same(got, want, 'pycdlib lists the same Rock Ridge tree: types, sizes, contents, symlink targets')
  }

  const mounted = mountImage(t, iso, ['ro'])
  t.equal(mounted.result.status, 0, `a fresh read-only mount: ${mounted.result.stderr}`)
  t.same(snapshot(mounted.mountpoint, full), expected, 'a fresh read-only mount shows the host tree, hard links included')
  t.equal(mounted.unmount().status, 0, 'and unmounts')
}

function withoutLinks (tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  return Object.fromEntries(Object.entries(tree).map(([p, { links, ...rest }]) => [p, rest]))
}

/** Files and directories with their data: what a reader without Rock Ridge can be held to. */
function dataOnly (tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {}
  for (const [p, e] of Object.entries(contentOnly(tree))) {
    if (e.type === 'file' || e.type === 'dir') out[p] = defined(e)
  }
  return out
}

/** The entry without its undefined fields, as readers' snapshots have them. */
function defined (entry: TreeEntry): TreeEntry {
  return JSON.parse(JSON.stringify(entry)) as TreeEntry
}
