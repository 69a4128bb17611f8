#!/usr/bin/env bash
# Installs everything isomount and its tests need on a fresh Debian/Ubuntu machine with Node >= 20:
# Debian packages (FUSE, the peer tools the tests compare against, real ISOs shipped by Debian), the npm
# dependencies, the build, `isomount`/`isotool` on PATH, and the mount(8)/umount(8) helpers that make a
# plain `umount` wait for the commit. Safe to run again: it only does what is missing.
# On macOS it installs what Homebrew can (Node, macFUSE) and says what it cannot (see setup_macos).
set -euo pipefail
cd "$(dirname "$0")/.."

# Sets $bindir (used after it, for the man pages beside the commands).
link_commands() {
  bindir=/usr/local/bin
  if [ "$(id -u)" -ne 0 ] && [ ! -w "$bindir" ]; then bindir="$HOME/.local/bin"; mkdir -p "$bindir"; fi
  for cmd in isomount isotool; do
    ln -sfn "$PWD/bin/$cmd" "$bindir/$cmd"
  done
  echo "setup: isomount and isotool are in $bindir"
}

node_ok() {
  command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}

# macOS: macFUSE (4 or later) in place of the fuse package, Node >= 20, and one step no script can take.
# The test suite is Linux-only (it drives FUSE through /proc and Debian's tools); mounting is what runs here.
setup_macos() {
  if ! command -v brew >/dev/null; then
    echo "setup: macOS needs Homebrew (https://brew.sh) to install Node and macFUSE; or install Node >= 20 and macFUSE >= 4 yourself" >&2
    exit 1
  fi
  node_ok || brew install node
  if [ ! -d /Library/Filesystems/macfuse.fs ]; then
    echo "setup: installing macFUSE (asks for your password)"
    brew install --cask macfuse
  fi
  npm ci --no-audit --no-fund
  npm run build
  link_commands
  cat <<'NOTE'
setup: one step is yours: allow macFUSE's system extension in System Settings > Privacy & Security (on
       Apple silicon, kernel extensions must first be allowed in Startup Security Utility, in Recovery), then
       restart. Until then mounting fails with "is macFUSE ... allowed".
setup: macOS has no umount helpers: unmount with `isomount -u MOUNTPOINT`, which waits for the commit
       (Finder's eject and umount(8) return before it).
NOTE
}

if [ "$(uname -s)" = Darwin ]; then
  setup_macos
  exit 0
fi

PACKAGES=(
  fuse libfuse2                       # fuse-native's addon links libfuse.so.2; fusermount
  gcc g++ make python3                # npm ci rebuilds fuse-native with a fix (scripts/build-fuse-native.js)
  genisoimage xorriso                 # images to read, and peers to compare with
  libarchive-tools p7zip-full         # bsdtar and 7z: independent readers (7z -tudf: UDF)
  udftools                            # mkudffs and udfinfo: UDF file systems to read, and a checker
  python3 python3-pycdlib             # pycdlib: independent reader, benchmark peer
  fuseiso                             # benchmark peer
  isolinux syslinux-common            # isolinux.bin, ldlinux.c32, isohdpfx.bin for bootable images
  ipxe grub-rescue-pc memtest86+      # real ISOs shipped in Debian packages
  grub-common grub-pc-bin grub-efi-amd64-bin  # grub-mkrescue, grub-mkstandalone, grub-mkimage: the GRUB images boot tests build
  mtools dosfstools syslinux          # the FAT ESP and boot floppy of boot test images (mkfs.vfat, mcopy, syslinux --install)
  ovmf                                # UEFI firmware for qemu: boot tests as UEFI CD and disk
  gdisk fdisk                         # sgdisk -v and fdisk -l check partition tables; sfdisk edits one test image's MBR
  dumpet                              # El Torito catalog dumper
  procps psmisc                       # pkill, fuser: mount test cleanup
  qemu-system-x86                     # boots images as CD and as disk (SeaBIOS; with ovmf, UEFI)
  rsync vim-tiny ed                   # the shell tools the read-write mount tests edit with
  tmux                                # drives isotool shell at a terminal in the tests
  isomd5sum                           # implantisomd5 and checkisomd5: the media checksums commits keep valid
  man-db bash-completion              # man isomount, man isotool; tab completion of both commands
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

if ! node_ok; then
  echo "setup: Node >= 20 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm run build
link_commands

# /sbin/umount.fuse.isomount makes a plain `umount` (and fstab's, and systemd's) wait for the commit;
# /sbin/mount.fuse.isomount lets fstab lines and `mount -t fuse.isomount` mount images.
$SUDO scripts/install-mount-helpers.sh /sbin

# Man pages and bash completion, beside the commands (/usr/local, or ~/.local).
scripts/install-docs.sh "$(dirname "$bindir")"

if [ ! -c /dev/fuse ]; then
  echo "setup: warning: /dev/fuse is missing; mounting needs the fuse kernel module (modprobe fuse)" >&2
fi
echo "setup: done; isomount and isotool are in $bindir (man isomount, man isotool; tab completion in new shells)"
