import type { HostImport } from '../iso/edit/host-import'
import type { IsoImage } from '../iso/image'
import { BufferSource } from '../iso/model/data-source'
import type { Node } from '../iso/model/node'
import { majorOf, minorOf } from '../iso/model/stat'
import { compareIsoIdentifiers } from '../iso/naming/order'
import { withoutVersion } from '../iso/read/names'

/**
 * genisoimage's ISO9660 name column: MAX_ISONAME (207) + 1 characters, so that the host name after it
 * lines up whatever the level (tree.c: "%c %-*s%s").
 */
const NAME_COLUMN = 208

/**
 * mkisofs -T: a translation table (TRANS.TBL) in every directory of the ISO9660 tree that has entries,
 * for readers without Rock Ridge: one line per entry, in directory order, giving its type, its ISO9660
 * name and the name it had on the host (and a symbolic link's target, a device's numbers), laid out as
 * genisoimage lays it out. The table is itself a file, mode 0444, not listed in itself; a directory that
 * already has an entry of that name keeps it and gets no table (as genisoimage).
 */
export async function addTranslationTables (
  image: IsoImage, run: HostImport, name: string, inJoliet: boolean, owner: { uid: number, gid: number, mtimeMs: number }
): Promise<void> {
  const directories: Node[] = [image.root]
  for (let i = 0; i < directories.length; i++) {
    const dir = directories[i]
    await dir.dir?.complete()
    const entries = (await dir.dir?.list() ?? []).filter(n => n.names.iso !== undefined)
    directories.push(...entries.filter(n => n.isDirectory))
    if (entries.length === 0) continue
    if (entries.some(n => run.hostNameOf(n) === name || withoutVersion(n.names.iso as string) === name.toUpperCase())) continue
    entries.sort((a, b) => compareIsoIdentifiers(a.names.iso as string, b.names.iso as string, a.isDirectory, b.isDirectory))
    const lines = entries.map(n => `${typeOf(n)} ${(n.names.iso as string).padEnd(NAME_COLUMN)}\t${hostName(run, n)}${detail(n)}\n`)
    await image.addChild(dir, name, 'file', { data: new BufferSource(Buffer.from(lines.join(''))) }, {
      hostName: true, joliet: inJoliet, mode: 0o444, uid: owner.uid, gid: owner.gid, mtimeMs: owner.mtimeMs
    })
  }
}

function typeOf (node: Node): string {
  const types: Record<string, string> = { directory: 'D', symlink: 'L', fifo: 'P', socket: 'S', 'block-device': 'B', 'char-device': 'C' }
  return types[node.inode.kind] ?? 'F'
}

function hostName (run: HostImport, node: Node): string {
  const names = node.names
  return run.hostNameOf(node) ?? names.rr ?? (names.joliet !== undefined ? withoutVersion(names.joliet) : withoutVersion(names.iso as string))
}

function detail (node: Node): string {
  const inode = node.inode
  if (inode.kind === 'symlink') return `\t${inode.symlinkTarget ?? ''}`
  if (inode.kind === 'block-device' || inode.kind === 'char-device') return `\t${majorOf(inode.rdev)} ${minorOf(inode.rdev)}`
  return ''
}
