import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Test } from 'tap'

export type Firmware = 'bios' | 'uefi'
export type Medium = 'cd' | 'disk'

export interface BootOptions {
  /** SeaBIOS (qemu's default firmware) or OVMF (Debian's `ovmf`). Default `bios`. */
  firmware?: Firmware
  /** As a CD (El Torito) or as a hard disk (the MBR/GPT path a USB stick takes). */
  as: Medium
  /** What proves the boot: text on the console, or on the screen with `screen`. */
  expect: string | RegExp
  /**
   * Look for `expect` on the text screen instead of the serial line, for loaders that write only there
   * (memtest86+): VGA text memory under BIOS; under UEFI the whole guest memory, where a loader that draws
   * text into the framebuffer keeps its character/attribute shadow of the screen.
   */
  screen?: boolean
  /** Bound on the boot itself (time spent waiting for a free slot is not counted). Default 120 s. */
  timeoutMs?: number
}

export interface BootOutcome {
  found: boolean
  /** COM1 (the loaders' own serial output), then COM2 (SeaBIOS's copy of the BIOS text console). */
  console: string
  /** Under `screen`: the screen text, as VGA memory or the line of guest memory that matched. */
  screen: string
  /** From starting qemu to the text appearing (or to giving up). */
  ms: number
  /** Spent waiting for a free slot in the pool. */
  queuedMs: number
  /** When the text was not found, why: qemu exited (and what it said on stderr), or the bound ran out. */
  exit?: string
}

/** Debian's OVMF build (package ovmf): the firmware code, read-only, and the variable store template. */
export const OVMF = { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' } as const

/**
 * At most this many guests run at once, across every test process of a run: TCG keeps a core busy per
 * guest, and these machines have two. Queued boots wait without their timeout running.
 */
const SLOTS = Math.max(1, Number(process.env.ISOMOUNT_BOOT_JOBS ?? 2))
const SLOT_DIR = path.join(os.tmpdir(), 'isomount-qemu-slots')
const ownedSlots = new Set<string>()
const running = new Set<ChildProcess>()

process.once('exit', () => {
  // A test process that ends mid-boot takes its guests and slots with it (guests also die with it when it
  // is killed: see the spawn below; slots of a dead owner are taken over).
  for (const child of running) child.kill('SIGKILL')
  for (const slot of ownedSlots) fs.rmSync(slot, { force: true })
})

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes one of the SLOTS lock files (`wx`: created only if absent); a file whose owner died is taken over. */
function tryTakeSlot (): string | undefined {
  fs.mkdirSync(SLOT_DIR, { recursive: true })
  for (let i = 0; i < SLOTS; i++) {
    const slot = path.join(SLOT_DIR, `slot-${i}`)
    try {
      fs.writeFileSync(slot, String(process.pid), { flag: 'wx' })
      ownedSlots.add(slot)
      return slot
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let owner = NaN
      try { owner = Number(fs.readFileSync(slot, 'utf8')) } catch { continue }
      // An empty file is one being written this instant; only a named owner that is gone is stale.
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !pidAlive(owner)) fs.rmSync(slot, { force: true })
    }
  }
  return undefined
}

const queue: Array<() => void> = []
let active = 0

/** Waits for a slot: first this process's own FIFO (at most SLOTS here), then a free lock file. */
async function acquire (): Promise<() => void> {
  if (active >= SLOTS) await new Promise<void>(resolve => queue.push(resolve))
  active++
  let slot: string | undefined
  while ((slot = tryTakeSlot()) === undefined) await sleep(200)
  const taken = slot
  return () => {
    ownedSlots.delete(taken)
    fs.rmSync(taken, { force: true })
    active--
    queue.shift()?.()
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** ECMA-48 control sequences (GRUB and OVMF position the cursor and set colours between lines). */
export function stripEscapes (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>c]/g, '')
}

function contains (text: string, expect: string | RegExp): boolean {
  const plain = stripEscapes(text)
  return typeof expect === 'string' ? text.includes(expect) || plain.includes(expect) : expect.test(text) || expect.test(plain)
}

/**
 * Where `text` is written on a screen held as character/attribute pairs (every other byte a character,
 * the attribute bytes anything: memtest86+ colours the "+" of its name apart). Native indexOf finds
 * candidates for the first character, so scanning a guest's whole memory costs little.
 */
export function findOnScreen (memory: Buffer, text: string): number {
  const chars = Buffer.from(text, 'latin1')
  for (let i = memory.indexOf(chars[0]); i >= 0 && i + chars.length * 2 <= memory.length; i = memory.indexOf(chars[0], i + 1)) {
    let k = 1
    while (k < chars.length && memory[i + 2 * k] === chars[k]) k++
    if (k === chars.length) return i
  }
  return -1
}

/** A minimal QMP client: one command at a time, answers matched in order. */
class Qmp {
  private readonly socket: net.Socket
  private buffer = ''
  private readonly waiting: Array<(reply: { return?: unknown, error?: { desc: string } }) => void> = []

  private constructor (socket: net.Socket) {
    this.socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      let nl: number
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl)
        this.buffer = this.buffer.slice(nl + 1)
        const message = JSON.parse(line) as { QMP?: unknown, event?: string, return?: unknown, error?: { desc: string } }
        // The greeting and asynchronous events answer no command.
        if (message.QMP === undefined && message.event === undefined) this.waiting.shift()?.(message)
      }
    })
    socket.on('error', () => { for (const w of this.waiting.splice(0)) w({ error: { desc: 'QMP connection lost' } }) })
    socket.on('close', () => { for (const w of this.waiting.splice(0)) w({ error: { desc: 'QMP connection closed' } }) })
  }

  static async connect (socketPath: string, deadline: number): Promise<Qmp> {
    while (Date.now() < deadline) {
      if (fs.existsSync(socketPath)) {
        const socket = net.createConnection(socketPath)
        const ok = await new Promise<boolean>(resolve => {
          socket.once('connect', () => resolve(true))
          socket.once('error', () => resolve(false))
        })
        if (ok) {
          const qmp = new Qmp(socket)
          await qmp.execute('qmp_capabilities')
          return qmp
        }
      }
      await sleep(100)
    }
    throw new Error('QMP socket did not appear')
  }

  async execute (command: string, args?: Record<string, unknown>): Promise<void> {
    const reply = await new Promise<{ return?: unknown, error?: { desc: string } }>(resolve => {
      this.waiting.push(resolve)
      this.socket.write(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + '\n')
    })
    if (reply.error !== undefined) throw new Error(`QMP ${command}: ${reply.error.desc}`)
  }

  close (): void {
    this.socket.destroy()
  }
}

const MEMORY_MB = 128
/** VGA text mode memory (colour adapters), 80×25 cells of character and attribute. */
const VGA_TEXT = { address: 0xb8000, bytes: 80 * 25 * 2 }

/** The characters of character/attribute cells. */
function cellsText (cells: Buffer): string {
  let text = ''
  for (let i = 0; i + 1 < cells.length; i += 2) text += String.fromCharCode(cells[i])
  return text
}

function vgaText (bytes: Buffer): string {
  const rows: string[] = []
  for (let r = 0; r < 25; r++) rows.push(cellsText(bytes.subarray(r * 160, (r + 1) * 160)).trimEnd())
  return rows.join('\n').trimEnd()
}

/**
 * One look for `text` on the guest's screen: VGA text memory under BIOS; under UEFI the guest memory, in
 * 16 MiB pieces from the bottom (loaders keep their shadow of the screen low: memtest86+'s is near 2 MiB),
 * stopping at the first piece that has it. Pieces overlap by the text's length, so none is cut in two.
 */
async function lookAtScreen (qmp: Qmp, firmware: Firmware, text: string, dump: string, dumps: Set<string>): Promise<{ found: boolean, screen: string }> {
  dumps.add(dump)
  const save = async (val: number, size: number): Promise<Buffer> => {
    await qmp.execute('pmemsave', { val, size, filename: dump })
    const bytes = fs.readFileSync(dump)
    fs.rmSync(dump, { force: true })
    return bytes
  }
  if (firmware === 'bios') {
    const bytes = await save(VGA_TEXT.address, VGA_TEXT.bytes)
    return { found: findOnScreen(bytes, text) >= 0, screen: vgaText(bytes) }
  }
  const piece = 16 << 20
  for (let start = 0; start < MEMORY_MB << 20; start += piece) {
    const bytes = await save(start, Math.min(piece + text.length * 2, (MEMORY_MB << 20) - start))
    const at = findOnScreen(bytes, text)
    // The line the text is on (80 cells from it).
    if (at >= 0) return { found: true, screen: cellsText(bytes.subarray(at - (at % 2), at + 160)) }
  }
  return { found: false, screen: '' }
}

/** qemu's -drive takes a comma as ",,". */
function driveFile (file: string): string {
  return file.replace(/,/g, ',,')
}

/**
 * Boots `image` in qemu, TCG only (KVM on these nested-virtualisation hosts stopped isolinux with
 * "emulation failure"), and waits, bounded, for `expect`. The guest is stopped as soon as the text shows,
 * when the bound runs out, and in teardown whatever happens; disk boots use a snapshot, so the image is
 * never written. Under BIOS, SeaBIOS also copies its text console to COM2 (its `etc/sercon-port`), which
 * shows what loaders that only call the BIOS print (iPXE, GRUB's default terminal) without interleaving
 * with what they send to COM1 themselves.
 */
export async function bootImage (t: Test, image: string, options: BootOptions): Promise<BootOutcome> {
  const firmware = options.firmware ?? 'bios'
  const timeoutMs = options.timeoutMs ?? 120_000
  const queuedAt = Date.now()
  const release = await acquire()
  const queuedMs = Date.now() - queuedAt
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'isomount-qemu-'))
  const com1 = path.join(work, 'com1.txt')
  const com2 = path.join(work, 'com2.txt')
  const qmpSocket = path.join(work, 'qmp.sock')
  const args = ['-accel', 'tcg', '-m', String(MEMORY_MB), '-display', 'none', '-monitor', 'none', '-no-reboot',
    '-net', 'none', '-serial', `file:${com1}`]
  if (firmware === 'bios') {
    const port = path.join(work, 'sercon-port')
    fs.writeFileSync(port, Buffer.from([0xf8, 0x02])) // 0x2f8, COM2, as a 16-bit little-endian number
    args.push('-serial', `file:${com2}`, '-fw_cfg', `name=etc/sercon-port,file=${port}`)
  } else {
    const vars = path.join(work, 'OVMF_VARS.fd')
    fs.copyFileSync(OVMF.vars, vars)
    args.push('-drive', `if=pflash,format=raw,readonly=on,file=${driveFile(OVMF.code)}`, '-drive', `if=pflash,format=raw,file=${driveFile(vars)}`)
  }
  if (options.as === 'cd') args.push('-drive', `file=${driveFile(image)},media=cdrom,readonly=on,format=raw`, '-boot', 'd')
  else args.push('-drive', `file=${driveFile(image)},format=raw,snapshot=on`, '-boot', 'c')
  if (options.screen === true) args.push('-qmp', `unix:${qmpSocket},server=on,wait=off`)

  const startedAt = Date.now()
  // setpriv (util-linux) makes the kernel kill the guest if this process dies in any way (a test runner's
  // SIGTERM skips the 'exit' handler above): a guest orphaned so ran on for 45 minutes, a core at full load.
  const qemu = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  running.add(qemu)
  let stderr = ''
  qemu.stderr?.setEncoding('utf8').on('data', (chunk: string) => { if (stderr.length < 4096) stderr += chunk })
  const exited = new Promise<void>(resolve => qemu.once('exit', () => resolve()))
  let qmp: Qmp | undefined
  const dumps = new Set<string>()
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    qmp?.close()
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL')
    await exited
    running.delete(qemu)
    release()
    fs.rmSync(work, { recursive: true, force: true })
    for (const dump of dumps) fs.rmSync(dump, { force: true })
  }
  t.teardown(stop)

  const deadline = startedAt + timeoutMs
  const readConsole = (): string => [com1, com2].map(f => fs.existsSync(f) ? fs.readFileSync(f, 'latin1') : '').join('\n')
  if (options.screen === true && typeof options.expect !== 'string') throw new Error('a screen is searched for plain text only')
  const onScreen = options.screen === true ? options.expect as string : undefined
  let found = false
  let text = ''
  let screen = ''
  let lastLook = 0
  let ms = 0
  try {
    while (Date.now() < deadline && qemu.exitCode === null && qemu.signalCode === null) {
      await sleep(250)
      text = readConsole()
      if (onScreen === undefined) {
        if (contains(text, options.expect)) { found = true; break }
        continue
      }
      // A look costs a memory dump; one every three seconds is enough for text that stays on screen. Under
      // UEFI, none before OVMF starts the loader (its "BdsDxe: starting" line): until then no loader drew.
      if (Date.now() - lastLook < 3000) continue
      if (firmware === 'uefi' && !text.includes('BdsDxe: starting') && Date.now() - startedAt < timeoutMs / 2) continue
      lastLook = Date.now()
      qmp ??= await Qmp.connect(qmpSocket, deadline)
      const look = await lookAtScreen(qmp, firmware, onScreen, path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : work, `isomount-qemu-${process.pid}-${qemu.pid ?? 0}.bin`), dumps)
      screen = look.screen
      if (look.found) { found = true; break }
    }
    ms = Date.now() - startedAt
    // Text printed just before the guest powered itself off (GRUB's `halt`) is in the file already.
    text = readConsole()
    if (!found && onScreen === undefined) found = contains(text, options.expect)
  } finally {
    await stop()
  }
  const outcome: BootOutcome = { found, console: text, screen, ms, queuedMs }
  if (!found && qemu.exitCode !== null) outcome.exit = `qemu exited ${qemu.exitCode}${stderr.trim() !== '' ? `: ${stderr.trim()}` : ''}`
  else if (!found) outcome.exit = `no ${JSON.stringify(String(options.expect))} within ${timeoutMs} ms`
  return outcome
}
