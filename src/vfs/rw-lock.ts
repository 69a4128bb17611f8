/**
 * A readers-writer lock for async work: any number of shared holders at once, or one exclusive holder.
 * A waiting exclusive request stops new shared ones from starting, so a commit is not starved by a
 * steady stream of file operations.
 */
/** Runs work with others kept out. */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>

export class AsyncRwLock {
  private readers = 0
  private writer = false
  private readonly waiting: Array<{ exclusive: boolean, grant: () => void }> = []

  /** No holder or request of the exclusive side: synchronous work may run as a shared holder would. */
  get open (): boolean {
    return !this.writer && this.waiting.length === 0
  }

  async shared<T> (work: () => Promise<T>): Promise<T> {
    await this.acquire(false)
    try {
      return await work()
    } finally {
      this.readers--
      this.wake()
    }
  }

  async exclusive<T> (work: () => Promise<T>): Promise<T> {
    await this.acquire(true)
    try {
      return await work()
    } finally {
      this.writer = false
      this.wake()
    }
  }

  private async acquire (exclusive: boolean): Promise<void> {
    if (this.canGrant(exclusive) && this.waiting.length === 0) {
      this.take(exclusive)
      return
    }
    await new Promise<void>(resolve => this.waiting.push({ exclusive, grant: resolve }))
  }

  private canGrant (exclusive: boolean): boolean {
    return exclusive ? !this.writer && this.readers === 0 : !this.writer
  }

  private take (exclusive: boolean): void {
    if (exclusive) this.writer = true
    else this.readers++
  }

  private wake (): void {
    while (this.waiting.length > 0 && this.canGrant(this.waiting[0].exclusive)) {
      const next = this.waiting.shift() as { exclusive: boolean, grant: () => void }
      this.take(next.exclusive)
      next.grant()
      if (next.exclusive) break
    }
  }
}
