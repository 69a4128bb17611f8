import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { forceUnmount, isMounted, ROOT } from '../helpers/mount'
import { extractWithXorriso, isovfyErrors } from '../helpers/readers'
import { run, scratch, writeTree } from '../helpers/tools'

/*
 * The README's edit example, run as it is written (taken from the README itself, with the image, mount
 * point and file names pointed into a scratch directory), on an image made as distributions make theirs:
 * xorriso -r, which records files 0444 and directories 0555, owned by root.
 */

const dir = scratch(t, 'readme-edit')

/** The commands of the README's first example after "Then, as root:". */
function readmeExample (): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const block = /Then, as root:\n\n```sh\n([^]*?)```/.exec(readme)?.[1]
  if (block === undefined) throw new Error('the README has no "Then, as root:" example')
  return block.split('\n').map(l => l.replace(/\s+#.*$/, '').trim()).filter(l => l !== '')
}

t.test('the README edit example works on the 0444 files of an xorriso -r image', { skip: process.getuid?.() !== 0 ? 'the example is run as root, as the README says' : false }, async t => {
  const src = path.join(dir, 'src')
  writeTree(src, {
    isolinux: { 'isolinux.cfg': 'default install\ntimeout 0\nprompt 0\n', 'boot.msg': 'hello\n' },
    'README.txt': 'the disc\n'
  })
  const image = path.join(dir, 'debian.iso')
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-r', '-J', '-V', 'DEBIAN', '-o', image, src])
  const modes = run('isoinfo', ['-R', '-l', '-i', image]).stdout
  t.match(modes, /^-r--r--r-- .* isolinux\.cfg\s*$/m, 'the image records isolinux.cfg as 0444 (isoinfo -R)')
  t.match(modes, /^dr-xr-xr-x .* isolinux\s*$/m, 'and its directory as 0555')
  fs.writeFileSync(path.join(dir, 'preseed.cfg'), 'd-i debian-installer/locale string en_US\n')

  const mountpoint = path.join(dir, 'mnt', 'x')
  t.teardown(async () => { await forceUnmount(mountpoint) })
  const commands = readmeExample()
  t.same(commands.map(c => c.split(' ')[0]), ['mkdir', 'isomount', 'sed', 'cp', 'isomount'], 'the example: mkdir, mount, sed -i, cp, unmount')
  for (const command of commands) {
    const line = command.replaceAll('/mnt/x', mountpoint).replaceAll('debian.iso', image)
    const r = run('bash', ['-c', line], { cwd: dir, allowFailure: true, env: { ...process.env, PATH: `${path.join(ROOT, 'bin')}:${process.env.PATH ?? ''}` } })
    t.equal(r.status, 0, `${command}: exit 0${r.stderr !== '' ? ` (${r.stderr.trim()})` : ''}`)
  }
  t.notOk(isMounted(mountpoint), 'unmounted')
  const out = extractWithXorriso(image, path.join(dir, 'out'))
  t.equal(fs.readFileSync(path.join(out, 'isolinux/isolinux.cfg'), 'utf8'), 'default install\ntimeout 50\nprompt 0\n', 'xorriso reads the edited isolinux.cfg')
  t.equal(fs.readFileSync(path.join(out, 'preseed.cfg'), 'utf8'), 'd-i debian-installer/locale string en_US\n', 'and the file copied in')
  t.equal(fs.readFileSync(path.join(out, 'isolinux/boot.msg'), 'utf8'), 'hello\n', 'the rest as it was')
  t.match(run('isoinfo', ['-R', '-l', '-i', image]).stdout, /^-r--r--r-- .* isolinux\.cfg\s*$/m, 'sed -i kept the file\'s 0444')
  t.match(isovfyErrors(image), /No errors found/, 'isovfy finds no error')
})
