import t from 'tap'
import { recordDateFromMs } from '../../src/iso/codec/datetime'

/**
 * What a Date says for the same instant, clamped to the recordable years (ECMA-119 9.1.5). The millisecond
 * is floored first: a Date truncates a fractional time toward zero, so before 1970 it would put
 * -1000.5 ms (a host file's mtimeMs can be fractional) in the second after the one it is in.
 */
function viaDate (ms: number, gmtOffset: number): number[] {
  const bounded = Math.min(Math.max(ms, Date.UTC(1900, 0, 1)), Date.UTC(2155, 11, 31, 23, 59, 59))
  const d = new Date(Math.floor(bounded + gmtOffset * 15 * 60_000))
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
}

function fields (ms: number, gmtOffset: number): number[] {
  const r = recordDateFromMs(ms, gmtOffset)
  return [r.year, r.month, r.day, r.hour, r.minute, r.second]
}

t.test('record dates computed per day agree with Date, boundaries and offsets included', async t => {
  const instants = [
    0, -1, 999, 1000, -1000, -1001, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(1900, 0, 1), Date.UTC(1899, 11, 31),
    Date.UTC(2155, 11, 31, 23, 59, 59), Date.UTC(2200, 0, 1), Date.UTC(1969, 11, 31, 23, 59, 59, 500), Date.UTC(2038, 0, 19, 3, 14, 8)
  ]
  // A fixed pseudo-random spread over 1880..2180 (a linear congruential generator: the same every run).
  let seed = 12345
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    instants.push(Date.UTC(1880, 0, 1) + (seed / 2 ** 31) * (Date.UTC(2180, 0, 1) - Date.UTC(1880, 0, 1)))
  }
  let mismatches = 0
  for (const [i, ms] of instants.entries()) {
    const offset = (i % 101) - 48
    if (fields(ms, offset).join() !== viaDate(ms, offset).join()) mismatches++
  }
  t.equal(mismatches, 0, `${instants.length} instants`)
  t.same(fields(Date.UTC(2024, 1, 29, 12, 34, 56, 789), 0), [2024, 2, 29, 12, 34, 56])
  t.same(fields(Date.UTC(2024, 0, 1, 0, 30), -4), [2023, 12, 31, 23, 30, 0], 'an offset west of UTC moves the date back')
  t.same(fields(-1000.5, 0), [1969, 12, 31, 23, 59, 58], 'a fractional time before 1970 is in the second it falls in')
})
