#!/usr/bin/env node
'use strict'
// Rebuilds fuse-native from its C source with two fixes to utimens(), so that node-gyp-build loads
// build/Release/fuse.node instead of the published prebuild. Without them `cp -a`, `tar x` and `rsync -a`
// through a mount cannot set modification times:
// - fuse-native 2.2.6 passes the access time in place of the modification time (its C glue converts
//   l->atime twice). Known upstream (sagemathinc/fuse-native issue 3, also in the @cocalc fork), unfixed.
// - libfuse 2.9 calls utimens() only when both times are set, unless the file system declares that it
//   takes utimensat's UTIME_OMIT and UTIME_NOW (fuse.h flag_utime_omit_ok): `tar x` sets the mtime alone
//   (atime UTIME_OMIT), `touch -m` too. So the flag is set, and since fuse-native would turn those tv_nsec
//   markers into a bogus 1.073 s, UTIME_NOW becomes the current time and UTIME_OMIT the largest uint64,
//   which src/fuse reads as "unchanged".
//
// Run by npm after install (package.json "postinstall"); needs a C compiler, make, python3 and Node's
// headers, which scripts/setup.sh installs. Idempotent: a fixed, built copy is kept.
//
// On Linux a failed build fails the install: without the fixes, `cp -a` through a mount records wrong
// times. On macOS it is tried against the osxfuse headers fuse-native bundles (never tested here: no
// Mac runs our CI); if it fails, fuse-native's own prebuilt addon stays in use, with a warning, rather
// than failing the install.
const fs = require('node:fs')
const path = require('node:path')
const { rebuild } = require('./node-gyp')

const pkg = path.dirname(require.resolve('fuse-native/package.json'))
const source = path.join(pkg, 'fuse-native.c')
const MARK = '/* isomount: utimens fixes */'
const EDITS = [
  ['  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)', '  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'],
  ['  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);',
    '  l->atime = utimens_time(&tv[0]);\n  l->mtime = utimens_time(&tv[1]);'],
  ['  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;',
    '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n  ops.flag_utime_omit_ok = 1;'],
  ['static void populate_stat (', `${MARK}
static uint64_t utimens_time (const struct timespec* ts) {
  if (ts->tv_nsec == UTIME_OMIT) return UINT64_MAX;
  if (ts->tv_nsec == UTIME_NOW) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return timespec_to_uint64(&now);
  }
  return timespec_to_uint64(ts);
}

static void populate_stat (`]
]

const text = fs.readFileSync(source, 'utf8')
const built = path.join(pkg, 'build', 'Release', 'fuse.node')
if (text.includes(MARK) && fs.existsSync(built)) process.exit(0)
let fixed = text
for (const [from, to] of text.includes(MARK) ? [] : EDITS) {
  if (fixed.split(from).length !== 2) {
    // A different fuse-native: see whether the bugs are still there before changing this script.
    console.error(`build-fuse-native: ${source} does not contain the expected code exactly once; refusing to guess:\n${from}`)
    process.exit(1)
  }
  fixed = fixed.replace(from, to)
}
fs.writeFileSync(source, fixed)

try {
  rebuild(pkg)
} catch (err) {
  fs.writeFileSync(source, text) // leave the package as it was, so a retry starts clean
  if (process.platform !== 'linux') {
    console.error(`build-fuse-native: warning: building fuse-native with the utimens fixes failed on ${process.platform} (${err.message}); ` +
      'its prebuilt addon is used, with which file times set through a mount (cp -a, touch -m) may be wrong')
    process.exit(0)
  }
  console.error(`build-fuse-native: building fuse-native failed (${err.message}); scripts/setup.sh installs what it needs`)
  process.exit(1)
}
console.error('build-fuse-native: built fuse-native with the utimens fixes')
