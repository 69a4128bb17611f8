#!/usr/bin/env node
'use strict'
// Builds native/copy-range.c (copy_file_range(2) for large file data: src/iso/io/copy-range.ts) with npm's
// own node-gyp against Node's installed headers, as build-fuse-native.js does. Run by npm after install.
// Optional: if it cannot be built, data is copied through JavaScript buffers instead (slower), so a
// failure is a warning, not a failed install.
const path = require('node:path')
const { rebuild } = require('./node-gyp')

try {
  rebuild(path.join(__dirname, '..', 'native'))
  console.error('build-copy-range: built native/build/Release/copy_range.node')
} catch (err) {
  console.error(`build-copy-range: warning: not built (${err.message}); large files will be copied through JavaScript, more slowly`)
}
