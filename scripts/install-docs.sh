#!/usr/bin/env bash
# Installs the man pages (isomount(1), isotool(1)) and the bash completion of both commands under PREFIX
# (default /usr/local, or ~/.local when that is not writable), as links into this checkout. Run by
# scripts/setup.sh; on its own: scripts/install-docs.sh [PREFIX].
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${1:-/usr/local}
if [ $# -eq 0 ] && [ "$(id -u)" -ne 0 ] && [ ! -w "$prefix/share" ]; then prefix="$HOME/.local"; fi
man1="$prefix/share/man/man1"
# bash-completion loads completions/<command> from XDG_DATA_DIRS (/usr/local/share among them) and
# from ~/.local/share/bash-completion (BASH_COMPLETION_USER_DIR).
completions="$prefix/share/bash-completion/completions"
mkdir -p "$man1" "$completions"
for page in man/*.1; do ln -sfn "$PWD/$page" "$man1/$(basename "$page")"; done
for cmd in isomount isotool; do ln -sfn "$PWD/completion/isomount.bash" "$completions/$cmd"; done
# man finds pages by directory; an index (where mandb is installed) makes apropos and whatis find them too.
if command -v mandb >/dev/null && [ "$prefix" = /usr/local ]; then mandb -q "$prefix/share/man" 2>/dev/null || true; fi
echo "install-docs: man pages in $man1, bash completion in $completions"
