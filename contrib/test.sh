#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds with
# warnings as errors and runs every test; then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests once more.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc 2>/dev/null || echo 2)

bash contrib/install-deps.sh

echo "== Release build (-O3, -Werror) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEARSHOT_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600

echo "== ASan + UBSan build =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEARSHOT_SANITIZE=ON -DEARSHOT_BENCH=OFF -DEARSHOT_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 900
