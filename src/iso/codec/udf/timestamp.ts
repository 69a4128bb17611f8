/*
 * ECMA-167 1/7.3: the 12-byte timestamp of every UDF descriptor, with its time zone. Fields are kept as
 * recorded (parse then serialize gives back the bytes); conversion to epoch milliseconds is separate.
 */

export const TIMESTAMP_SIZE = 12

/** 1/7.3.1: a time zone of -2047 means "not specified". */
export const TIMEZONE_UNSPECIFIED = -2047

export interface Timestamp {
  /** 0 coordinated universal time, 1 local time, 2 up to agreement (1/7.3.1). */
  type: number
  /** Minutes east of UTC, -1440..1440, or TIMEZONE_UNSPECIFIED. */
  timezone: number
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  centiseconds: number
  hundredsOfMicroseconds: number
  microseconds: number
}

export function parseTimestamp (buf: Buffer, offset: number): Timestamp {
  const typeAndTimezone = buf.readUInt16LE(offset)
  // The time zone is a 12-bit two's complement number.
  const zone = typeAndTimezone & 0x0fff
  return {
    type: typeAndTimezone >> 12,
    timezone: zone >= 0x800 ? zone - 0x1000 : zone,
    year: buf.readInt16LE(offset + 2),
    month: buf[offset + 4],
    day: buf[offset + 5],
    hour: buf[offset + 6],
    minute: buf[offset + 7],
    second: buf[offset + 8],
    centiseconds: buf[offset + 9],
    hundredsOfMicroseconds: buf[offset + 10],
    microseconds: buf[offset + 11]
  }
}

export function serializeTimestamp (ts: Timestamp, buf: Buffer, offset: number): void {
  buf.writeUInt16LE(((ts.type & 0xf) << 12) | (ts.timezone & 0x0fff), offset)
  buf.writeInt16LE(ts.year, offset + 2)
  buf[offset + 4] = ts.month
  buf[offset + 5] = ts.day
  buf[offset + 6] = ts.hour
  buf[offset + 7] = ts.minute
  buf[offset + 8] = ts.second
  buf[offset + 9] = ts.centiseconds
  buf[offset + 10] = ts.hundredsOfMicroseconds
  buf[offset + 11] = ts.microseconds
}

/**
 * Epoch milliseconds, or undefined for an unset (all zero) or impossible timestamp. A local time with an
 * unspecified zone is taken as UTC, as Linux udf does (udf_disk_stamp_to_time).
 */
export function timestampToMs (ts: Timestamp): number | undefined {
  if (ts.month < 1 || ts.month > 12 || ts.day < 1 || ts.day > 31 || ts.hour > 23 || ts.minute > 59 || ts.second > 60) return undefined
  const utc = Date.UTC(ts.year, ts.month - 1, ts.day, ts.hour, ts.minute, ts.second)
  // Date.UTC maps years 0..99 to 1900..1999; UDF years are plain (1..9999).
  const fixed = ts.year >= 0 && ts.year < 100 ? new Date(utc).setUTCFullYear(ts.year) : utc
  const zone = ts.type === 1 && ts.timezone >= -1440 && ts.timezone <= 1440 ? ts.timezone : 0
  return fixed - zone * 60_000 + ts.centiseconds * 10 + ts.hundredsOfMicroseconds / 10 + ts.microseconds / 1000
}

/** A timestamp for epoch milliseconds, as local time at `timezone` minutes east of UTC (type 1). */
export function timestampFromMs (ms: number, timezone = 0): Timestamp {
  const local = new Date(Math.floor(ms) + timezone * 60_000)
  const fraction = ms - Math.floor(ms)
  const micro = Math.round(fraction * 1000)
  return {
    type: 1,
    timezone,
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    centiseconds: Math.floor(local.getUTCMilliseconds() / 10),
    hundredsOfMicroseconds: (local.getUTCMilliseconds() % 10) * 10 + Math.floor(micro / 100),
    microseconds: micro % 100
  }
}
