import * as fs from 'node:fs'
import * as net from 'node:net'
import { InvalidInputError } from '../errors'
import { logger } from '../log'

const log = logger('fuse')

/**
 * The control protocol between `isomount -u` / `isomount sync` and a mount's daemon: one JSON request line,
 * then JSON lines back: any number of {"progress": text}, then one {"ok": true} or {"ok": false, error, code}.
 */
export type ControlRequest =
  /** lazy: detach (umount -l) instead of failing while the mount is busy, and answer without waiting for its end. */
  | { op: 'unmount', lazy?: boolean }
  | { op: 'sync' }
  | { op: 'status' }
export type ControlReply =
  | { progress: string }
  | { ok: true, message?: string }
  | { ok: false, error: string, code?: string }

export type ControlHandler = (request: ControlRequest, progress: (text: string) => void) => Promise<string | undefined>

export class ControlServer {
  private constructor (private readonly server: net.Server, private readonly socketPath: string) {}

  /**
   * Listens at `socketPath`. A socket left there by a daemon that died is replaced; one a live daemon
   * answers on is not: that daemon may be waiting for `isomount -u` to retry its commit, and taking its
   * socket away would leave its changes reachable by nothing but a signal.
   */
  static async listen (socketPath: string, handler: ControlHandler): Promise<ControlServer> {
    if (await socketAnswers(socketPath)) {
      throw new InvalidInputError('BUSY', `another isomount process answers on ${socketPath}`)
    }
    fs.rmSync(socketPath, { force: true })
    const server = net.createServer(socket => {
      let input = ''
      socket.setEncoding('utf8')
      socket.on('data', chunk => {
        input += chunk
        const newline = input.indexOf('\n')
        if (newline === -1) return
        const send = (reply: ControlReply): void => {
          if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n')
        }
        let request: ControlRequest
        try {
          request = JSON.parse(input.slice(0, newline)) as ControlRequest
        } catch {
          send({ ok: false, error: 'malformed request' })
          socket.end()
          return
        }
        log('control request %o', request)
        handler(request, text => send({ progress: text })).then(
          message => { send({ ok: true, message }); socket.end() },
          (err: unknown) => {
            send({ ok: false, error: (err as Error)?.message ?? String(err), code: (err as { code?: string })?.code })
            socket.end()
          })
      })
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => resolve())
    })
    fs.chmodSync(socketPath, 0o600)
    return new ControlServer(server, socketPath)
  }

  close (): void {
    this.server.close()
    fs.rmSync(this.socketPath, { force: true })
  }
}

/** Whether a process listens on the socket at `socketPath` (a file left by a dead one refuses connections). */
export async function socketAnswers (socketPath: string): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = net.createConnection(socketPath)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Sends a request and resolves with the final reply; progress lines go to `onProgress`. */
export async function sendControlRequest (
  socketPath: string, request: ControlRequest, onProgress: (text: string) => void
): Promise<Extract<ControlReply, { ok: boolean }>> {
  return await new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath)
    let buffer = ''
    let final: Extract<ControlReply, { ok: boolean }> | undefined
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'))
    socket.on('data', chunk => {
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const reply = JSON.parse(buffer.slice(0, newline)) as ControlReply
        buffer = buffer.slice(newline + 1)
        if ('progress' in reply) onProgress(reply.progress)
        else final = reply
      }
    })
    socket.on('error', reject)
    socket.on('close', () => final !== undefined ? resolve(final) : reject(new Error('the mount daemon closed the connection without an answer')))
  })
}
