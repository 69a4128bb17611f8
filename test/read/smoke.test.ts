import * as path from 'node:path'
import t from 'tap'
import { IsoImage, statOf } from '../../src'
import { genisoimage, scratch, writeTree } from '../helpers/tools'

t.test('genisoimage -R -J image reads in every namespace', async t => {
  const dir = scratch(t)
  const src = path.join(dir, 'src')
  writeTree(src, { 'hello.txt': 'hello\n', sub: { 'a.bin': Buffer.alloc(5000, 7) }, link: { symlink: 'hello.txt' } })
  const iso = genisoimage(path.join(dir, 'out.iso'), ['-R', '-J'], src)
  const image = await IsoImage.open(iso)
  t.teardown(() => image.close())
  t.same(image.namespaces, ['rockridge', 'joliet', 'iso9660'])
  t.equal((await image.readFile('/hello.txt')).toString(), 'hello\n')
  t.same(await image.readFile('/sub/a.bin'), Buffer.alloc(5000, 7))
  t.equal(await image.readlink('/link'), 'hello.txt')
  t.equal((await image.readFile('/HELLO.TXT', 'iso9660')).toString(), 'hello\n')
  t.equal((await image.readFile('/sub/a.bin', 'joliet')).length, 5000)
  t.equal(statOf(await image.lookup('/sub')).kind, 'directory')
  await t.rejects(image.lookup('/nope'), { code: 'NOT_FOUND' })
})
