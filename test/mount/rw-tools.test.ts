import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { expectImageEquals } from '../helpers/image-equals'
import { mountImage, waitFor } from '../helpers/mount'
import { isoinfoNames, isovfyErrors } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { pattern, sha256 } from '../helpers/tree'

/*
 * The read-write mount driven by ordinary shell tools. Every test applies the same script to the mount
 * and to a host copy of the tree, unmounts with `isomount -u`, and holds the committed image, as xorriso,
 * bsdtar, 7z, pycdlib and a fresh read-only mount read it, to the host copy.
 */

const dir = scratch(t, 'rw-tools')
const T0 = 1580608922 // 2020-02-02 02:02:02 UTC: every seed entry's mtime, so copies agree

const seed = path.join(dir, 'seed')
writeTree(seed, {
  'hello.txt': 'hello\n',
  'notes.txt': 'notes\n',
  'tool.sh': { file: '#!/bin/sh\necho tool\n', mode: 0o755 },
  'old.txt': 'to be removed\n',
  'replace-target': 'the old target\n',
  docs: { 'numbers.txt': Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('') },
  deep: { a: { b: { 'c.txt': 'deep\n' } } },
  emptydir: {},
  'dir-target': {},
  'big.bin': pattern(3 * 2 ** 20, 1),
  link: { symlink: 'hello.txt' },
  'hard-a': 'shared\n',
  'hard-b': { hardlink: 'hard-a' },
  'hard-c': { hardlink: 'hard-a' }
})
run('find', [seed, '-exec', 'touch', '-h', '-d', `@${T0}`, '{}', '+'])

/** What the scripts copy in (cp -a, tar x, rsync -a): old mtimes and odd modes that must survive. */
const inputs = path.join(dir, 'inputs')
writeTree(path.join(inputs, 'tree'), {
  'readme.md': { file: '# tree\n', mode: 0o640, mtime: new Date('2011-11-11T11:11:11Z') },
  'run.sh': { file: '#!/bin/sh\n', mode: 0o700, mtime: new Date('2012-12-12T12:12:12Z') },
  sub: { 'inner.txt': { file: 'inner\n', mode: 0o604, mtime: new Date('2013-01-13T13:13:13Z') }, lnk: { symlink: '../readme.md' } },
  'data.bin': { file: pattern(300_000, 2), mtime: new Date('2014-04-14T14:14:14Z') }
})
run('tar', ['cf', path.join(inputs, 'tree.tar'), '-C', path.join(inputs, 'tree'), '.'])
fs.writeFileSync(path.join(inputs, 'pattern'), pattern(12288, 3))

/** Editors (temp file + rename), cp -a, tar x, rsync -a, mv of directories, dd conv=notrunc, appends, truncate, ... */
const FULL_SCRIPT = `set -euo pipefail
D="$1"
sed -i 's/^7$/seven/' docs/numbers.txt
vim.tiny -u NONE -i NONE -N -es -c '%s/hello/HELLO/' -c 'wq' hello.txt
printf '%s\\n' 1i 'first line, by ed' . w q | ed -s notes.txt
cp -a "$D/tree" copied
mkdir tarred && tar xf "$D/tree.tar" -C tarred
rsync -a "$D/tree/" synced/
mv deep moved-deep
mv -T copied/sub dir-target
dd if="$D/pattern" of=big.bin bs=4096 seek=100 count=3 conv=notrunc status=none
echo appended >> hello.txt
truncate -s 1000 docs/numbers.txt
truncate -s 3000000 grown.bin
mkfifo pipe
ln notes.txt notes-hardlink
ln -s moved-deep/a/b/c.txt c-link
chmod 0751 tool.sh
chmod 0600 notes.txt
rm old.txt hard-b
rmdir emptydir
echo replaced > replace-src && mv replace-src replace-target
mkdir -p new/dir/chain && echo chained > new/dir/chain/f
a_name_of_two_hundred=$(printf 'n%.0s' $(seq 200)); echo long > "$a_name_of_two_hundred"
touch -d '2001-02-03 04:05:06 UTC' hello.txt
`
/** Paths the full script writes "now": their mtimes differ between the mount and the host copy. */
const WRITTEN_NOW = /^(docs\/numbers\.txt|notes\.txt|notes-hardlink|big\.bin|grown\.bin|pipe|replace-target|new\/dir\/chain\/f|n{200})$/

/** Changes that fit the image's existing extents and records: what an in-place commit can do. */
const FITTING_SCRIPT = `set -euo pipefail
D="$1"
dd if="$D/pattern" of=big.bin bs=4096 seek=10 count=3 conv=notrunc status=none
printf 'HELLO\\n' | dd of=hello.txt conv=notrunc status=none
chmod 0700 tool.sh
touch -d '1999-09-09 09:09:09 UTC' docs/numbers.txt
truncate -s 3 notes.txt
`

interface Scenario {
  image: string
  host: string
  mountpoint: string
  unmount: () => ReturnType<typeof run>
}

/** A fresh copy of the base image, mounted with `options`, and a host copy of the seed tree. */
function prepare (t: Parameters<typeof mountImage>[0], label: string, options: string[], base = baseImage): Scenario {
  const image = path.join(dir, `${label}.iso`)
  fs.copyFileSync(base, image)
  const host = path.join(dir, `${label}-host`)
  run('cp', ['-a', seed, host])
  const mounted = mountImage(t, image, options)
  t.equal(mounted.result.status, 0, `mounted read-write: ${mounted.result.stderr}`)
  return { image, host, mountpoint: mounted.mountpoint, unmount: mounted.unmount }
}

function runScript (script: string, cwd: string): void {
  const file = path.join(dir, 'script.sh')
  fs.writeFileSync(file, script)
  run('bash', [file, inputs], { cwd })
}

const baseImage = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J', '-joliet-long'], seed)

for (const mode of ['auto', 'append', 'remaster'] as const) {
  t.test(`shell tools through the mount, commit=${mode}`, async t => {
    const s = prepare(t, `full-${mode}`, [`commit=${mode}`])
    const started = Date.now() / 1000
    runScript(FULL_SCRIPT, s.mountpoint)
    runScript(FULL_SCRIPT, s.host)
    const mtime = fs.statSync(path.join(s.mountpoint, 'big.bin')).mtimeMs / 1000
    t.ok(mtime >= started - 1 && mtime <= Date.now() / 1000 + 1, 'a file written through the mount has a current mtime')
    const done = s.unmount()
    t.equal(done.status, 0, 'isomount -u exits 0')
    const how = mode === 'auto' ? /committed (in place|by appending|by remastering)/ : new RegExp(`committed ${mode === 'append' ? 'by appending' : 'by remastering'}`)
    t.match(done.stdout + done.stderr, how, 'and says how the changes were committed')
    await expectImageEquals(t, s.image, s.host, path.join(dir, `check-${mode}`), {
      skipMtime: WRITTEN_NOW,
      // 7z reads the Joliet tree, where a 200-character name is cut (Joliet holds 64, or 103 with -joliet-long).
      notInJoliet: /^n{200}$/
    })
    t.match(isovfyErrors(s.image), /No errors found/, 'isovfy finds no errors')
  })
}

t.test('commit=inplace: changes that fit are written into the image where they are', async t => {
  const s = prepare(t, 'inplace', ['commit=inplace'])
  const sizeBefore = fs.statSync(s.image).size
  runScript(FITTING_SCRIPT, s.mountpoint)
  runScript(FITTING_SCRIPT, s.host)
  const done = s.unmount()
  t.equal(done.status, 0, done.stderr)
  t.match(done.stdout + done.stderr, /committed in place/)
  t.equal(fs.statSync(s.image).size, sizeBefore, 'the image did not grow')
  await expectImageEquals(t, s.image, s.host, path.join(dir, 'check-inplace'), { skipMtime: /^(big\.bin|hello\.txt|notes\.txt)$/ })
})

t.test('commit=inplace with changes that do not fit: a clear failure, the image untouched', async t => {
  const s = prepare(t, 'inplace-refused', ['commit=inplace'])
  const before = sha256(fs.readFileSync(s.image))
  fs.writeFileSync(path.join(s.mountpoint, 'new-file.txt'), 'needs a new directory record\n')
  const done = s.unmount()
  t.not(done.status, 0, 'isomount -u fails')
  t.match(done.stderr, /cannot commit in place/, 'and says why')
  t.match(done.stderr, /isomount -u/, 'and how to retry')
  t.equal(sha256(fs.readFileSync(s.image)), before, 'the image is byte-identical')
})

t.test('commit=auto chooses: in place when it fits, remaster when appending would leave most of the image dead', async t => {
  const fits = prepare(t, 'auto-fits', [])
  runScript(FITTING_SCRIPT, fits.mountpoint)
  const first = fits.unmount()
  t.match(first.stdout + first.stderr, /committed in place/, 'changes that fit: in place')

  // A larger file cannot be rewritten where it is: the first rewrite is appended (the old 3 MiB, about
  // 40% of the grown image, dead); the second would leave over half the image dead, so it remasters.
  const rewrite = prepare(t, 'auto-rewrite', [])
  fs.writeFileSync(path.join(rewrite.mountpoint, 'big.bin'), pattern(4 * 2 ** 20, 9))
  const second = rewrite.unmount()
  t.match(second.stdout + second.stderr, /committed by appending/, 'rewriting most of the data once: append')
  const again = mountImage(t, rewrite.image, [])
  fs.writeFileSync(path.join(again.mountpoint, 'big.bin'), pattern(4 * 2 ** 20 + 4096, 10))
  fs.writeFileSync(path.join(rewrite.host, 'big.bin'), pattern(4 * 2 ** 20 + 4096, 10))
  const third = again.unmount()
  t.match(third.stdout + third.stderr, /committed by remastering/, 'and again: remaster')
  t.ok(fs.statSync(rewrite.image).size < fs.statSync(baseImage).size + 1.5 * 2 ** 20, 'the dead data is gone: the image grew by little more than the file did')
  await expectImageEquals(t, rewrite.image, rewrite.host, path.join(dir, 'check-auto-rewrite'), { skipMtime: /^big\.bin$/ })

  const small = prepare(t, 'auto-small', [])
  fs.writeFileSync(path.join(small.mountpoint, 'added.txt'), 'added\n')
  const fourth = small.unmount()
  t.match(fourth.stdout + fourth.stderr, /committed by appending/, 'a new file in a big image: append')
})

t.test('nothing changed: the image is byte-identical and its mtime unchanged', async t => {
  const s = prepare(t, 'unchanged', [])
  const past = new Date('2021-01-01T00:00:00Z')
  fs.utimesSync(s.image, past, past)
  const before = sha256(fs.readFileSync(s.image))
  run('sh', ['-c', 'find . -type f -exec cat {} + > /dev/null && ls -laR > /dev/null'], { cwd: s.mountpoint })
  const done = s.unmount()
  t.equal(done.status, 0)
  t.match(done.stdout + done.stderr, /nothing changed/)
  t.equal(sha256(fs.readFileSync(s.image)), before, 'byte-identical')
  t.equal(fs.statSync(s.image).mtimeMs, past.getTime(), 'mtime unchanged')
})

t.test('commit=never discards the changes; ro refuses them with EROFS', async t => {
  const never = prepare(t, 'never', ['commit=never'])
  const before = sha256(fs.readFileSync(never.image))
  runScript(FULL_SCRIPT, never.mountpoint)
  const done = never.unmount()
  t.equal(done.status, 0)
  t.match(done.stdout + done.stderr, /changes discarded \(commit=never\)/)
  t.equal(sha256(fs.readFileSync(never.image)), before, 'the image is byte-identical')

  const ro = prepare(t, 'ro', ['ro'])
  t.throws(() => fs.writeFileSync(path.join(ro.mountpoint, 'x'), 'x'), { code: 'EROFS' }, 'create: EROFS')
  t.throws(() => fs.appendFileSync(path.join(ro.mountpoint, 'hello.txt'), 'x'), { code: 'EROFS' }, 'open for writing: EROFS')
  t.throws(() => fs.mkdirSync(path.join(ro.mountpoint, 'd')), { code: 'EROFS' }, 'mkdir: EROFS')
  t.throws(() => fs.renameSync(path.join(ro.mountpoint, 'hello.txt'), path.join(ro.mountpoint, 'h')), { code: 'EROFS' }, 'rename: EROFS')
  t.throws(() => fs.chmodSync(path.join(ro.mountpoint, 'hello.txt'), 0o600), { code: 'EROFS' }, 'chmod: EROFS')
  t.equal(ro.unmount().status, 0)
})

t.test('isomount sync commits while mounted; the mount goes on', async t => {
  const s = prepare(t, 'sync', [])
  fs.writeFileSync(path.join(s.mountpoint, 'first.txt'), 'first\n')
  const synced = run(process.execPath, [path.join(__dirname, '../../../bin/isomount'), 'sync', s.mountpoint])
  t.match(synced.stdout + synced.stderr, /committed/, 'sync reports the commit')
  t.equal(run('bsdtar', ['-xOf', s.image, 'first.txt']).stdout, 'first\n', 'the image holds the change while still mounted')
  fs.writeFileSync(path.join(s.mountpoint, 'second.txt'), 'second\n')
  t.equal(fs.readFileSync(path.join(s.mountpoint, 'first.txt'), 'utf8'), 'first\n', 'the mount still reads what was synced')
  t.equal(s.unmount().status, 0)
  t.equal(run('bsdtar', ['-xOf', s.image, 'second.txt']).stdout, 'second\n', 'the unmount commits what came after')
  t.equal(run('bsdtar', ['-xOf', s.image, 'first.txt']).stdout, 'first\n')
})

t.test('during a long isomount sync, reads go on and changes wait for the commit, then land', async t => {
  const s = prepare(t, 'sync-long', ['commit=remaster'])
  run('bash', ['-c', `head -c ${256 * 2 ** 20} /dev/urandom > '${path.join(s.mountpoint, 'random.bin')}'`])
  const temporary = (): boolean => fs.readdirSync(dir).some(n => n.startsWith('.sync-long.iso.isomount-') && /-\d+-\d+\.tmp$/.test(n))
  const sync = spawn(process.execPath, [path.join(__dirname, '../../../bin/isomount'), 'sync', s.mountpoint], { stdio: 'ignore' })
  const synced = new Promise<number | null>(resolve => sync.once('exit', code => resolve(code)))
  await waitFor(temporary, 30_000, 'the remaster to start writing')
  const read = fs.readFileSync(path.join(s.mountpoint, 'docs/numbers.txt'), 'utf8')
  t.ok(temporary(), 'a read was answered while the commit was still writing')
  t.equal(read.split('\n')[19999], '20000')
  const writer = spawn('bash', ['-c', 'echo during > during.txt'], { cwd: s.mountpoint, stdio: 'ignore' })
  const written = new Promise<number | null>(resolve => writer.once('exit', code => resolve(code)))
  t.equal(await synced, 0, 'sync succeeds')
  t.equal(await written, 0, 'the write made during the commit succeeds')
  t.equal(fs.readFileSync(path.join(s.mountpoint, 'during.txt'), 'utf8'), 'during\n')
  t.equal(s.unmount().status, 0)
  t.equal(run('bsdtar', ['-xOf', s.image, 'during.txt']).stdout, 'during\n', 'and the unmount commits it')
})

t.test('a change made through one namespace shows in every namespace; hidden entries stay hidden', async t => {
  const src = path.join(dir, 'ns-src')
  writeTree(src, { 'visible.txt': 'v\n', 'secret.txt': 's\n', 'not-in-iso.txt': 'n\n' })
  const base = genisoimage(path.join(dir, 'ns-base.iso'), ['-R', '-J', '-hide-joliet', 'secret.txt', '-hide', 'not-in-iso.txt'], src)
  t.notOk(isoinfoNames(base, '-J').includes('secret.txt'), 'genisoimage hid secret.txt from Joliet')

  const joliet = prepare(t, 'ns-joliet', ['namespace=joliet'], base)
  fs.writeFileSync(path.join(joliet.mountpoint, 'Made In Joliet.txt'), 'j\n')
  t.equal(joliet.unmount().status, 0)
  t.ok(isoinfoNames(joliet.image, '-J').includes('Made In Joliet.txt'), 'isoinfo -J lists the new name')
  t.ok(isoinfoNames(joliet.image, '-R').includes('Made In Joliet.txt'), 'isoinfo -R lists it under the same name')
  t.ok(isoinfoNames(joliet.image, '').some(n => /^MADE_IN_.*\.TXT$/.test(n)), 'and an ISO9660 name derived from it')
  t.notOk(isoinfoNames(joliet.image, '-J').includes('secret.txt'), 'secret.txt is still hidden from Joliet')
  t.ok(isoinfoNames(joliet.image, '-R').includes('secret.txt'), 'and still in Rock Ridge')
  t.notOk(isoinfoNames(joliet.image, '').some(n => /^NOT_IN_I/.test(n)), 'not-in-iso.txt is still hidden from ISO9660')

  const iso = prepare(t, 'ns-iso', ['namespace=iso9660'], joliet.image)
  fs.writeFileSync(path.join(iso.mountpoint, 'PLAIN.TXT'), 'p\n')
  t.throws(() => fs.writeFileSync(path.join(iso.mountpoint, 'lower case.txt'), 'x'), { code: 'EINVAL' }, 'a name ISO9660 cannot hold: EINVAL')
  t.equal(iso.unmount().status, 0)
  t.ok(isoinfoNames(iso.image, '').includes('PLAIN.TXT'), 'isoinfo lists PLAIN.TXT')
  t.ok(isoinfoNames(iso.image, '-R').includes('PLAIN.TXT'), 'Rock Ridge shows it')
  t.ok(isoinfoNames(iso.image, '-J').includes('PLAIN.TXT'), 'Joliet shows it')
  t.ok(isoinfoNames(iso.image, '-R').includes('Made In Joliet.txt'), 'the earlier change is still there')
})

t.test('names a namespace cannot hold: ENAMETOOLONG', async t => {
  const rr = prepare(t, 'long-rr', [])
  t.throws(() => fs.writeFileSync(path.join(rr.mountpoint, 'x'.repeat(256)), 'x'), { code: 'ENAMETOOLONG' }, 'Rock Ridge: 256 bytes')
  t.equal(rr.unmount().status, 0)
  const joliet = prepare(t, 'long-joliet', ['namespace=joliet'])
  t.throws(() => fs.writeFileSync(path.join(joliet.mountpoint, 'j'.repeat(120)), 'x'), { code: 'ENAMETOOLONG' }, 'Joliet: 120 characters')
  t.equal(joliet.unmount().status, 0)
})

t.test('concurrent writers in several files at once', async t => {
  const s = prepare(t, 'concurrent', [])
  // Four writers, each filling its own 4 MiB file in 64 KiB blocks in a shuffled order, plus one appender.
  const script = `set -euo pipefail
D="$1"
writer () { for b in $(seq 0 63 | shuf --random-source=<(yes $1)); do dd if="$D/blocks" of=w$1.bin bs=65536 skip=$b seek=$b count=1 conv=notrunc status=none; done; }
for i in 1 2 3 4; do writer $i & done
for i in $(seq 1 200); do echo "line $i" >> appended.txt; done &
wait
`
  fs.writeFileSync(path.join(inputs, 'blocks'), pattern(4 * 2 ** 20, 4))
  runScript(script, s.mountpoint)
  runScript(script, s.host)
  t.equal(s.unmount().status, 0)
  await expectImageEquals(t, s.image, s.host, path.join(dir, 'check-concurrent'), { skipMtime: /^(w\d\.bin|appended\.txt)$/ })
})
