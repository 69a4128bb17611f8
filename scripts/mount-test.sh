#!/usr/bin/env bash
# A by-hand smoke test of the mount: builds a small image (or takes one as $1), mounts it read-only, checks
# it with ordinary tools against bsdtar's extraction, then mounts it read-write, changes it, unmounts, and
# checks the change landed. Cleans up on any exit.
#   scripts/mount-test.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
ISOMOUNT="node $PWD/bin/isomount"
work=$(mktemp -d "${TMPDIR:-/tmp}/isomount-mount-test.XXXXXX")
mnt="$work/mnt"
mkdir -p "$mnt"

cleanup() {
  if grep -q " $mnt fuse" /proc/mounts 2>/dev/null; then
    $ISOMOUNT -u "$mnt" 2>/dev/null || fusermount -u -z "$mnt" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ $# -ge 1 ]; then
  image="$work/image.iso"
  cp "$1" "$image"
else
  mkdir -p "$work/src/docs"
  echo "hello" > "$work/src/hello.txt"
  seq 1 10000 > "$work/src/docs/numbers.txt"
  ln -s hello.txt "$work/src/link"
  genisoimage -quiet -R -J -o "$work/image.iso" "$work/src"
  image="$work/image.iso"
fi

echo "== read-only"
$ISOMOUNT -o ro "$image" "$mnt"
ls -la "$mnt"
mkdir -p "$work/bsdtar"
bsdtar -xf "$image" -C "$work/bsdtar"
diff -r "$work/bsdtar" "$mnt"
echo "files: $(find "$mnt" -type f | wc -l), bytes: $(tar cf - -C "$mnt" . | wc -c)"
$ISOMOUNT -u "$mnt"

echo "== read-write"
$ISOMOUNT "$image" "$mnt"
echo "added by mount-test.sh" > "$mnt/added.txt"
mkdir "$mnt/newdir"
cp "$mnt/added.txt" "$mnt/newdir/copy.txt"
$ISOMOUNT -u "$mnt"
test "$(bsdtar -xOf "$image" added.txt)" = "added by mount-test.sh"
test "$(bsdtar -xOf "$image" newdir/copy.txt)" = "added by mount-test.sh"
isovfy "$image" | tail -1

echo "mount-test: OK"
