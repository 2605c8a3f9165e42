#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a running earshotd:
# installs the dependencies, builds, and runs the daemon over the music
# folder(s) given, or over a small generated demo library when none is given.
#   contrib/quickstart.sh [MUSIC_DIR ...] [-- EXTRA_EARSHOTD_FLAGS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc 2>/dev/null || echo 2)

libs=()
while (($#)) && [[ $1 != -- ]]; do libs+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift

bash contrib/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" --target earshotd earshot

if ((${#libs[@]} == 0)); then
  demo="${XDG_DATA_HOME:-$HOME/.local/share}/earshot/demo-library"
  bash contrib/make-demo-library.sh "$demo"
  libs=("$demo")
fi

args=()
for l in "${libs[@]}"; do args+=(--library "$l"); done
echo "earshotd is starting; in another shell try:  build/cli/earshot status   and   build/cli/earshot search \"aurora lane glass harbour\""
exec build/daemon/earshotd "${args[@]}" "$@"
