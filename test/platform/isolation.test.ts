import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/mount'

/*
 * Everything OS-specific lives in src/platform (issue 15): elsewhere in src/, nothing looks at
 * process.platform (or os.platform()) or reads /proc. Comments may mention /proc; code may not.
 */

const FORBIDDEN: Array<[string, RegExp]> = [
  ['process.platform', /\bprocess\.platform\b/],
  ['os.platform()', /\bos\.platform\s*\(/],
  ['platform imported from node:os', /import\s*\{[^}]*\bplatform\b[^}]*\}\s*from\s*'(node:)?os'/],
  ['a /proc path', /['"`]\/proc(\/|['"`])/]
]

/** Code without its comments (block, line, and JSDoc), keeping strings that hold // (URLs). */
function withoutComments (text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1')
}

function findings (text: string): string[] {
  const code = withoutComments(text)
  return FORBIDDEN.filter(([, pattern]) => pattern.test(code)).map(([what]) => what)
}

function sources (dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(p)
    return entry.name.endsWith('.ts') ? [p] : []
  })
}

t.test('the check finds what it looks for', async t => {
  t.same(findings("if (process.platform === 'darwin') x()"), ['process.platform'])
  t.same(findings("const fds = fs.readdirSync('/proc/self/fd')"), ['a /proc path'])
  t.same(findings('const s = fs.readFileSync(`/proc/${pid}/stat`)'), ['a /proc path'])
  t.same(findings("import { platform } from 'node:os'"), ['platform imported from node:os'])
  t.same(findings('// what /proc/mounts shows\n/** see process.platform */\nconst x = 1'), [], 'comments are not code')
})

t.test('no OS checks and no /proc outside src/platform', async t => {
  const src = path.join(ROOT, 'src')
  const platformDir = path.join(src, 'platform') + path.sep
  const files = sources(src).filter(f => !f.startsWith(platformDir))
  t.ok(files.length > 50, `${files.length} source files checked`)
  const offenders = files.flatMap(f => findings(fs.readFileSync(f, 'utf8')).map(what => `${path.relative(ROOT, f)}: ${what}`))
  t.same(offenders, [], 'OS-specific code belongs in src/platform')
})
