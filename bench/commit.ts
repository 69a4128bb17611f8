import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Corpus } from './corpus'
import { best, dropCaches, measured, MiB, record, seconds, sh, withIsomount } from './harness'

/** Committing a read-write mount, against xorriso remastering and against plain copies. */
export async function commitBenchmarks (c: Corpus, scratchDir: string): Promise<void> {
  const image = path.join(scratchDir, 'commit.iso')
  // A copy made clean (synced) first: otherwise the commit's fsync would also write out the copy itself.
  const fresh = (): void => { sh(`cp --sparse=always '${c.image}' '${image}' && sync '${image}'`) }
  const imageMiB = fs.statSync(c.image).size / MiB
  const sizeNote = `${(imageMiB / 1024).toFixed(1)} GiB image`
  const smallFile = sh(`cd '${c.tree}' && find . -name '*.txt' -size +1k -print -quit`).trim().slice(2)

  // A one-byte edit, committed (in place) by `isomount -u`; xorriso remastering the image is the peer.
  // And one small file added to a directory of the same image (what the tree's size must not cost).
  // Each the least of two, alternating, on one copy.
  fresh()
  let n = 0
  const editOnce = async (): Promise<number> => (await withIsomount(image, [], mnt =>
    sh(`printf ${String.fromCharCode(65 + (n++ % 26))} | dd of='${path.join(mnt, smallFile)}' bs=1 seek=10 conv=notrunc status=none`))).unmountSeconds
  const addOnce = async (): Promise<number> => (await withIsomount(image, [], mnt =>
    sh(`echo added > '${path.join(mnt, path.dirname(smallFile), `added-${n++}.txt`)}'`))).unmountSeconds
  let editSeconds = Infinity
  let addSeconds = Infinity
  for (let i = 0; i < 2; i++) {
    editSeconds = Math.min(editSeconds, await editOnce())
    addSeconds = Math.min(addSeconds, await addOnce())
  }
  const edit = { unmountSeconds: editSeconds }
  // The same edit for xorriso: the file with its byte changed, mapped over the original.
  const edited = path.join(scratchDir, 'edited.txt')
  fs.copyFileSync(path.join(c.tree, smallFile), edited)
  sh(`printf X | dd of='${edited}' bs=1 seek=10 conv=notrunc status=none`)
  const xorrisoOut = path.join(scratchDir, 'xorriso.iso')
  const xorriso = measured(`xorriso -indev '${c.image}' -outdev '${xorrisoOut}' -boot_image any replay -map '${edited}' '/${smallFile}' -commit 2>/dev/null`)
  fs.rmSync(xorrisoOut)
  record({
    section: 'commit', what: `1-byte edit, ${sizeNote}`, ours: edit.unmountSeconds, peer: xorriso.seconds, peerName: 'xorriso remaster', unit: 's',
    target: '≥ 100× faster', met: xorriso.seconds / edit.unmountSeconds >= 100
  })
  record({
    section: 'commit', what: `one small file added, ${c.smallFiles} files`, ours: addSeconds, peer: editSeconds, peerName: '1-byte edit', unit: 's',
    target: '≤ 2× the 1-byte edit', met: addSeconds <= 2 * editSeconds
  })

  // 100 MiB added (appended) against copying 100 MiB to the same file system and syncing it.
  const hundred = path.join(scratchDir, 'hundred.bin')
  sh(`head -c ${100 * MiB} '${path.join(c.tree, c.large[0])}' > '${hundred}'`)
  fresh()
  const add = await withIsomount(image, ['commit=append'], mnt => sh(`cp '${hundred}' '${mnt}/added.bin'`))
  const copy = await seconds(() => sh(`cp '${hundred}' '${hundred}.copy' && sync '${hundred}.copy'`))
  fs.rmSync(`${hundred}.copy`)
  record({ section: 'commit', what: 'add 100 MiB: isomount -u vs cp + sync', ours: add.unmountSeconds, peer: copy, peerName: 'cp', unit: 's', target: '≤ 2× cp', met: add.unmountSeconds <= 2 * copy })

  // A full remaster against copying the image and syncing the copy.
  fresh()
  const remaster = await withIsomount(image, ['commit=remaster'], mnt => sh(`printf Y | dd of='${path.join(mnt, smallFile)}' bs=1 seek=11 conv=notrunc status=none`))
  const imageCopy = await seconds(() => sh(`cp '${c.image}' '${image}.copy' && sync '${image}.copy'`))
  fs.rmSync(`${image}.copy`)
  record({
    section: 'commit', what: `full remaster, ${sizeNote}: vs cp + sync`, ours: remaster.unmountSeconds, peer: imageCopy, peerName: 'cp', unit: 's',
    target: '≤ 1.2× cp', met: remaster.unmountSeconds <= 1.2 * imageCopy
  })

  // Sequential write into the mount against sequential read from it (changes discarded).
  fresh()
  const source = path.join(c.tree, c.large[1])
  const through = await withIsomount(image, ['commit=never'], async mnt => {
    sh(`cat '${source}' > /dev/null`) // the source in the page cache: the write is measured, not its reading
    // The first change waits for the mount's one reading of the whole image (a second or so here): made
    // untimed, so that the throughput of writing is what is measured. Best of two, like the read.
    sh(`touch '${mnt}/first-change'`)
    let n = 0
    const write = await best(2, () => sh(`dd if='${source}' of='${mnt}/written-${n++}.bin' bs=1M status=none`))
    const read = await best(2, () => { dropCaches(); sh(`cat '${path.join(mnt, c.large[0])}' > /dev/null`) })
    return { write: c.largeBytes / MiB / write, read: c.largeBytes / MiB / read }
  })
  record({
    section: 'commit', what: `sequential write into the mount, ${c.largeBytes / MiB} MiB`, ours: through.result.write, peer: through.result.read, peerName: 'read through the mount', unit: 'MiB/s',
    target: '≥ 50% of read', met: through.result.write >= 0.5 * through.result.read
  })
  fs.rmSync(image)
  fs.rmSync(hundred)
}
