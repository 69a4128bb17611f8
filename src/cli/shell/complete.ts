import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { COMMANDS, findCommand, type ArgumentKind } from './commands'
import type { ShellSession } from './session'
import { quoteWord, splitWords } from './words'

/**
 * Tab completion for the shell at a terminal (Node's readline completer): command names first, then
 * per argument what the command takes there: paths in the image, or on the host (put's source, get's
 * destination). Candidates are spelled as the splitter reads them back (spaces escaped), directories
 * with a "/" so that the next tab goes on into them.
 */
export async function complete (shell: ShellSession, line: string): Promise<[string[], string]> {
  const { words, open } = splitWords(line, true)
  const last = words[words.length - 1]
  const inWord = last !== undefined && (open !== undefined || last.end === line.length)
  const current = inWord ? last : undefined
  const replaced = current !== undefined ? line.slice(current.start) : ''
  const text = current?.text ?? ''
  const before = inWord ? words.slice(0, -1) : words
  if (before.length === 0) return [commandNames(text).map(n => n + ' '), replaced]
  const spec = findCommand(before[0].text)
  if (spec === undefined) return [[], replaced]
  if (text.startsWith('-') && spec.flags !== undefined && spec.dashArguments !== true) return [[], replaced]
  const positional = before.slice(1).filter(w => !(w.text.startsWith('-') && w.text.length > 1 && [...w.text.slice(1)].every(c => spec.flags?.includes(c)))).length
  const kind: ArgumentKind = spec.arguments[Math.min(positional, spec.arguments.length - 1)] ?? 'none'
  switch (kind) {
    case 'command': return [commandNames(text), replaced]
    case 'image': return [await imagePaths(shell, text), replaced]
    case 'host': return [hostPaths(text), replaced]
    default: return [[], replaced]
  }
}

function commandNames (prefix: string): string[] {
  return COMMANDS.flatMap(c => [c.name, ...(c.aliases ?? [])]).filter(n => n.startsWith(prefix)).sort()
}

function split (text: string): { dir: string, prefix: string } {
  const slash = text.lastIndexOf('/')
  return { dir: text.slice(0, slash + 1), prefix: text.slice(slash + 1) }
}

async function imagePaths (shell: ShellSession, text: string): Promise<string[]> {
  const { dir, prefix } = split(text)
  try {
    const node = await shell.lookup(dir === '' ? '.' : dir, true)
    if (!node.isDirectory) return []
    const hits: string[] = []
    for (const [name, child] of await shell.view.entries(node)) {
      if (!name.startsWith(prefix)) continue
      const isDirectory = child.isDirectory || (child.inode.symlinkTarget !== undefined && (await shell.find(dir + name, true))?.isDirectory === true)
      hits.push(quoteWord(dir + name) + (isDirectory ? '/' : ' '))
    }
    return hits.sort()
  } catch {
    return []
  }
}

function hostPaths (text: string): string[] {
  const { dir, prefix } = split(text)
  const real = dir === '' ? '.' : dir.startsWith('~/') ? path.join(os.homedir(), dir.slice(2)) : dir
  try {
    return fs.readdirSync(real, { withFileTypes: true })
      // Dot files only when asked for, as shells complete them.
      .filter(e => e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')))
      .map(e => {
        let isDirectory = e.isDirectory()
        if (e.isSymbolicLink()) {
          try { isDirectory = fs.statSync(path.join(real, e.name)).isDirectory() } catch { /* dangling */ }
        }
        return quoteWord(dir + e.name) + (isDirectory ? '/' : ' ')
      })
      .sort()
  } catch {
    return []
  }
}
