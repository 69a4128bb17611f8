import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { knownOptions } from '../../src/cli/mkisofs-args'
import { COMMANDS } from '../../src/cli/shell/commands'
import { NAMESPACES } from '../../src/iso/namespace'
import { run, scratch } from '../helpers/tools'

/*
 * The basics a user reaches for first: --version, the man pages and bash completion, each kept in step
 * with --help (every option --help lists is in the man page and is completed), and installed where man
 * and bash find them.
 */

const ROOT = path.join(__dirname, '../../..')
const dir = scratch(t, 'docs')
const bin = (name: string): string => path.join(ROOT, 'bin', name)

const printed = new Map<string, string>()
/** What a command prints (each asked once: a Node start is slow on a busy machine). */
function help (command: string, ...args: string[]): string {
  const key = [command, ...args].join(' ')
  if (!printed.has(key)) printed.set(key, run(process.execPath, [bin(command), ...args]).stdout)
  return printed.get(key) as string
}

/** Option names ("-o", "--options") in the option lines of a --help text (its "Options:" section). */
function helpOptions (text: string): string[] {
  const section = text.split('\n\n').find(p => p.startsWith('Options:')) ?? ''
  const names: string[] = []
  for (const line of section.split('\n').slice(1)) {
    const m = /^ {2}(\S.*?)(\s{2,}|$)/.exec(line)
    if (m === null) continue
    for (const part of m[1].split(', ')) names.push(part.split(' ')[0])
  }
  return names
}

/** isomount's -o names, from the "Mount options" section of its --help. */
function mountOptionNames (): string[] {
  const section = help('isomount', '--help').split(/^Mount options.*$/m)[1].split(/^Examples:/m)[0]
  const names: string[] = []
  for (const line of section.split('\n')) {
    const m = /^ {2}(\S.*?)(\s{2,}|$)/.exec(line)
    if (m !== null) for (const part of m[1].split(/, /)) names.push(part.split('=')[0])
  }
  return names
}

/** isotool's commands, from the "Commands:" section of its --help. */
function isotoolCommands (): string[] {
  const section = help('isotool', '--help').split(/^Commands:$/m)[1]
  return section.split('\n').map(l => /^ {2}(\w+)/.exec(l)?.[1]).filter((c): c is string => c !== undefined)
}

/** The man page as man shows it, without hyphenation or line breaks in the middle of a name. */
function manText (page: string): string {
  const r = run('sh', ['-c', `groff -mandoc -Tascii -ww -rHY=0 -rLL=2000n "${page}" | col -b`])
  return r.stdout
}

const hasToken = (text: string, token: string): boolean => new RegExp(`(^|[\\s,(\\[|])${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s,)\\]|=])`, 'm').test(text)

t.test('--version prints the package version, for both commands', async t => {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string
  t.equal(help('isomount', '--version'), `${version}\n`, 'isomount --version')
  t.equal(help('isotool', '--version'), `${version}\n`, 'isotool --version')
  t.equal(help('isotool', '-V'), `${version}\n`, 'isotool -V')
})

t.test('the man pages render without warnings and document every option --help lists', async t => {
  for (const page of ['isomount', 'isotool']) {
    const r = run('sh', ['-c', `groff -mandoc -Tascii -ww "${path.join(ROOT, 'man', `${page}.1`)}" 2>&1 >/dev/null`])
    t.equal(r.stdout, '', `${page}(1): groff has no warning`)
  }
  const isomount = manText(path.join(ROOT, 'man/isomount.1'))
  const options = helpOptions(help('isomount', '--help'))
  t.ok(options.includes('--unmount') && options.includes('-o'), `isomount --help lists its options (${options.join(' ')})`)
  t.same(options.filter(o => !hasToken(isomount, o)), [], 'isomount(1) has every option of isomount --help')
  const mountOptions = mountOptionNames()
  t.ok(mountOptions.includes('commit') && mountOptions.includes('norock'), `and its mount options (${mountOptions.join(' ')})`)
  t.same(mountOptions.filter(o => !hasToken(isomount, o)), [], 'isomount(1) has every mount option of isomount --help')
  t.ok(hasToken(isomount, 'sync'), 'and isomount sync')

  const isotool = manText(path.join(ROOT, 'man/isotool.1'))
  const commands = isotoolCommands().filter(c => c !== 'help')
  t.same(commands.sort(), ['cat', 'extract', 'info', 'ls', 'mkisofs', 'shell', 'verify'], 'isotool --help lists its commands')
  const missing: string[] = []
  for (const name of helpOptions(help('isotool', '--help'))) if (!hasToken(isotool, name)) missing.push(name)
  for (const command of commands) {
    if (!hasToken(isotool, command)) missing.push(command)
    if (command === 'mkisofs') continue
    for (const name of helpOptions(help('isotool', command, '--help'))) if (!hasToken(isotool, name)) missing.push(`${command} ${name}`)
  }
  const mkisofsHelp = help('isotool', 'mkisofs', '-help')
  for (const name of knownOptions().filter(o => o.kind === 'works').map(o => o.name)) {
    if (hasToken(mkisofsHelp, name) && !hasToken(isotool, name)) missing.push(`mkisofs ${name}`)
  }
  for (const command of COMMANDS) if (!hasToken(isotool, command.name)) missing.push(`shell ${command.name}`)
  t.same(missing, [], 'isotool(1) has every option and command of isotool --help, isotool CMD --help, isotool mkisofs -help and the shell')
})

t.test('scripts/install-docs.sh installs where man and bash-completion find them', async t => {
  const prefix = path.join(dir, 'prefix')
  run(path.join(ROOT, 'scripts/install-docs.sh'), [prefix])
  for (const page of ['isomount', 'isotool']) {
    const shown = run('man', [page], { env: { ...process.env, MANPATH: path.join(prefix, 'share/man'), MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } }).stdout
    t.match(shown, new RegExp(`^NAME\\n\\s+${page}\\s+-\\s+`, 'm'), `man ${page} shows the page`)
  }
  const loaded = run('bash', ['-c', `source "${path.join(prefix, 'share/bash-completion/completions/isotool')}" && complete -p isomount isotool`]).stdout
  t.match(loaded, /complete -F _isomount isomount\ncomplete -F _isotool isotool/, 'the installed completion registers both commands')
})

/**
 * Runs the completion function in bash as bash runs it on Tab: COMP_WORDS split as bash splits them
 * (at "=" too), COMP_CWORD the last, COMP_LINE and COMP_POINT the line typed. Returns COMPREPLY.
 */
function complete (fn: '_isomount' | '_isotool', line: string, cwd = dir): string[] {
  const words = line.split(/(?<==)|(?==)|\s+/).filter((w, i, all) => w !== '' || i === all.length - 1)
  if (/\s$/.test(line)) words.push('')
  const script = `
source "${path.join(ROOT, 'completion/isomount.bash')}"
COMP_WORDS=(${words.map(w => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')})
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMP_LINE='${line.replace(/'/g, `'\\''`)}'
COMP_POINT=\${#COMP_LINE}
${fn} 2>/dev/null
printf '%s\\n' "\${COMPREPLY[@]}"
`
  return run('bash', ['--norc', '--noprofile', '-c', script], { cwd }).stdout.split('\n').filter(l => l !== '')
}

t.test('bash completion: subcommands, options, -o names and values, namespaces, files', async t => {
  fs.mkdirSync(path.join(dir, 'work/mnt'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'work/debian.iso'), '')
  fs.writeFileSync(path.join(dir, 'work/disk.img'), '')
  fs.writeFileSync(path.join(dir, 'work/notes.txt'), '')
  const work = path.join(dir, 'work')
  t.same(complete('_isomount', 'isomount -o nam'), ['namespace='], '-o: an option name')
  t.same(complete('_isomount', 'isomount -o namespace='), NAMESPACES.map(n => `=${n}`), '-o namespace=: every namespace (bash made "=" a word of its own)')
  t.same(complete('_isomount', 'isomount -o namespace=jo'), ['joliet'], '-o namespace=jo: joliet')
  t.same(complete('_isomount', 'isomount -o ro,noj'), ['ro,nojoliet'], 'after a comma, the next name')
  t.same(complete('_isomount', 'isomount -o ro,commit=ap'), ['append'], 'commit= values')
  t.same(complete('_isomount', 'isomount -o check=s'), ['strict'], 'check= values')
  t.same(complete('_isomount', 'isomount ', work), ['mnt', 'debian.iso', 'disk.img', 'sync'], 'first argument: images (and directories), or sync')
  t.same(complete('_isomount', 'isomount -o ro debian.iso ', work), ['mnt'], 'second: a mount point')
  t.same(complete('_isomount', 'isomount -u ', work), ['mnt'], '-u: a mount point')
  t.same(complete('_isotool', 'isotool '), ['info', 'ls', 'cat', 'extract', 'verify', 'mkisofs', 'shell', 'help'], 'isotool: its commands')
  t.same(complete('_isotool', 'isotool ls -n '), NAMESPACES, '-n: every namespace')
  t.same(complete('_isotool', 'isotool shell --namespace j'), ['joliet'], '--namespace j')
  t.same(complete('_isotool', 'isotool shell ', work), ['mnt', 'debian.iso', 'disk.img'], 'an image for shell')
  t.same(complete('_isotool', 'isotool extract debian.iso -C ', work), ['mnt'], 'extract -C: a directory')
  t.same(complete('_isotool', 'isotool mkisofs -no-e'), ['-no-emul-boot'], 'mkisofs options')
  t.same(complete('_isotool', 'isotool mkisofs -eltorito-platform '), ['x86', 'PPC', 'Mac', 'efi'], 'mkisofs -eltorito-platform values')

  // In step with --help: everything --help lists is completed.
  const isomountOptions = complete('_isomount', 'isomount -')
  t.same(helpOptions(help('isomount', '--help')).filter(o => !isomountOptions.includes(o)), [], 'every isomount option of --help')
  const names = complete('_isomount', 'isomount -o ').map(n => n.replace(/=$/, ''))
  t.same(mountOptionNames().filter(n => !names.includes(n)), [], 'every mount option of isomount --help')
  const commands = complete('_isotool', 'isotool ')
  t.same(isotoolCommands().filter(c => !commands.includes(c)), [], 'every isotool command')
  const missing: string[] = []
  for (const command of isotoolCommands().filter(c => c !== 'help' && c !== 'mkisofs')) {
    const offered = complete('_isotool', `isotool ${command} -`)
    for (const name of helpOptions(help('isotool', command, '--help'))) if (!offered.includes(name)) missing.push(`${command} ${name}`)
  }
  const mkisofs = complete('_isotool', 'isotool mkisofs -')
  for (const o of knownOptions().filter(o => o.kind === 'works' && o.name !== '--help')) if (!mkisofs.includes(o.name)) missing.push(`mkisofs ${o.name}`)
  t.same(missing, [], 'every option of each isotool command, and every mkisofs option that works')
  t.notOk(mkisofs.includes('-hfs'), 'mkisofs options that are refused are not offered')
})
