import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { alive, daemonPid, detachMount, ISOMOUNT, isMounted, mountImage, waitFor } from '../helpers/mount'
import { journalPath, readJournal } from '../../src/iso/commit/journal'
import { extractWithBsdtar } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { pattern, sha256, snapshot, type TreeEntry } from '../helpers/tree'

/*
 * Faults during a commit. The daemon is killed with SIGKILL at points of each commit mode, found by
 * watching what the commit leaves on disk (the image growing, the temporary image, the journal); the image
 * must then open and equal the state before or the state after the commit. And a commit into a file
 * system without room must leave the original untouched, say so, and succeed when retried with room.
 */

const dir = scratch(t, 'rw-faults')
const isRoot = process.getuid?.() === 0

const src = path.join(dir, 'src')
writeTree(src, { 'keep.txt': 'keep\n', 'data.bin': pattern(48 * 2 ** 20, 1), docs: { 'a.txt': 'a\n' } })
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J', '-iso-level', '3'], src)
/** Enough new entries that docs/ no longer fits its extent: written again after the image, its record in / patched. */
const manyNotes = 'for i in $(seq 1 60); do echo $i > docs/a-note-with-a-longer-name-$i.txt; done'
const newData = path.join(dir, 'new.bin')
fs.writeFileSync(newData, pattern(96 * 2 ** 20, 2))
const patch = path.join(dir, 'patch.bin')
fs.writeFileSync(patch, pattern(24 * 2 ** 20, 3))

/** The tree of an image as our read-only mount shows it (which reads through a pending journal). */
function stateByMount (t: Test, image: string): Record<string, TreeEntry> {
  const m = mountImage(t, image, ['ro'])
  if (m.result.status !== 0) throw new Error(`the image does not mount: ${m.result.stderr}`)
  const tree = snapshot(m.mountpoint)
  m.unmount()
  return tree
}

interface Mode {
  mode: 'append' | 'remaster' | 'inplace'
  /** What the commit does, for the test's name. */
  label: string
  /** What the script does through the mount. */
  change: string
  /** Kill points: a name and a condition on what is on disk, polled every millisecond. */
  points: Array<[string, (image: string, sizeBefore: number) => boolean]>
  /** Points where a kill must land inside the commit at least once, and the state it must leave. */
  inside: Array<[string, 'before' | 'after']>
}

/** Temporary images of a remaster (master.ts): `.IMAGE.isomount-PID-TIME.tmp`. */
const temporaries = (image: string): string[] => fs.readdirSync(path.dirname(image)).filter(n => n.startsWith(`.${path.basename(image)}.isomount-`) && /-\d+-\d+\.tmp$/.test(n))
const tempBytes = (image: string): number => temporaries(image).reduce((sum, n) => sum + (fs.statSync(path.join(path.dirname(image), n), { throwIfNoEntry: false })?.size ?? 0), 0)
const journal = (image: string): boolean => fs.existsSync(journalPath(image))
/**
 * The in-place case's journal holds the 24 MiB patch, a fingerprint of 8 bytes per 512 of it and a
 * checksum (journal.ts). Below that size it is still being written; from there on it is checked whole
 * (readJournal), which is too slow to poll all along.
 */
const JOURNAL_AT_LEAST = 24 * 2 ** 20 + (24 * 2 ** 20 / 512) * 8 + 32
const journalBytes = (image: string): number => fs.statSync(journalPath(image), { throwIfNoEntry: false })?.size ?? -1
const journalComplete = (image: string): boolean => journalBytes(image) >= JOURNAL_AT_LEAST && readJournal(image) !== undefined

/**
 * Mounts `image`, makes the change, starts `isomount -u` and kills the daemon (SIGKILL) the moment
 * `reached` holds, polling without delay. Returns whether the kill came while the daemon still ran.
 */
async function killAt (t: Test, image: string, change: string, mode: string, reached: (image: string, sizeBefore: number) => boolean): Promise<boolean> {
  const sizeBefore = fs.statSync(image).size
  const m = mountImage(t, image, [`commit=${mode}`])
  run('bash', ['-c', change], { cwd: m.mountpoint })
  const pid = daemonPid(m.mountpoint)
  t.ok(alive(pid), 'the daemon runs')
  const unmount = spawn(process.execPath, [ISOMOUNT, '-u', m.mountpoint], { stdio: 'ignore' })
  const unmounted = new Promise<void>(resolve => unmount.once('exit', () => resolve()))
  const deadline = Date.now() + 60_000
  let hit = false
  while (!(hit = reached(image, sizeBefore)) && alive(pid) && Date.now() < deadline) await new Promise(resolve => setImmediate(resolve))
  const killed = hit && alive(pid)
  if (killed) process.kill(pid as number, 'SIGKILL')
  await waitFor(() => !alive(pid), 10_000, 'the daemon to die')
  await unmounted
  // Killed before the kernel let go: the mount is left dangling, as after any crashed FUSE daemon.
  if (isMounted(m.mountpoint)) detachMount(m.mountpoint)
  await waitFor(() => !isMounted(m.mountpoint), 10_000, 'the mount to be gone')
  return killed
}

const MODES: Mode[] = [
  {
    mode: 'append',
    label: 'append',
    change: `cp '${newData}' new.bin && echo changed > keep.txt`,
    points: [
      ['as the commit starts', () => true],
      ['once data is being appended', (image, before) => fs.statSync(image).size > before],
      ['halfway through the appended data', (image, before) => fs.statSync(image).size > before + 48 * 2 ** 20],
      ['when all the data is there', (image, before) => fs.statSync(image).size >= before + 96 * 2 ** 20]
    ],
    inside: [['halfway', 'before']]
  },
  {
    // Every step of a commit that writes only what changed: data and a directory appended, a directory
    // rewritten in its extent, records patched, 24 MiB of data patched in place: the journal holds all
    // of that with the descriptors.
    mode: 'append',
    label: 'append of what changed (directories moved and rewritten in place, records and data patched)',
    change: `cp '${newData}' new.bin && dd if='${patch}' of=data.bin bs=1M seek=8 conv=notrunc status=none && ${manyNotes}`,
    // The points of a plain append before the commit point are tried once (halfway); then the journal's.
    points: [
      ['halfway through the appended data', (image, before) => fs.statSync(image).size > before + 48 * 2 ** 20],
      ['while the journal is written', image => journalBytes(image) >= 0 && journalBytes(image) < JOURNAL_AT_LEAST],
      ['once the journal is complete', image => journalComplete(image)]
    ],
    inside: [['halfway', 'before'], ['once the journal is complete', 'after']]
  },
  {
    mode: 'remaster',
    label: 'remaster',
    change: `cp '${newData}' new.bin && rm data.bin`,
    points: [
      ['as the commit starts', () => true],
      ['once the temporary image exists', image => temporaries(image).length > 0],
      ['halfway through the temporary image', image => tempBytes(image) > 48 * 2 ** 20],
      ['when the temporary image is nearly whole', image => tempBytes(image) > 90 * 2 ** 20]
    ],
    inside: [['halfway', 'before']]
  },
  {
    mode: 'inplace',
    label: 'inplace',
    change: `dd if='${patch}' of=data.bin bs=1M seek=8 conv=notrunc status=none`,
    points: [
      ['as the commit starts', () => true],
      ['while the journal is written', image => journalBytes(image) >= 0 && journalBytes(image) < JOURNAL_AT_LEAST],
      ['once the journal is complete', image => journalComplete(image)]
    ],
    inside: [['once the journal is complete', 'after']]
  }
]

for (const [n, { mode, label, change, points, inside }] of MODES.entries()) {
  t.test(`kill -9 during a ${label} commit leaves the image before or after`, async t => {
    // The states to compare with: before (the base) and after (the same change committed undisturbed).
    const before = stateByMount(t, base)
    const reference = path.join(dir, `${mode}-${n}-reference.iso`)
    fs.copyFileSync(base, reference)
    const ref = mountImage(t, reference, [`commit=${mode}`])
    run('bash', ['-c', change], { cwd: ref.mountpoint })
    t.equal(ref.unmount().status, 0, 'the reference commit succeeds')
    const after = stateByMount(t, reference)
    t.not(JSON.stringify(after), JSON.stringify(before), 'the change is visible in the reference')

    const outcomes: string[] = []
    for (const [label, reached] of points) {
      const image = path.join(dir, `${mode}-${n}-killed.iso`)
      // A point the commit passes in a few milliseconds can be missed on a loaded machine: a few tries.
      let killed = false
      // The window between a durable journal and its removal is a few milliseconds: the daemon is asked
      // to hold still there (journal.ts's failpoint), or an idle machine finishes before the poll sees it.
      if (label === 'once the journal is complete') process.env.ISOMOUNT_FAILPOINT_PAUSE = 'journal-durable'
      try {
        for (let attempt = 1; attempt <= 3 && !killed; attempt++) {
          fs.copyFileSync(base, image)
          killed = await killAt(t, image, change, mode, reached)
        }
      } finally {
        delete process.env.ISOMOUNT_FAILPOINT_PAUSE
      }
      const state = stateByMount(t, image)
      const which = JSON.stringify(state) === JSON.stringify(before) ? 'before' : JSON.stringify(state) === JSON.stringify(after) ? 'after' : 'neither'
      t.not(which, 'neither', `killed ${label}: the image opens and equals the ${which === 'neither' ? 'before or after' : which} state`)
      outcomes.push(`${label}: ${killed ? 'killed' : 'done first'}, ${which}`)

      // A read-write mount finishes or discards what was interrupted; then every reader agrees.
      const again = mountImage(t, image, [])
      t.equal(again.result.status, 0, `mounts read-write again: ${again.result.stderr}`)
      t.equal(again.unmount().status, 0)
      t.same(temporaries(image), [], 'no temporary image is left beside it')
      t.notOk(journal(image), 'no journal is left')
      const bsdtar = snapshot(extractWithBsdtar(image, path.join(dir, `${mode}-${n}-x-${outcomes.length}`)))
      t.same(bsdtar, which === 'after' ? after : before, 'bsdtar reads the same state')
    }
    t.comment(outcomes.join('; '))
    // The kills must have landed inside the commit, not merely after it: a kill after data was appended
    // but before the commit point still leaves "before"; one with the journal complete, "after".
    for (const [point, state] of inside) {
      t.ok(outcomes.some(o => o.startsWith(point) && o.includes('killed') && o.endsWith(state)), `a kill landed inside the commit (${point}: ${state})`)
    }
  })
}

t.test('a commit into a file system without room leaves the original untouched, and a retry with room succeeds', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async t => {
  const small = path.join(dir, 'small')
  fs.mkdirSync(small)
  run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', small])
  t.teardown(() => { run('umount', ['-l', small], { allowFailure: true }) })
  for (const mode of ['append', 'remaster'] as const) {
    const image = path.join(small, `${mode}.iso`)
    fs.copyFileSync(base, image)
    const original = sha256(fs.readFileSync(image))
    const m = mountImage(t, image, [`commit=${mode}`])
    // 96 MiB more than a 64 MiB file system has room for (the overlay's data waits in $TMPDIR meanwhile).
    fs.copyFileSync(newData, path.join(m.mountpoint, 'new.bin'))
    const failed = m.unmount()
    t.not(failed.status, 0, `${mode}: isomount -u fails`)
    t.match(failed.stderr, /free|space/i, 'and says there is no room')
    t.match(failed.stderr, /isomount -u/, 'and how to retry')
    t.equal(sha256(fs.readFileSync(image)), original, 'the image is byte-identical')
    t.same(temporaries(image), [], 'nothing is left beside it')
    run('mount', ['-o', 'remount,size=512m', small])
    const retried = run(process.execPath, [ISOMOUNT, '-u', m.mountpoint], { allowFailure: true })
    t.equal(retried.status, 0, `the retry succeeds: ${retried.stderr}`)
    t.equal(sha256(Buffer.from(run('bsdtar', ['-xOf', image, 'new.bin'], { encoding: 'latin1' }).stdout, 'latin1')), sha256(fs.readFileSync(newData)), 'and the image holds the new file')
    fs.rmSync(image)
    run('mount', ['-o', 'remount,size=64m', small])
  }
})
