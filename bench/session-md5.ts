import * as fs from 'node:fs'
import * as path from 'node:path'
import { measured, MiB, record, sh, withIsomount } from './harness'

/*
 * What keeping xorriso's session MD5s (-md5 on) costs a commit, on a 1 GiB image (2 × 512 MiB of random
 * data and 2,000 small files): the same commit of the same tree mastered with and without
 * xorriso -as mkisofs --md5 (and xorriso -outdev -md5 on). With them, a commit writes a whole tree
 * (append) and reads the session back for its tags (the whole image when the session starts at 0; the new
 * session alone after an -outdev one); without, it writes only what changed. xorriso's own remaster with
 * -md5 on is the other peer.
 */
export async function sessionMd5Benchmarks (scratchDir: string): Promise<void> {
  const tree = path.join(scratchDir, 'md5-tree')
  fs.mkdirSync(path.join(tree, 'small'), { recursive: true })
  fs.mkdirSync(path.join(tree, 'large'), { recursive: true })
  for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(tree, 'small', `f${i}.txt`), `small file ${i}\n`.repeat(1 + i % 50))
  for (const name of ['one.bin', 'two.bin']) sh(`head -c ${512 * MiB} /dev/urandom > '${path.join(tree, 'large', name)}'`)
  const withMd5 = path.join(scratchDir, 'md5.iso')
  const without = path.join(scratchDir, 'plain.iso')
  sh(`xorriso -as mkisofs --md5 -r -J -o '${withMd5}' '${tree}' 2>/dev/null`)
  sh(`xorriso -as mkisofs -r -J -o '${without}' '${tree}' 2>/dev/null`)
  const image = path.join(scratchDir, 'md5-commit.iso')
  const fresh = (from: string): void => { sh(`cp '${from}' '${image}' && sync '${image}'`) }
  const size = `${(fs.statSync(withMd5).size / 1024 / MiB).toFixed(2)} GiB`

  const commit = async (from: string, mode: string): Promise<number> => {
    fresh(from)
    return (await withIsomount(image, [`commit=${mode}`], mnt => sh(`echo added > '${mnt}/small/added.txt'`))).unmountSeconds
  }
  for (const mode of ['auto', 'remaster']) {
    const ours = await commit(withMd5, mode)
    const peer = await commit(without, mode)
    record({ section: 'md5', what: `one file added, commit=${mode}, ${size}, -md5 on`, ours, peer, peerName: 'no -md5', unit: 's' })
  }
  // xorriso -outdev's layout (the session at 32): an append adds a session, and sums only that.
  const outdev = path.join(scratchDir, 'md5-outdev.iso')
  sh(`xorriso -md5 on -outdev '${outdev}' -map '${tree}' / 2>/dev/null`)
  record({ section: 'md5', what: `one file added, commit=auto, ${size}, -outdev -md5 on`, ours: await commit(outdev, 'auto'), peer: await commit(without, 'auto'), peerName: 'no -md5', unit: 's' })
  fs.rmSync(outdev)
  const added = path.join(scratchDir, 'added.txt')
  fs.writeFileSync(added, 'added\n')
  const out = path.join(scratchDir, 'xorriso-md5.iso')
  const xorriso = measured(`xorriso -md5 on -indev '${withMd5}' -outdev '${out}' -map '${added}' /small/added.txt -commit 2>/dev/null && sync '${out}'`)
  const ours = await commit(withMd5, 'remaster')
  record({ section: 'md5', what: `one file added, remaster, ${size}, -md5 on`, ours, peer: xorriso.seconds, peerName: 'xorriso -md5 on remaster', unit: 's' })
  for (const f of [out, image, withMd5, without, added]) fs.rmSync(f, { force: true })
  fs.rmSync(tree, { recursive: true, force: true })
}
