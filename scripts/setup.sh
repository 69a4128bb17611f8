#!/usr/bin/env bash
# Installs everything isomount and its tests need on a fresh Debian/Ubuntu machine with Node >= 20:
# Debian packages (FUSE, the peer tools the tests compare against, real ISOs shipped by Debian), the npm
# dependencies, the build, and `isomount`/`isotool` on PATH. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  fuse libfuse2                       # fuse-native's addon links libfuse.so.2; fusermount
  gcc g++ make python3                # npm ci rebuilds fuse-native with a fix (scripts/build-fuse-native.js)
  genisoimage xorriso                 # images to read, and peers to compare with
  libarchive-tools p7zip-full         # bsdtar and 7z: independent readers (7z -tudf: UDF)
  udftools                            # mkudffs and udfinfo: UDF file systems to read, and a checker
  python3 python3-pycdlib             # pycdlib: independent reader, benchmark peer
  fuseiso                             # benchmark peer
  isolinux syslinux-common            # isolinux.bin, ldlinux.c32, isohdpfx.bin for bootable images
  ipxe grub-rescue-pc                 # real ISOs shipped in Debian packages
  dumpet                              # El Torito catalog dumper
  procps psmisc                       # pkill, fuser: mount test cleanup
  qemu-system-x86                     # boots the images we master (isolinux as CD and as disk)
  rsync vim-tiny ed                   # the shell tools the read-write mount tests edit with
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm run build

# Put the commands on PATH.
bindir=/usr/local/bin
if [ "$(id -u)" -ne 0 ] && [ ! -w "$bindir" ]; then bindir="$HOME/.local/bin"; mkdir -p "$bindir"; fi
for cmd in isomount isotool; do
  ln -sfn "$PWD/bin/$cmd" "$bindir/$cmd"
done

if [ ! -c /dev/fuse ]; then
  echo "setup: warning: /dev/fuse is missing; mounting needs the fuse kernel module (modprobe fuse)" >&2
fi
echo "setup: done; isomount and isotool are in $bindir"
