#!/usr/bin/env node
'use strict'
// Builds native/copy-range.c (copy_file_range(2) for large file data: src/iso/io/copy-range.ts) with npm's
// own node-gyp against Node's installed headers, as build-fuse-native.js does. Run by npm after install.
// Optional: if it cannot be built, data is copied through JavaScript buffers instead (slower), so a
// failure is a warning, not a failed install.
const path = require('node:path')
const { rebuild } = require('./node-gyp')

// copy_file_range(2) is Linux's (src/platform says where the addon may be used): elsewhere there is
// nothing to build, and trying would only print a compiler error.
if (process.platform !== 'linux') {
  console.error(`build-copy-range: skipped on ${process.platform} (copy_file_range is Linux-only); large files are copied through JavaScript`)
  process.exit(0)
}

try {
  rebuild(path.join(__dirname, '..', 'native'))
  console.error('build-copy-range: built native/build/Release/copy_range.node')
} catch (err) {
  console.error(`build-copy-range: warning: not built (${err.message}); large files will be copied through JavaScript, more slowly`)
}
