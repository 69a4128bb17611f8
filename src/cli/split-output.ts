import * as fs from 'node:fs'
import { Writable } from 'node:stream'

/** genisoimage -split-output: pieces of "approximately 1 GB"; ours are exactly 1 GiB (the last smaller). */
export const SPLIT_BYTES = 1024 * 1024 * 1024

/**
 * A stream that writes an image as OUTPUT_00, OUTPUT_01, … (genisoimage's names), each piece `pieceBytes`
 * long: the pieces concatenated are the image. They are written under temporary names and renamed into
 * place only once all are complete (as a single output is), so a failed run leaves no pieces of a
 * half-written image; `abort` removes what was written.
 */
export class SplitWriter extends Writable {
  private readonly written: string[] = []
  private fd: number | undefined
  private inPiece = 0

  constructor (private readonly output: string, private readonly pieceBytes = SPLIT_BYTES) {
    super()
  }

  private temporary (index: number): string {
    return `${this.pieceName(index)}.${process.pid}.tmp`
  }

  pieceName (index: number): string {
    return `${this.output}_${String(index).padStart(2, '0')}`
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    try {
      let offset = 0
      while (offset < chunk.length) {
        if (this.fd === undefined || this.inPiece === this.pieceBytes) this.nextPiece()
        const n = Math.min(chunk.length - offset, this.pieceBytes - this.inPiece)
        let done = 0
        while (done < n) done += fs.writeSync(this.fd as number, chunk, offset + done, n - done)
        offset += n
        this.inPiece += n
      }
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  override _final (callback: (err?: Error | null) => void): void {
    try {
      this.closePiece()
      this.written.forEach((temp, index) => fs.renameSync(temp, this.pieceName(index)))
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  /** Removes the pieces written so far (after a failure). */
  abort (): void {
    if (this.fd !== undefined) fs.closeSync(this.fd)
    this.fd = undefined
    for (const temp of this.written) fs.rmSync(temp, { force: true })
  }

  private nextPiece (): void {
    this.closePiece()
    const temp = this.temporary(this.written.length)
    this.fd = fs.openSync(temp, 'wx', 0o666)
    this.written.push(temp)
    this.inPiece = 0
  }

  private closePiece (): void {
    if (this.fd === undefined) return
    fs.fsyncSync(this.fd)
    fs.closeSync(this.fd)
    this.fd = undefined
  }
}
