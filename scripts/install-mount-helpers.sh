#!/bin/sh
# Installs the helpers util-linux's mount(8) and umount(8) run for file systems of type fuse.isomount:
#   DIR/mount.fuse.isomount   fstab lines and `mount -t fuse.isomount IMAGE DIR` mount as isomount does;
#   DIR/umount.fuse.isomount  a plain `umount DIR` commits and waits until the image is on disk, as
#                             `isomount -u DIR` does (without it umount returns before the commit).
# DIR defaults to /sbin, where libmount looks for them. Each is a two-line script naming this checkout's
# node and bin/ by absolute path: umount runs helpers with whatever PATH its caller had (systemd's at
# shutdown, a sanitized one for a user), in which `node` may not be found.
# Linux only: macOS's mount and umount have no such helpers (there, `isomount -u` waits for the commit).
set -eu
dir=${1:-/sbin}
root=$(cd "$(dirname "$0")/.." && pwd)
node=$(command -v node)
case "$(uname -s)" in
  Linux) ;;
  *) echo "install-mount-helpers: $(uname -s) has no mount/umount helpers; use isomount -u to unmount" >&2; exit 0 ;;
esac

# A path inside single quotes for sh: ' becomes '\''.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

for kind in mount umount; do
  helper=$kind.fuse.isomount
  tmp="$dir/.$helper.$$"
  {
    echo '#!/bin/sh'
    echo "# Installed by $root/scripts/install-mount-helpers.sh"
    echo "exec $(quote "$node") $(quote "$root/bin/isomount-$kind-helper") \"\$@\""
  } > "$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$dir/$helper"
done
echo "install-mount-helpers: $dir/mount.fuse.isomount and $dir/umount.fuse.isomount run $root/bin"
