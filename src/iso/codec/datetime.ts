/*
 * The two date formats of ECMA-119, reused by Rock Ridge TF (RRIP 4.1.6, short and long form).
 * Both keep their fields as recorded so that parse then serialize gives back the same bytes; conversion to
 * and from epoch milliseconds is separate.
 */

/** ECMA-119 9.1.5: seven binary bytes. */
export interface RecordDate {
  year: number // 1900 + byte 0
  month: number
  day: number
  hour: number
  minute: number
  second: number
  /** Offset from GMT in 15-minute steps, -48 (west) to +52 (east); a signed byte. */
  gmtOffset: number
}

export const RECORD_DATE_SIZE = 7

export function parseRecordDate (buf: Buffer, offset: number): RecordDate {
  return {
    year: 1900 + buf[offset],
    month: buf[offset + 1],
    day: buf[offset + 2],
    hour: buf[offset + 3],
    minute: buf[offset + 4],
    second: buf[offset + 5],
    gmtOffset: buf.readInt8(offset + 6)
  }
}

export function serializeRecordDate (date: RecordDate, buf: Buffer, offset: number): void {
  buf[offset] = clamp(date.year - 1900, 0, 255)
  buf[offset + 1] = date.month
  buf[offset + 2] = date.day
  buf[offset + 3] = date.hour
  buf[offset + 4] = date.minute
  buf[offset + 5] = date.second
  buf.writeInt8(clamp(date.gmtOffset, -48, 52), offset + 6)
}

/** Epoch milliseconds, or undefined when the date is unset (all zero) or impossible. */
export function recordDateToMs (date: RecordDate): number | undefined {
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > 31) return undefined
  if (date.hour > 23 || date.minute > 59 || date.second > 60) return undefined
  const utc = Date.UTC(date.year, date.month - 1, date.day, date.hour, date.minute, date.second)
  return utc - offsetMs(date.gmtOffset)
}

const DAY_MS = 86_400_000
const EARLIEST_RECORDABLE_MS = Date.UTC(1900, 0, 1)
const LATEST_RECORDABLE_MS = Date.UTC(2155, 11, 31, 23, 59, 59)
/** Calendar dates of recently seen days: a tree's files share few days, and a Date per record showed. */
const calendarDays = new Map<number, [year: number, month: number, day: number]>()

function calendarDay (dayNumber: number): [number, number, number] {
  let ymd = calendarDays.get(dayNumber)
  if (ymd === undefined) {
    const d = new Date(dayNumber * DAY_MS)
    ymd = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]
    if (calendarDays.size >= 4096) calendarDays.clear()
    calendarDays.set(dayNumber, ymd)
  }
  return ymd
}

/** Dates outside 1900..2155 cannot be recorded; they are clamped to the nearest recordable one. */
export function recordDateFromMs (ms: number, gmtOffset = 0): RecordDate {
  const seconds = Math.floor((clamp(ms, EARLIEST_RECORDABLE_MS, LATEST_RECORDABLE_MS) + offsetMs(gmtOffset)) / 1000)
  const dayNumber = Math.floor(seconds / 86_400)
  const [year, month, day] = calendarDay(dayNumber)
  const ofDay = seconds - dayNumber * 86_400
  return { year, month, day, hour: Math.floor(ofDay / 3600), minute: Math.floor(ofDay / 60) % 60, second: ofDay % 60, gmtOffset }
}

/** ECMA-119 8.4.26.1: sixteen ASCII digits YYYYMMDDHHMMSScc and a signed GMT offset byte. */
export interface VolumeDate {
  digits: string
  gmtOffset: number
}

export const VOLUME_DATE_SIZE = 17

/** "Not specified": all digits zero and offset zero (8.4.26.1). */
export const UNSET_VOLUME_DATE: VolumeDate = { digits: '0000000000000000', gmtOffset: 0 }

export function parseVolumeDate (buf: Buffer, offset: number): VolumeDate {
  return { digits: buf.toString('latin1', offset, offset + 16), gmtOffset: buf.readInt8(offset + 16) }
}

export function serializeVolumeDate (date: VolumeDate, buf: Buffer, offset: number): void {
  buf.write(date.digits.padEnd(16, '0').slice(0, 16), offset, 16, 'latin1')
  buf.writeInt8(clamp(date.gmtOffset, -48, 52), offset + 16)
}

export function volumeDateToMs (date: VolumeDate): number | undefined {
  if (!/^\d{16}$/.test(date.digits)) return undefined
  const n = (from: number, to: number): number => Number(date.digits.slice(from, to))
  const month = n(4, 6)
  const day = n(6, 8)
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined
  const utc = Date.UTC(n(0, 4), month - 1, day, n(8, 10), n(10, 12), n(12, 14), n(14, 16) * 10)
  return utc - offsetMs(date.gmtOffset)
}

export function volumeDateFromMs (ms: number, gmtOffset = 0): VolumeDate {
  const bounded = clamp(ms, Date.UTC(1, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 990))
  const d = new Date(bounded + offsetMs(gmtOffset))
  const pad = (v: number, width: number): string => String(v).padStart(width, '0')
  const digits = pad(d.getUTCFullYear(), 4) + pad(d.getUTCMonth() + 1, 2) + pad(d.getUTCDate(), 2) +
    pad(d.getUTCHours(), 2) + pad(d.getUTCMinutes(), 2) + pad(d.getUTCSeconds(), 2) +
    pad(Math.floor(d.getUTCMilliseconds() / 10), 2)
  return { digits, gmtOffset }
}

function offsetMs (gmtOffset: number): number {
  return gmtOffset * 15 * 60 * 1000
}

function clamp (value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}
