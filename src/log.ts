import createDebug from 'debug'

/**
 * Logging goes through `debug`, one namespace per layer: enable with `DEBUG=isomount:*` (or a single
 * layer, `DEBUG=isomount:fuse`).
 */
export type LogLayer = 'read' | 'model' | 'write' | 'commit' | 'vfs' | 'fuse' | 'cli'

const loggers = new Map<LogLayer, createDebug.Debugger>()

export function logger (layer: LogLayer): createDebug.Debugger {
  let log = loggers.get(layer)
  if (log === undefined) {
    log = createDebug(`isomount:${layer}`)
    loggers.set(layer, log)
  }
  return log
}
