import * as fs from 'node:fs'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import { asUser } from '../helpers/fs-agent'
import { mountImage } from '../helpers/mount'
import { extractWithBsdtar, isovfyErrors, xorrisoListing } from '../helpers/readers'
import { genisoimage, hasCommand, PYTHON, run, scratch, writeTree, xorrisoMkisofs, type RunResult } from '../helpers/tools'

/*
 * POSIX semantics through a real read-write mount, driven by shell tools as root and as another user
 * (setpriv, the mount allow_other): who owns what is made, which times change, one file behind every
 * hard link, long names (issue 14); what a commit keeps, as xorriso, pycdlib, bsdtar and isovfy read it,
 * in every commit mode; and editing by a user who isn't root (issue 13): userwrite on a mount of that
 * user's own, and isofs's uid=, gid=, overriderockperms.
 */

const dir = scratch(t, 'posix')
/** Another user: nobody (fusermount wants a user with a name), no supplementary groups. */
const NOBODY = { uid: 65534, gid: 65534 }
const GROUP = 4242
const OLD = 978307200 // 2001-01-01

const src = path.join(dir, 'src')
writeTree(src, { shared: {}, group: {}, 'readme.txt': 'readme\n' })
fs.chmodSync(path.join(src, 'shared'), 0o1777)
fs.chownSync(path.join(src, 'group'), 0, GROUP)
fs.chmodSync(path.join(src, 'group'), 0o2777)
const base = genisoimage(path.join(dir, 'base.iso'), ['-R', '-J'], src)

/** Runs a bash script as root, or as `who` through setpriv; "$1" is the first argument. */
function bash (script: string, args: string[], who?: { uid: number, gid: number }): RunResult {
  const command = ['bash', '-c', `set -euo pipefail\n${script}`, 'script', ...args]
  if (who === undefined) return run(command[0], command.slice(1))
  const [setpriv, ...switches] = asUser(who.uid, who.gid)
  return run(setpriv, [...switches, ...command])
}

/**
 * Issue 14's operations in a new directory `name` under /shared: each output line answers one question.
 * The first is the issue's own: `echo x>f; ln f g; stat f; echo y>>g; cat f`.
 */
const SCRIPT = `cd "$1/shared"; mkdir "$2"; cd "$2"
echo x > f; ln f g; echo "links $(stat -c %h f)"; echo y >> g; echo "cat $(cat f | tr '\\n' ' ')"
truncate -s 1 g; echo "size after truncate $(stat -c %s f)"
c0=$(stat -c %z f); sleep 0.05; rm g; echo "after rm: links $(stat -c %h f), ctime changed $([ "$(stat -c %z f)" != "$c0" ] && echo yes || echo no)"
ln f h; echo o > o; c0=$(stat -c %z f); sleep 0.05; mv o h; echo "after mv over: links $(stat -c %h f), ctime changed $([ "$(stat -c %z f)" != "$c0" ] && echo yes || echo no)"
touch -d @${OLD} .; touch t; echo "dir mtime after create $(stat -c %Y .)"
touch -d @${OLD} .; rm t; echo "dir mtime after rm $(stat -c %Y .)"
mkdir m; touch t; ln -s t l; mkfifo p; echo "owners $(stat -c %u:%g . t m l p | tr '\\n' ' ')"
touch ref; sleep 0.05; touch m/new; echo "newer $(find . -newer ref -type d | tr '\\n' ' ')"
touch e0; ln e0 e1
echo "long $( (stat "$(printf 'n%.0s' $(seq 256))" 2>&1 || true) | grep -o 'File name too long' || echo none)"
touch "../../group/$2"; echo "setgid $(stat -c %g "../../group/$2")"
`

function scriptChecks (t: Test, out: string, who: { uid: number, gid: number }): void {
  const lines = out.trim().split('\n')
  const line = (prefix: string): string => lines.find(l => l.startsWith(prefix)) ?? `(no "${prefix}" line in ${out})`
  t.equal(line('links'), 'links 2', 'ln: stat through the old name counts two links')
  t.equal(line('cat'), 'cat x y ', 'echo y >> g; cat f: both lines, at once')
  t.equal(line('size after truncate'), 'size after truncate 1', 'truncate through one name shows through the other at once')
  t.equal(line('after rm'), 'after rm: links 1, ctime changed yes', 'rm of a hard link: the survivor\'s link count and ctime change')
  t.equal(line('after mv over'), 'after mv over: links 1, ctime changed yes', 'mv over a hard link: the same')
  t.ok(Number(line('dir mtime after create').split(' ').pop()) > OLD, 'creating an entry changes the directory\'s mtime')
  t.ok(Number(line('dir mtime after rm').split(' ').pop()) > OLD, 'so does removing one')
  t.equal(line('owners'), `owners ${Array(5).fill(`${who.uid}:${who.gid}`).join(' ')} `, 'mkdir, touch, mkdir, ln -s, mkfifo: all the caller\'s')
  t.equal(line('newer'), 'newer ./m ', 'find -newer sees the directory an entry was added to')
  t.equal(line('long'), 'long File name too long', 'stat of a 256-byte name: ENAMETOOLONG')
  t.equal(line('setgid'), `setgid ${GROUP}`, 'a file in a set-group-ID directory takes its group')
}

/** Inode numbers of paths in a tree xorriso extracted with its hard link handling on. */
function xorrisoExtractInodes (iso: string, dest: string, paths: string[]): number[] {
  run('xorriso', ['-osirrox', 'on', '-hardlinks', 'on', '-indev', iso, '-extract', '/', dest])
  return paths.map(p => fs.lstatSync(path.join(dest, p)).ino)
}

/**
 * pycdlib's view of a record's TF entry: long form or not, and the hundredths of its modification time
 * (pycdlib names the stamps in another order than RRIP 4.1.6: its "access_time" is the second flag bit,
 * MODIFY, the first one written).
 */
function pycdlibTimes (iso: string, rrPath: string): { long: boolean, hundredths: number } {
  const script = `
import json, sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
tf = iso.get_record(rr_path=sys.argv[2]).rock_ridge.dr_entries.tf_record
print(json.dumps({'long': bool(tf.time_flags & 0x80), 'hundredths': getattr(tf.access_time, 'hundredthsofsecond', -1)}))
`
  return JSON.parse(run(PYTHON, ['-c', script, iso, rrPath]).stdout)
}

t.test('shell tools as root and as another user (allow_other); what each commit mode keeps', async t => {
  const image = path.join(dir, 'tools.iso')
  fs.copyFileSync(base, image)
  const m = mountImage(t, image, ['allow_other', 'commit=append'])
  t.equal(m.result.status, 0, `mounted: ${m.result.stderr}`)
  fs.chmodSync(path.dirname(m.mountpoint), 0o755) // the other user must reach the mount point
  for (const [label, who, name] of [['root', undefined, 'root'], ['another user', NOBODY, 'other']] as const) {
    await t.test(`as ${label}`, async t => scriptChecks(t, bash(SCRIPT, [m.mountpoint, name], who).stdout, who ?? { uid: 0, gid: 0 }))
  }
  t.equal(bash('(echo no >> "$1/readme.txt") 2>/dev/null && echo written || echo refused', [m.mountpoint], NOBODY).stdout.trim(), 'refused', 'another user cannot write root\'s 0644 file')
  // A time with hundredths, set by hand: a commit must keep them (RRIP TF long form).
  bash('touch -m -d "2020-06-15 12:30:45.375" "$1/shared/other/f"', [m.mountpoint], NOBODY)
  const appended = m.unmount()
  t.match(appended.stdout + appended.stderr, /committed by appending/, 'committed by appending')

  const listing = xorrisoListing(image)
  t.match(listing['/shared/other/m'], /^d\S+ 65534:65534 /, 'xorriso: the other user\'s directory is theirs')
  t.match(listing['/shared/other/l'], /^l\S+ 65534:65534 .* -> t$/, 'and the symlink')
  t.match(listing['/shared/root/t'], /^-rw-r--r-- 0:0 /, 'root\'s file is root\'s')
  t.match(listing['/group/other'], new RegExp(`^-\\S+ 65534:${GROUP} `), 'the set-group-ID directory\'s group')
  t.same(new Set(xorrisoExtractInodes(image, path.join(dir, 'x-append'), ['shared/other/e0', 'shared/other/e1'])).size, 1, 'xorriso: the empty hard links are one file')
  const bsdtar = extractWithBsdtar(image, path.join(dir, 'bsdtar-append'))
  t.equal(fs.statSync(path.join(bsdtar, 'shared/root/e0')).ino, fs.statSync(path.join(bsdtar, 'shared/root/e1')).ino, 'bsdtar: the same')
  t.same(pycdlibTimes(image, '/shared/other/f'), { long: true, hundredths: 37 }, 'pycdlib: the time set, in a long-form TF with its hundredths')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no errors')

  // A remaster, then a change in place: the empty hard links stay one file through both.
  const again = mountImage(t, image, ['commit=remaster'])
  fs.writeFileSync(path.join(again.mountpoint, 'shared/root/new'), 'new\n')
  const remastered = again.unmount()
  t.match(remastered.stdout + remastered.stderr, /committed by remastering/, 'committed by remastering')
  t.same(new Set(xorrisoExtractInodes(image, path.join(dir, 'x-remaster'), ['shared/root/e0', 'shared/root/e1'])).size, 1, 'xorriso: still one file')
  const inPlace = mountImage(t, image, ['commit=inplace'])
  bash('printf Y | dd of="$1/shared/root/new" conv=notrunc status=none', [inPlace.mountpoint])
  const patched = inPlace.unmount()
  t.match(patched.stdout + patched.stderr, /committed in place/, 'committed in place')
  const ro = mountImage(t, image, ['ro'])
  const [e0, e1] = ['e0', 'e1'].map(n => fs.statSync(path.join(ro.mountpoint, 'shared/root', n)))
  t.same([e0.ino === e1.ino, e0.nlink, e1.nlink], [true, 2, 2], 'remounted: one file with two names')
  t.equal(fs.readFileSync(path.join(ro.mountpoint, 'shared/root/new'), 'utf8'), 'Yew\n', 'and the change made in place')
  t.equal(Math.floor(fs.statSync(path.join(ro.mountpoint, 'shared/other/f')).mtimeMs / 10), Math.floor(Date.parse('2020-06-15T12:30:45.375Z') / 10), 'the time set, to the hundredth')
})

/** A distribution-like image: xorriso -r records root and read-only modes (0444 files, 0555 directories). */
const distribution = xorrisoMkisofs(path.join(dir, 'distribution.iso'), ['-r', '-J'], (() => {
  const tree = path.join(dir, 'dist-src')
  writeTree(tree, { isolinux: { 'isolinux.cfg': 'default linux\n' }, 'readme.txt': 'readme\n' })
  return tree
})())

/**
 * What the editing scripts below leave: the edited file, new entries owned as the directory they are in
 * (root: the options show owners, they do not record them), modes as given, untouched entries as they were.
 */
function expectRecorded (t: Test, image: string): void {
  const listing = xorrisoListing(image)
  t.match(listing['/isolinux/isolinux.cfg'], /^-rw-r--r-- 0:0 /, 'the edited file: root\'s, with the mode it was saved with')
  t.match(listing['/extra'], /^drwxr-xr-x 0:0 /, 'a new directory: root\'s, like the directory it is in')
  t.match(listing['/extra/notes.txt'], /^-rw-r--r-- 0:0 /, 'a new file too')
  t.match(listing['/readme.txt'], /^-r--r--r-- 0:0 /, 'an untouched file as it was')
  t.match(listing['/isolinux'], /^dr-xr-xr-x 0:0 /, 'and an untouched directory')
  t.match(listing['/extra/copy.txt'], /^-rw-r--r-- 0:0 /, 'cp -a: the mode shown copied, its chown to the owner shown recording nothing')
  const out = path.join(dir, `cfg-${path.basename(image)}`)
  run('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/isolinux/isolinux.cfg', out])
  t.equal(fs.readFileSync(out, 'utf8'), 'default edited\n', 'the edit is in the image')
}

const EDIT = `cd "$1"
sed -i s/linux/edited/ isolinux/isolinux.cfg
mkdir extra; echo notes > extra/notes.txt
cp -a readme.txt extra/copy.txt
`

t.test('isofs\'s uid=, gid=, overriderockperms, mode=, dmode=: another user edits a root-owned image', async t => {
  const image = path.join(dir, 'override.iso')
  fs.copyFileSync(distribution, image)
  const m = mountImage(t, image, ['allow_other', `uid=${NOBODY.uid}`, `gid=${NOBODY.gid}`, 'overriderockperms', 'mode=0644', 'dmode=0755'])
  t.equal(m.result.status, 0, `mounted: ${m.result.stderr}`)
  fs.chmodSync(path.dirname(m.mountpoint), 0o755)
  const shown = fs.statSync(path.join(m.mountpoint, 'readme.txt'))
  t.same([shown.uid, shown.gid, shown.mode & 0o7777], [NOBODY.uid, NOBODY.gid, 0o644], 'shown with the options\' owner and mode')
  t.equal(fs.statSync(path.join(m.mountpoint, 'isolinux')).mode & 0o7777, 0o755, 'directories with dmode=')
  bash(EDIT, [m.mountpoint], NOBODY)
  t.match(xorrisoListing(image)['/readme.txt'], /^-r--r--r-- /, 'nothing recorded before the commit')
  t.equal(m.unmount().status, 0, 'committed')
  expectRecorded(t, image)
})

const userwriteNeeds = ['unshare', 'setpriv', 'fusermount', 'mknod'].filter(c => !hasCommand(c))
const userwriteSkip = process.getuid?.() !== 0
  ? 'needs root, to give the user a private /dev/fuse it may open'
  : userwriteNeeds.length > 0 ? `needs ${userwriteNeeds.join(', ')}` : false

t.test('userwrite: a user who isn\'t root edits a root-owned image on a mount of their own', { skip: userwriteSkip }, async t => {
  // The user mounts with fusermount (setuid), which needs /dev/fuse open to users (Debian's udev makes it
  // 0666; a container may not): a private mount namespace gets its own such node, so nothing outside
  // changes, and the mount goes with the namespace whatever happens. The daemons run in the foreground
  // of the script, which waits for them (and ends them by id should a step fail).
  const home = path.join(dir, 'user')
  fs.mkdirSync(path.join(home, 'mnt'), { recursive: true })
  fs.copyFileSync(distribution, path.join(home, 'image.iso'))
  run('chown', ['-R', `${NOBODY.uid}:${NOBODY.gid}`, home])
  fs.chmodSync(dir, 0o755)
  const as = `${asUser(NOBODY.uid, NOBODY.gid).join(' ')} -u XDG_RUNTIME_DIR HOME="$HOMEDIR"`
  const script = `set -u
dev=$(mktemp -d); mknod "$dev/fuse" c 10 229; chmod 666 "$dev/fuse"; mount --bind "$dev/fuse" /dev/fuse; rm -r "$dev"
cd "$HOMEDIR"
daemon=
mounted () { grep -q " $HOMEDIR/mnt fuse" /proc/self/mounts; }
start () {
  ${as} "$NODE" "$ISOMOUNT" -f "$@" image.iso mnt & daemon=$!
  for i in $(seq 300); do mounted && return 0; kill -0 $daemon 2> /dev/null || return 1; sleep 0.1; done; return 1
}
stop () { ${as} "$NODE" "$ISOMOUNT" -u mnt && wait $daemon && daemon=; }
trap 'mounted && fusermount -u -z "$HOMEDIR/mnt"; [ -n "$daemon" ] && kill $daemon; wait' EXIT
start || exit 1
echo "plain: $(${as} touch mnt/new 2>&1 | grep -o 'Permission denied' || echo written)"
stop > /dev/null || exit 1
start -o userwrite || exit 1
echo "shown: $(${as} stat -c '%u:%g %a' mnt/readme.txt mnt/isolinux | tr '\\n' ' ')"
${as} bash -euc '${EDIT}' edit "$HOMEDIR/mnt" && echo edited
stop
`
  const r = run('unshare', ['--mount', 'bash', '-c', script], {
    env: { ...process.env, HOMEDIR: home, NODE: process.execPath, ISOMOUNT: path.resolve(__dirname, '../../../bin/isomount') },
    allowFailure: true,
    timeout: 120_000
  })
  t.equal(r.status, 0, `the user mounted, edited and unmounted: ${r.stderr}`)
  t.match(r.stdout, /^plain: Permission denied$/m, 'without userwrite, Rock Ridge\'s root and 0555 keep the user out')
  t.match(r.stdout, new RegExp(`^shown: ${NOBODY.uid}:${NOBODY.gid} 644 ${NOBODY.uid}:${NOBODY.gid} 755 $`, 'm'), 'with it, every entry is the user\'s, writable')
  t.match(r.stdout, /^edited$/m, 'sed -i, mkdir, cp -a as the user')
  t.match(r.stdout + r.stderr, /committed/, 'committed by the user\'s own daemon')
  expectRecorded(t, path.join(home, 'image.iso'))
})
