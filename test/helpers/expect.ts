import type { Test } from 'tap'
import { InvalidInputError, type ErrorCode } from '../../src'

/** `action` must fail with an InvalidInputError of `code` whose message matches `message`. */
export async function expectInvalid (t: Test, action: () => Promise<unknown>, code: ErrorCode, message: RegExp, what: string): Promise<void> {
  try {
    await action()
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(err instanceof InvalidInputError, `${what}: InvalidInputError`)
    t.equal((err as InvalidInputError).code, code, `${what}: code ${code}`)
    t.match((err as Error).message, message, `${what}: the message says why`)
  }
}
