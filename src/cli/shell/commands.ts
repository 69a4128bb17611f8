import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidInputError } from '../../errors'
import { extractTree } from '../../iso/extract'
import { HostImport } from '../../iso/edit/host-import'
import { contentStream, ImageExtentsSource } from '../../iso/model/data-source'
import type { Node } from '../../iso/model/node'
import { statOf } from '../../iso/model/stat'
import { withoutVersion } from '../../iso/read/names'
import { dateString, longListing, modeString } from '../format'
import { describeImage } from '../info'
import { applyMode } from './mode'
import type { ShellSession } from './session'

/** Where a command writes: its output (stdout) and its notes (stderr). */
export interface ShellOutput {
  write: (text: string | Buffer) => Promise<void>
  note: (text: string) => void
  /** Columns of the terminal, when output goes to one (ls prints in columns there). */
  columns?: number
}

/** What an argument of a command is, for tab completion. */
export type ArgumentKind = 'image' | 'host' | 'command' | 'none'

export interface CommandSpec {
  name: string
  aliases?: string[]
  usage: string
  summary: string
  /** One-letter flags it takes ("l" for ls -l). */
  flags?: string
  /** Flags that look like arguments are arguments (chmod -w). */
  dashArguments?: boolean
  min: number
  max: number
  arguments: ArgumentKind[]
  /** It changes the image (refused where changes cannot be written). */
  changes?: boolean
  run: (shell: ShellSession, args: string[], flags: Set<string>, out: ShellOutput) => Promise<void | 'quit'>
}

const now = (): number => Date.now()

/** Attributes of what the shell creates: the user's, now (as a mount records them). */
function newEntry (mode: number): { mode: number, uid: number, gid: number, mtimeMs: number, atimeMs: number, ctimeMs: number } {
  const t = now()
  return { mode, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeMs: t, atimeMs: t, ctimeMs: t }
}

function sortedByName (entries: ReadonlyMap<string, Node>): Array<[string, Node]> {
  return [...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}

/** Names in columns across a terminal's width, as ls prints them there; one a line elsewhere. */
function columns (names: string[], width: number | undefined): string {
  if (names.length === 0) return ''
  if (width === undefined) return names.join('\n') + '\n'
  const cell = Math.max(...names.map(n => n.length)) + 2
  const perLine = Math.max(1, Math.floor(width / cell))
  const rows = Math.ceil(names.length / perLine)
  const lines: string[] = []
  for (let r = 0; r < rows; r++) {
    const row: string[] = []
    for (let c = 0; c < perLine; c++) {
      const name = names[c * rows + r]
      if (name !== undefined) row.push(name.padEnd(cell))
    }
    lines.push(row.join('').trimEnd())
  }
  return lines.join('\n') + '\n'
}

async function ls (shell: ShellSession, args: string[], flags: Set<string>, out: ShellOutput): Promise<void> {
  const long = flags.has('l')
  const target = args[0] ?? '.'
  const node = await shell.lookup(target, !long || target.endsWith('/') || args.length === 0)
  const line = (name: string, n: Node): string => long ? longListing(statOf(n), name, n.inode.symlinkTarget) : name
  if (!node.isDirectory) {
    await out.write(line(target, node) + '\n')
    return
  }
  const entries = sortedByName(await shell.view.entries(node))
  if (long) await out.write(entries.map(([name, n]) => line(name, n) + '\n').join(''))
  else await out.write(columns(entries.map(([name]) => name), out.columns))
}

async function tree (shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  const start = await shell.lookup(args[0] ?? '.', true)
  const counts = { directories: 0, files: 0 }
  const lines: string[] = [args[0] ?? '.']
  const walk = async (dir: Node, indent: string): Promise<void> => {
    const entries = sortedByName(await shell.view.entries(dir))
    for (const [i, [name, node]] of entries.entries()) {
      const last = i === entries.length - 1
      const target = node.inode.symlinkTarget
      lines.push(`${indent}${last ? '└── ' : '├── '}${name}${target !== undefined ? ` -> ${target}` : ''}`)
      if (node.isDirectory) {
        counts.directories++
        await walk(node, indent + (last ? '    ' : '│   '))
      } else {
        counts.files++
      }
    }
  }
  if (start.isDirectory) await walk(start, '')
  lines.push('', `${counts.directories} director${counts.directories === 1 ? 'y' : 'ies'}, ${counts.files} file${counts.files === 1 ? '' : 's'}`)
  await out.write(lines.join('\n') + '\n')
}

async function cat (shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  const node = await shell.lookup(args[0], true)
  if (node.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${args[0]} is a directory`)
  for await (const chunk of contentStream(node.inode.data)) await out.write(chunk as Buffer)
}

const KINDS: Record<string, string> = {
  file: 'regular file', directory: 'directory', symlink: 'symbolic link', fifo: 'fifo', socket: 'socket', 'char-device': 'character device', 'block-device': 'block device'
}

async function stat (shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  const node = await shell.lookup(args[0], false)
  // Joliet names are merged into a directory only when asked for.
  await node.parent?.dir?.complete()
  const s = statOf(node)
  const names = node.names
  const data = node.inode.data
  const lines = [
    `  File: ${shell.pathOf(node)}${node.inode.symlinkTarget !== undefined ? ` -> ${node.inode.symlinkTarget}` : ''}`,
    `  Type: ${KINDS[s.kind] ?? s.kind}`,
    `  Size: ${s.size}  Links: ${s.nlink}  Inode: ${s.ino}`,
    `  Mode: ${(s.mode & 0o7777).toString(8).padStart(4, '0')} (${modeString(s.mode)})  Uid: ${s.uid}  Gid: ${s.gid}${s.posix ? '' : '  (not recorded: no Rock Ridge)'}`,
    `Modify: ${dateString(s.mtimeMs)}`,
    `Access: ${dateString(s.atimeMs)}`,
    `Change: ${dateString(s.ctimeMs)}`,
    ` Names: ${[
      names.rr !== undefined || names.iso !== undefined ? `Rock Ridge ${JSON.stringify(names.rr ?? '-')}` : undefined,
      names.iso !== undefined ? `ISO9660 ${JSON.stringify(names.iso)}` : 'not in the ISO9660 tree',
      names.joliet !== undefined ? `Joliet ${JSON.stringify(withoutVersion(names.joliet))}` : 'not in the Joliet tree'
    ].filter(n => n !== undefined).join(', ')}`
  ]
  if (s.kind === 'file' && data instanceof ImageExtentsSource) lines.push(`Extent: LBA ${data.lba}${data.sections.length > 1 ? ` (${data.sections.length} sections)` : ''}`)
  else if (s.kind === 'file') lines.push('Extent: not in the image yet (written by write)')
  await out.write(lines.join('\n') + '\n')
}

async function info (shell: ShellSession, _args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  await out.write(await describeImage(shell.image, shell.imagePath, false))
  await out.write(`Shell:          namespace ${shell.namespace}; ${shell.changed ? 'unwritten changes (write commits them)' : 'no unwritten changes'}\n`)
}

async function cd (shell: ShellSession, args: string[]): Promise<void> {
  const node = await shell.lookup(args[0] ?? '/', true)
  if (!node.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${args[0]} is not a directory`)
  shell.cwd = shell.pathOf(node)
}

async function pwd (shell: ShellSession, _args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  await out.write(shell.cwd + '\n')
}

/** get PATH [HOSTPATH]: as cp -a: into HOSTPATH when it is a directory, else as HOSTPATH. */
async function get (shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  const node = await shell.lookup(args[0], false)
  const name = shell.view.nameOf(node) ?? 'root'
  const dest = args[1] ?? '.'
  const into = isHostDirectory(dest)
  const source = shell.pathOf(node)
  const onWarning = (message: string): void => out.note(message)
  if (node.isDirectory) {
    const target = into ? path.join(dest, node === shell.image.root ? path.basename(shell.imagePath, path.extname(shell.imagePath)) : name) : dest
    await extractTree(shell.image, source, target, { namespace: shell.namespace, onWarning })
  } else if (into) {
    await extractTree(shell.image, source, dest, { namespace: shell.namespace, onWarning })
  } else {
    // A file under another name: extracted beside it, then renamed over it (never half-written).
    const dir = path.dirname(path.resolve(dest))
    const scratch = fs.mkdtempSync(path.join(dir, '.isotool-get-'))
    try {
      await extractTree(shell.image, source, scratch, { namespace: shell.namespace, onWarning })
      const [made] = fs.readdirSync(scratch)
      fs.renameSync(path.join(scratch, made), dest)
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true })
    }
  }
}

function isHostDirectory (p: string): boolean {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

/** put HOSTPATH [PATH]: as cp -a: into PATH when it is a directory, else as PATH (a file there replaced). */
async function put (shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  const host = args[0]
  try {
    fs.lstatSync(host)
  } catch {
    throw new InvalidInputError('NOT_FOUND', `${host}: no such file or directory on the host`)
  }
  const dest = args[1] ?? '.'
  const existing = await shell.find(dest, true)
  const hostName = path.basename(path.resolve(host))
  const place = existing?.isDirectory === true
    ? { parent: existing, name: hostName, path: path.posix.join(shell.pathOf(existing), hostName) }
    : await shell.placeOf(dest)
  const run = new HostImport(shell.image, {
    replace: true,
    onSkip: (p, reason) => out.note(`${p} left out: ${reason}`)
  })
  await run.addAs(host, place.parent, place.name, place.path)
}

async function mkdir (shell: ShellSession, args: string[], flags: Set<string>): Promise<void> {
  const full = shell.absolute(args[0])
  const parts = full.split('/').filter(p => p !== '')
  let dir = shell.image.root
  for (const [i, part] of parts.entries()) {
    const existing = await shell.view.child(dir, part)
    const last = i === parts.length - 1
    if (existing !== undefined && (!last || flags.has('p'))) {
      const target = existing.inode.symlinkTarget !== undefined ? await shell.lookup('/' + parts.slice(0, i + 1).join('/'), true) : existing
      if (!target.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `/${parts.slice(0, i + 1).join('/')} is not a directory`)
      dir = target
      continue
    }
    if (existing !== undefined) throw new InvalidInputError('EXISTS', `${full} exists`)
    if (!last && !flags.has('p')) throw new InvalidInputError('NOT_FOUND', `/${parts.slice(0, i + 1).join('/')}: no such directory (mkdir -p makes parents)`)
    dir = await shell.image.addChild(dir, part, 'directory', {}, { namespace: shell.namespace, ...newEntry(0o755) })
  }
}

async function rm (shell: ShellSession, args: string[], flags: Set<string>): Promise<void> {
  const node = await shell.find(args[0], false)
  if (node === undefined) {
    if (flags.has('f')) return
    throw new InvalidInputError('NOT_FOUND', `${shell.absolute(args[0])}: no such file or directory`)
  }
  if (node === shell.image.root) throw new InvalidInputError('BAD_PATH', 'the root cannot be removed')
  if (node.isDirectory && !flags.has('r')) {
    throw new InvalidInputError('IS_A_DIRECTORY', `${shell.pathOf(node)} is a directory (rm -r removes it with its contents)`)
  }
  const where = shell.pathOf(node)
  await removeTree(shell, node)
  // The current directory went with it: back to the nearest directory that is left.
  if (shell.cwd === where || shell.cwd.startsWith(where + '/')) shell.cwd = path.posix.dirname(where)
}

/** Removes a node and, for a directory, everything in it in every tree (Joliet-only entries too). */
async function removeTree (shell: ShellSession, node: Node): Promise<void> {
  if (node.dir !== undefined) {
    await node.dir.complete()
    for (const child of [...await node.dir.list()]) await removeTree(shell, child)
  }
  await shell.image.removeNode(node)
}

/** mv SOURCE DEST: into DEST when it is a directory; an existing DEST is replaced as rename(2) replaces. */
async function mv (shell: ShellSession, args: string[]): Promise<void> {
  const node = await shell.lookup(args[0], false)
  if (node === shell.image.root) throw new InvalidInputError('BAD_PATH', 'the root cannot be moved')
  const target = await shell.find(args[1], true)
  const place = target?.isDirectory === true && target !== node
    ? { parent: target, name: shell.view.nameOf(node) as string }
    : await shell.placeOf(args[1])
  const to = path.posix.join(shell.pathOf(place.parent), place.name)
  const existing = await shell.view.child(place.parent, place.name)
  if (existing === node) return
  if (existing !== undefined) {
    if (node.isDirectory && !existing.isDirectory) throw new InvalidInputError('NOT_A_DIRECTORY', `${to} is not a directory`)
    if (!node.isDirectory && existing.isDirectory) throw new InvalidInputError('IS_A_DIRECTORY', `${to} is a directory`)
    if (existing.dir !== undefined && (await shell.view.entries(existing)).size > 0) throw new InvalidInputError('NOT_EMPTY', `${to} is not empty`)
    await shell.image.removeNode(existing)
  }
  const from = shell.pathOf(node)
  await shell.image.renameNode(node, to, shell.namespace)
  shell.image.setNodeAttributes(node, { ctimeMs: now() })
  if (shell.cwd === from || shell.cwd.startsWith(from + '/')) shell.cwd = to + shell.cwd.slice(from.length)
}

/** ln -s TARGET LINK (a symbolic link), ln TARGET LINK (a hard link); into LINK when it is a directory. */
async function ln (shell: ShellSession, args: string[], flags: Set<string>): Promise<void> {
  const [target, link] = [args[0], args[1] ?? path.posix.basename(args[0])]
  const existing = await shell.find(link, true)
  const place = existing?.isDirectory === true
    ? { parent: existing, name: path.posix.basename(target) }
    : await shell.placeOf(link)
  if (await shell.view.child(place.parent, place.name) !== undefined) throw new InvalidInputError('EXISTS', `${path.posix.join(shell.pathOf(place.parent), place.name)} exists`)
  if (flags.has('s')) {
    await shell.image.addChild(place.parent, place.name, 'symlink', { symlinkTarget: target }, { namespace: shell.namespace, ...newEntry(0o777) })
    return
  }
  const node = await shell.lookup(target, false)
  await shell.image.linkChild(node, place.parent, place.name, { namespace: shell.namespace })
  shell.image.setNodeAttributes(node, { ctimeMs: now() })
}

async function chmod (shell: ShellSession, args: string[], flags: Set<string>): Promise<void> {
  if (shell.image.settings.rockRidge === undefined) throw new InvalidInputError('NOT_PERMITTED', 'the image has no Rock Ridge to record permissions')
  const apply = async (node: Node): Promise<void> => {
    // Links have no mode of their own (chmod(1) leaves them alone when recursing).
    if (node.inode.symlinkTarget !== undefined) return
    shell.image.setNodeAttributes(node, { mode: applyMode(args[0], node.inode.mode, node.isDirectory), ctimeMs: now() })
    if (flags.has('R') && node.isDirectory) for (const [, child] of await shell.view.entries(node)) await apply(child)
  }
  await apply(await shell.lookup(args[1], true))
}

async function write (shell: ShellSession, _args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  out.note(await shell.write())
}

async function help (_shell: ShellSession, args: string[], _flags: Set<string>, out: ShellOutput): Promise<void> {
  if (args[0] !== undefined) {
    const spec = findCommand(args[0])
    if (spec === undefined) throw new InvalidInputError('BAD_ARGUMENT', `help: no command "${args[0]}"`)
    await out.write(`${spec.usage}\n  ${spec.summary}\n`)
    return
  }
  await out.write(SHELL_HELP)
}

export const COMMANDS: CommandSpec[] = [
  { name: 'ls', usage: 'ls [-l] [PATH]', summary: 'list a directory (-l: mode, links, owner, size, time)', flags: 'l', min: 0, max: 1, arguments: ['image'], run: ls },
  { name: 'cd', usage: 'cd [PATH]', summary: 'change the current directory (default /)', min: 0, max: 1, arguments: ['image'], run: cd },
  { name: 'pwd', usage: 'pwd', summary: 'print the current directory', min: 0, max: 0, arguments: [], run: pwd },
  { name: 'tree', usage: 'tree [PATH]', summary: 'show a directory tree', min: 0, max: 1, arguments: ['image'], run: tree },
  { name: 'cat', usage: 'cat PATH', summary: 'print a file', min: 1, max: 1, arguments: ['image'], run: cat },
  { name: 'stat', usage: 'stat PATH', summary: 'attributes, names in each namespace, where the data is', min: 1, max: 1, arguments: ['image'], run: stat },
  { name: 'info', usage: 'info', summary: 'describe the image: volume, extensions, boot records', min: 0, max: 0, arguments: [], run: info },
  { name: 'get', usage: 'get PATH [HOSTPATH]', summary: 'copy out to the host (directories recursively), as cp -a', min: 1, max: 2, arguments: ['image', 'host'], run: get },
  { name: 'put', usage: 'put HOSTPATH [PATH]', summary: 'copy into the image (directories recursively), as cp -a', min: 1, max: 2, arguments: ['host', 'image'], changes: true, run: put },
  { name: 'mkdir', usage: 'mkdir [-p] PATH', summary: 'make a directory (-p: parents too, no error if it exists)', flags: 'p', min: 1, max: 1, arguments: ['image'], changes: true, run: mkdir },
  { name: 'rm', usage: 'rm [-r] [-f] PATH', summary: 'remove (-r: a directory and its contents; -f: if there)', flags: 'rf', min: 1, max: 1, arguments: ['image'], changes: true, run: rm },
  { name: 'mv', usage: 'mv SOURCE DEST', summary: 'move or rename (into DEST if it is a directory)', min: 2, max: 2, arguments: ['image', 'image'], changes: true, run: mv },
  { name: 'ln', usage: 'ln [-s] TARGET [LINK]', summary: 'make a symbolic link (-s) or a hard link', flags: 's', min: 1, max: 2, arguments: ['image', 'image'], changes: true, run: ln },
  { name: 'chmod', usage: 'chmod [-R] MODE PATH', summary: 'change permissions: octal, or u+x, go-w, a=rX… (-R: recursive)', flags: 'R', dashArguments: true, min: 2, max: 2, arguments: ['none', 'image'], changes: true, run: chmod },
  { name: 'write', usage: 'write', summary: 'commit the changes into the image, as a mount\'s commit does', min: 0, max: 0, arguments: [], run: write },
  { name: 'quit', aliases: ['exit'], usage: 'quit', summary: 'leave; asks about unwritten changes (discarded without a terminal)', min: 0, max: 0, arguments: [], run: async () => 'quit' },
  { name: 'help', usage: 'help [COMMAND]', summary: 'list the commands, or describe one', min: 0, max: 1, arguments: ['command'], run: help }
]

export function findCommand (name: string): CommandSpec | undefined {
  return COMMANDS.find(c => c.name === name || c.aliases?.includes(name) === true)
}

export const SHELL_HELP = `Commands (paths are in the image, relative to the current directory; HOSTPATH is on the host):
${COMMANDS.map(c => `  ${c.usage.padEnd(22)} ${c.summary}`).join('\n')}
Quote a name with spaces ('My File' or My\\ File), or give it unquoted as the last argument.
Changes stay in memory (added files are read from the host) until write.
`
