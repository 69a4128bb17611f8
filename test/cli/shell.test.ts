import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { extractWithBsdtar, isoinfoNames, isovfyErrors } from '../helpers/readers'
import { genisoimage, run, scratch, writeTree } from '../helpers/tools'
import { snapshot } from '../helpers/tree'

/*
 * `isotool shell IMAGE` driven as users drive it: commands on standard input (scripts), and at a terminal
 * (tmux), with tab completion. What it shows is checked against isoinfo and xorriso; what it writes is
 * read back by isoinfo, xorriso, bsdtar and isovfy.
 */

const ISOTOOL = path.join(__dirname, '../../../bin/isotool')
const dir = scratch(t, 'shell')
const src = path.join(dir, 'src')
writeTree(src, {
  'hello.txt': 'hello\n',
  'My Dir': { 'a file.txt': 'spaced\n' },
  docs: { 'guide.txt': 'guide\n', deep: { 'x.txt': 'x\n' } },
  link: { symlink: 'hello.txt' }
})
const host = path.join(dir, 'host')
writeTree(host, {
  'new.txt': 'new\n',
  tree: { 'one.txt': 'one\n', sub: { 'two.txt': 'two\n', 'three link': { symlink: 'two.txt' } } },
  'replacement.txt': 'replaced\n'
})
// Distribution images are made like this: xorriso -r records files 0444 and directories 0555, owner 0.
const distro = path.join(dir, 'distro.iso')
run('xorriso', ['-as', 'mkisofs', '-quiet', '-r', '-J', '-o', distro, src])

function sha (file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

function copy (name: string, from = distro): string {
  const to = path.join(dir, name)
  fs.copyFileSync(from, to)
  return to
}

/** The shell with `commands` on standard input (not a terminal), run from the scratch directory. */
function shell (image: string, commands: string[], args: string[] = []): { stdout: string, stderr: string, status: number } {
  return run(process.execPath, [ISOTOOL, 'shell', ...args, image], { input: commands.join('\n') + '\n', cwd: dir, allowFailure: true })
}

/** xorriso's listing: "mode links uid gid size path [-> target]" per entry, dates left out. */
function xorrisoList (iso: string): string[] {
  return run('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl']).stdout.split('\n').filter(l => l.startsWith('-') || l.startsWith('d') || l.startsWith('l'))
    .map(l => l.replace(/^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\w{3}\s+\d+\s+[\d:]+\s+/, '$1 $3 $4 $5 '))
}

t.test('commands from standard input: what they show is what isoinfo and xorriso read', async t => {
  const r = shell(distro, [
    'ls /',
    'cat "My Dir/a file.txt"',
    'cat My Dir/a file.txt',
    'cd My Dir',
    'pwd',
    'cd ..',
    'cd docs/deep',
    'pwd',
    'cat ../guide.txt',
    'cd /',
    'cat link',
    'tree',
    'stat hello.txt',
    'ls -l /hello.txt'
  ])
  t.equal(r.status, 0, 'exit 0: no command failed')
  t.equal(r.stderr, '', 'nothing on stderr')
  const out = r.stdout.split('\n')
  const top = isoinfoNames(distro, '-R').filter(n => !n.includes('/')).sort()
  t.same(out.slice(0, top.length), top, 'ls /: the names isoinfo -R lists, one a line (not a terminal)')
  const rest = out.slice(top.length)
  t.same(rest.slice(0, 2), ['spaced', 'spaced'], 'cat of a quoted path with spaces, and of the same path unquoted as the last argument')
  t.same(rest.slice(2, 4), ['/My Dir', '/docs/deep'], 'cd (unquoted spaces, "..", relative) and pwd')
  t.same(rest.slice(4, 6), ['guide', 'hello'], 'cat ../guide.txt; cat of a symbolic link reads its target')
  const treeNames = rest.slice(6, rest.indexOf('', 6)).slice(1).map(l => l.replace(/^[│├└─\s]+/, '').replace(/ -> .*$/, '')).sort()
  t.same(treeNames, isoinfoNames(distro, '-R').map(n => path.posix.basename(n)).sort(), 'tree shows every entry isoinfo -R lists')
  t.match(r.stdout, /^3 directories, 5 files$/m, 'tree counts directories (My Dir, docs, deep) and the rest')
  const isoinfoLine = run('isoinfo', ['-R', '-l', '-i', distro]).stdout.split('\n').find(l => / hello\.txt\s*$/.test(l)) ?? ''
  const lba = /\[\s*(\d+)/.exec(isoinfoLine)?.[1]
  t.match(r.stdout, new RegExp(`^Extent: LBA ${lba}$`, 'm'), `stat: the file's extent where isoinfo says it is (${lba})`)
  t.match(r.stdout, /^ Names: Rock Ridge "hello.txt", ISO9660 "HELLO.TXT;1", Joliet "hello.txt"$/m, 'stat: its name in each namespace')
  t.match(r.stdout, /^\s+Mode: 0444 \(-r--r--r--\)\s+Uid: 0\s+Gid: 0$/m, 'stat: xorriso -r\'s mode and owner')
  t.match(r.stdout, /^-r--r--r--\s+1\s+0\s+0\s+6 \S+ \S+ \/hello\.txt$/m, 'ls -l: mode, links, owner and size as isoinfo -R -l shows them')
  t.match(isoinfoLine, /^-r--r--r--\s+1\s+0\s+0\s+6 /, '(isoinfo -R -l)')
})

t.test('an error is reported and the session goes on; without a terminal, the exit status is 1 at the end', async t => {
  const image = copy('errors.iso')
  const before = sha(image)
  const r = shell(image, ['cat /nope', 'bogus', 'cd /hello.txt', 'rm /docs', 'mkdir /a/b', 'ls -z', 'cat "unterminated', 'pwd', 'ls /docs'])
  t.equal(r.status, 1, 'exit 1')
  t.same(r.stdout.split('\n'), ['/', 'deep', 'guide.txt', ''], 'the commands after the errors ran')
  t.same(r.stderr.split('\n').filter(l => l !== ''), [
    'cat: /nope: no such file or directory',
    'bogus: unknown command (help lists them)',
    'cd: /hello.txt is not a directory',
    'rm: /docs is a directory (rm -r removes it with its contents)',
    'mkdir: /a: no such directory (mkdir -p makes parents)',
    'ls: unknown option -z (usage: ls [-l] [PATH])',
    'unterminated " quote'
  ], 'one line per error, naming the command')
  t.equal(sha(image), before, 'the image is untouched')
})

t.test('changes, written as a mount commits them: isoinfo, xorriso, bsdtar and isovfy read the result', async t => {
  const image = copy('edit.iso')
  const r = shell(image, [
    // Copying in, as cp -a: into a directory, under a new name, over an existing file.
    'put host/new.txt',
    'put host/tree /imported',
    'put host/tree /docs',
    'put host/replacement.txt /hello.txt',
    'mkdir -p /made/deeper/still',
    'mkdir /made/plain',
    'mv /docs/guide.txt /made/',
    'mv "/My Dir" /Renamed Dir',
    'ln -s ../hello.txt /made/to-hello',
    'ln /new.txt /made/hard.txt',
    'rm -r /docs/deep',
    'rm /link',
    'chmod u+w,go-r /hello.txt',
    'chmod 0750 /made',
    'chmod -R a+w /imported',
    'write',
    'ls /made'
  ])
  t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr})`)
  t.match(r.stderr, /^committed (in place|by appending|by remastering) \(\d+ KiB written\) in [\d.]+ s$/m, 'write reports the commit')
  t.same(r.stdout.split('\n').filter(l => l !== ''), ['deeper', 'guide.txt', 'hard.txt', 'plain', 'to-hello'], 'the session goes on from the committed image')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no error')

  const out = extractWithBsdtar(image, path.join(dir, 'edit-bsdtar'))
  const tree = snapshot(out)
  const text = (p: string): string => fs.readFileSync(path.join(out, p), 'utf8')
  t.same(Object.keys(tree).sort(), [
    'Renamed Dir', 'Renamed Dir/a file.txt',
    'docs', 'docs/tree', 'docs/tree/one.txt', 'docs/tree/sub', 'docs/tree/sub/three link', 'docs/tree/sub/two.txt',
    'hello.txt',
    'imported', 'imported/one.txt', 'imported/sub', 'imported/sub/three link', 'imported/sub/two.txt',
    'made', 'made/deeper', 'made/deeper/still', 'made/guide.txt', 'made/hard.txt', 'made/plain', 'made/to-hello',
    'new.txt'
  ], 'bsdtar extracts exactly the tree the commands made')
  t.equal(text('hello.txt'), 'replaced\n', 'put over an existing file replaced it')
  t.equal(text('imported/sub/two.txt'), 'two\n', 'put of a directory to a new name copied it recursively')
  t.equal(text('docs/tree/one.txt'), 'one\n', 'put of a directory into an existing one went in under its own name')
  t.equal(tree['made/to-hello'].target, '../hello.txt', 'ln -s')
  t.equal(tree['imported/sub/three link'].target, 'two.txt', 'a host symlink came in as a symlink')
  t.equal(text('made/hard.txt'), 'new\n', 'ln (hard)')

  const list = xorrisoList(image)
  const line = (p: string): string => list.find(l => l.endsWith(` '${p}'`) || l.includes(` '${p}' -> `)) ?? `(no ${p})`
  t.match(line('/hello.txt'), /^-rw------- 0 0 9 /, 'chmod u+w,go-r on a 0444 file: 0600 (xorriso)')
  t.match(line('/made'), /^drwxr-x--- /, 'chmod 0750')
  t.match(line('/imported/sub/two.txt'), /^-rw-rw-rw- /, 'chmod -R a+w reached the files below')
  t.match(line('/made/plain'), new RegExp(`^drwxr-xr-x ${process.getuid?.()} ${process.getgid?.()} `), 'mkdir: 0755, the user\'s owner')
  t.match(line('/made/guide.txt'), /^-r--r--r-- 0 0 6 /, 'mv keeps the file\'s attributes')
  const extents = run('isoinfo', ['-R', '-l', '-i', image]).stdout.split('\n').filter(l => / (new|hard)\.txt\s*$/.test(l)).map(l => /\[\s*(\d+)/.exec(l)?.[1])
  t.equal(extents.length, 2, 'both names of the hard link are listed by isoinfo')
  t.equal(extents[0], extents[1], 'and point at one extent')
  t.ok(isoinfoNames(image, '-J').includes('Renamed Dir/a file.txt'), 'the Joliet tree follows the renames (isoinfo -J)')

  // A second session on the committed image: one more change, written again.
  const again = shell(image, ['rm -r /imported', 'write'])
  t.equal(again.status, 0, 'a later session edits the committed image')
  t.notOk(isoinfoNames(image, '-R').some(n => n.startsWith('imported')), 'rm -r /imported is in the image')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no error')
})

t.test('without a terminal, quit discards unwritten changes, saying so; the image stays as it was', async t => {
  const image = copy('discard.iso')
  const before = sha(image)
  const mtime = fs.statSync(image).mtimeMs
  const r = shell(image, ['mkdir /new', 'put host/new.txt', 'quit', 'mkdir /never'])
  t.equal(r.status, 0, 'exit 0')
  t.match(r.stderr, /^unwritten changes to discard\.iso discarded \(no terminal to ask; end the commands with write to keep them\)$/m, 'a note says they were discarded')
  t.equal(sha(image), before, 'same bytes')
  t.equal(fs.statSync(image).mtimeMs, mtime, 'same mtime')
  const eof = shell(image, ['mkdir /new'])
  t.match(eof.stderr, /discarded/, 'the end of input is a quit')
  t.equal(sha(image), before, 'same bytes')
})

t.test('--namespace: names and changes in that namespace', async t => {
  const gsrc = path.join(dir, 'gsrc')
  writeTree(gsrc, { 'Long Mixed Case Name.txt': 'long\n', sub: { 'inner.txt': 'inner\n' } })
  const image = genisoimage(path.join(dir, 'ns.iso'), ['-R', '-J'], gsrc)
  const joliet = shell(image, ['ls /'], ['--namespace', 'joliet'])
  t.same(joliet.stdout.split('\n').filter(l => l !== ''), isoinfoNames(image, '-J').filter(n => !n.includes('/')).sort(), 'joliet: the names isoinfo -J lists')
  const iso = shell(image, ['ls /', 'mkdir lower', 'mkdir UPPER', 'write'], ['--namespace', 'iso9660'])
  t.same(iso.stdout.split('\n').filter(l => l !== ''), ['LONG_MIX.TXT', 'SUB'], 'iso9660: genisoimage\'s 8.3 names, without ";1"')
  t.match(iso.stderr, /^mkdir: "lower" is not a valid ISO9660 directory name/m, 'a name the namespace cannot hold is refused')
  t.equal(iso.status, 1, 'exit 1: a command failed')
  t.ok(isoinfoNames(image, '').includes('UPPER'), 'the valid one was written (isoinfo)')
  t.ok(isoinfoNames(image, '-R').includes('UPPER'), 'with a Rock Ridge name derived from it')
  const bad = shell(image, ['ls'], ['--namespace', 'hfs'])
  t.equal(bad.status, 2, 'an unknown namespace is a usage error')
})

t.test('changes are refused where they could not be written: an older session', async t => {
  const r = shell(distro, ['ls /', 'mkdir /x'], ['--session', '1'])
  t.match(r.stdout, /^hello\.txt$/m, 'the session can be looked at')
  t.match(r.stderr, /^mkdir: the image cannot be changed: an older session \(--session\) is history/m, 'mkdir refused, saying why')
  t.equal(r.status, 1, 'exit 1')
})

t.test('write refuses while the image is mounted read-write, and when another program wrote to it meanwhile', async t => {
  const image = copy('busy.iso')
  const before = sha(image)
  // The lock a read-write mount holds, naming a live process (this test).
  const lock = path.join(dir, '.busy.iso.isomount-lock')
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid }))
  const busy = shell(image, ['mkdir /x', 'write'])
  fs.rmSync(lock)
  t.match(busy.stderr, new RegExp(`^write: .*busy\\.iso is mounted read-write \\(or its commit is still running\\) by process ${process.pid}$`, 'm'), 'write names the mount\'s process')
  t.equal(busy.status, 1, 'exit 1')
  t.equal(sha(image), before, 'the image is untouched')

  // Another program writes to the image while the shell has it open.
  const child = spawn(process.execPath, [ISOTOOL, 'shell', image], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.write('mkdir /x\npwd\n')
  const deadline = Date.now() + 20_000
  while (!stdout.includes('/\n') && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  run('xorriso', ['-dev', image, '-map', path.join(host, 'new.txt'), '/other.txt', '-commit'])
  const changed = sha(image)
  child.stdin.end('write\n')
  const status = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? -1)))
  t.match(stderr, /^write: .*busy\.iso was changed by another program since the shell opened it/m, 'write refuses, saying why')
  t.equal(status, 1, 'exit 1')
  t.equal(sha(image), changed, 'the other program\'s session is intact')
})

/** A terminal (tmux) running the shell: keys in, screen out. */
class Terminal {
  private readonly socket = `isotool-shell-${process.pid}`
  constructor (command: string, cwd: string) {
    this.tmux(['new-session', '-d', '-s', 'shell', '-x', '120', '-y', '50', '-c', cwd, `${command}; echo EXIT=$?; sleep 60`])
  }

  private tmux (args: string[]): string {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args]).stdout
  }

  keys (...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'shell', ...keys])
  }

  /** The literal text, with no key names interpreted. */
  type (text: string): void {
    this.tmux(['send-keys', '-t', 'shell', '-l', text])
  }

  screen (): string {
    return this.tmux(['capture-pane', '-t', 'shell', '-p', '-S', '-200'])
  }

  async waitFor (pattern: RegExp, what: string): Promise<string> {
    const deadline = Date.now() + 20_000
    for (;;) {
      const screen = this.screen()
      if (pattern.test(screen)) return screen
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${JSON.stringify(screen)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  close (): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'])
  }
}

t.test('at a terminal: tab completion of image and host paths, a prompt that shows changes, quit asks', async t => {
  const image = copy('tty.iso')
  const before = sha(image)
  const term = new Terminal(`${process.execPath} ${ISOTOOL} shell tty.iso`, dir)
  t.teardown(() => term.close())
  await term.waitFor(/^tty\.iso:\/>\s*$/m, 'the prompt')
  term.type('cd My')
  term.keys('Tab')
  await term.waitFor(/^tty\.iso:\/> cd My\\ Dir\/$/m, 'the image directory completed, its space escaped')
  term.keys('Enter')
  await term.waitFor(/^tty\.iso:\/My Dir>\s*$/m, 'the prompt in the new directory')
  term.type('put host/re')
  term.keys('Tab')
  await term.waitFor(/^tty\.iso:\/My Dir> put host\/replacement\.txt\s*$/m, 'a host path completed for put')
  term.keys('Enter')
  await term.waitFor(/^tty\.iso\*:\/My Dir>\s*$/m, 'a "*" in the prompt: unwritten changes')
  term.type('cat ../do')
  term.keys('Tab')
  await term.waitFor(/cat \.\.\/docs\/$/m, 'a relative image path completed')
  term.type('gu')
  term.keys('Tab')
  await term.waitFor(/cat \.\.\/docs\/guide\.txt\s*$/m, 'and the file in it')
  term.keys('Enter')
  await term.waitFor(/^guide$/m, 'cat printed it')
  term.type('bogus')
  term.keys('Enter')
  await term.waitFor(/^bogus: unknown command/m, 'an error, and the session goes on')
  term.type('quit')
  term.keys('Enter')
  await term.waitFor(/Write the changes to tty\.iso before quitting\? \[y\]es, \[n\]o \(discard them\), \[c\]ancel:\s*$/m, 'quit asks')
  term.type('c')
  term.keys('Enter')
  await term.waitFor(/\[c\]ancel: c\ntty\.iso\*:\/My Dir>\s*$/m, 'c: back to the prompt')
  t.equal(sha(image), before, 'nothing written yet')
  term.keys('C-d')
  await term.waitFor(/\[c\]ancel: c\ntty\.iso\*:\/My Dir>\s*\n.*Write the changes.*\[c\]ancel:\s*$/m, 'Ctrl-D is quit: it asks too')
  term.type('y')
  term.keys('Enter')
  const screen = await term.waitFor(/^EXIT=\d+$/m, 'the shell to end')
  t.match(screen, /^committed .* in [\d.]+ s$/m, 'y: the changes were committed')
  t.match(screen, /^EXIT=0$/m, 'exit 0 at a terminal, even though a command failed')
  t.ok(isoinfoNames(image, '-R').includes('My Dir/replacement.txt'), 'the file put is in the image (isoinfo -R)')
})
