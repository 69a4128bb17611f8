#!/usr/bin/env node
'use strict'
// Builds native/copy-range.c (copy_file_range(2) for large file data: src/iso/io/copy-range.ts) with npm's
// own node-gyp against Node's installed headers, as build-fuse-native.js does. Run by npm after install.
// Optional: if it cannot be built, data is copied through JavaScript buffers instead (slower), so a
// failure is a warning, not a failed install.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const dir = path.join(__dirname, '..', 'native')
const nodeGyp = process.env.npm_config_node_gyp
const command = nodeGyp !== undefined ? [process.execPath, nodeGyp] : ['node-gyp']
const args = ['rebuild']
const nodeDir = path.resolve(process.execPath, '..', '..')
if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`)
try {
  execFileSync(command[0], [...command.slice(1), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  console.error('build-copy-range: built native/build/Release/copy_range.node')
} catch (err) {
  console.error(`build-copy-range: warning: not built (${err.message}); large files will be copied through JavaScript, more slowly`)
}
