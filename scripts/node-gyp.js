'use strict'
// Builds a native addon in `dir` with npm's own node-gyp (npm names it to its lifecycle scripts) or one on
// PATH, against the headers installed with Node when there are any (Debian/NodeSource packages, official
// tarballs): no download, since only the npm registry is reachable from where this is installed.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

exports.rebuild = function rebuild (dir) {
  const nodeGyp = process.env.npm_config_node_gyp
  const command = nodeGyp !== undefined ? [process.execPath, nodeGyp] : ['node-gyp']
  const args = ['rebuild']
  const nodeDir = path.resolve(process.execPath, '..', '..')
  if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`)
  execFileSync(command[0], [...command.slice(1), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
}
