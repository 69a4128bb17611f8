import type { Debugger } from 'debug'

/**
 * Logging goes through `debug`, one namespace per layer: enable with `DEBUG=isomount:*` (or a single
 * layer, `DEBUG=isomount:fuse`). Without DEBUG in the environment every logger is a no-op and `debug` is
 * never loaded: loading it (and the tty and color support it pulls in) cost a mount command up to a
 * tenth of a second on a busy machine, twice (the command and its daemon).
 */
export type LogLayer = 'read' | 'model' | 'write' | 'commit' | 'vfs' | 'fuse' | 'cli'

/** A logger: printf-like (`%s`, `%d`, `%o`), as `debug`'s. */
export type Log = (formatter: unknown, ...args: unknown[]) => void

const loggers = new Map<LogLayer, Log>()

const quiet: Log = () => {}

export function logger (layer: LogLayer): Log {
  let log = loggers.get(layer)
  if (log === undefined) {
    if (process.env.DEBUG === undefined || process.env.DEBUG === '') {
      log = quiet
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const createDebug = require('debug') as (namespace: string) => Debugger
      log = createDebug(`isomount:${layer}`)
    }
    loggers.set(layer, log)
  }
  return log
}
