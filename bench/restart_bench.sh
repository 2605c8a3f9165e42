#!/usr/bin/env bash
# No-change restart at library scale, and the daemon's memory there. Builds
# a library of N real (tiny, 0.5 s) MP3 files named "Artist - Title.mp3"
# (untagged: earshot names them from the file name, so names vary while
# the audio is one short file copied N times), indexes it once, then times:
#   earshotd --oneshot on the unchanged library (start, load, walk, compare, exit)
# beside the reference floor measured in the same run: `find` listing and
# stat-ing every file (what any rescan must at least do).
# Also reports the running daemon's RSS once its scan is idle.
# Usage: bench/restart_bench.sh N [BUILD=build]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:?N} build=${2:-build}
earshotd=$build/daemon/earshotd
work=${BENCH_DIR:-/tmp/earshot-bench}
lib=$work/tiny-$n
data=$work/tiny-data-$n
mkdir -p "$work"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

if [[ ! -f $lib/.complete ]]; then
  rm -rf "$lib" "$data"
  mkdir -p "$lib"
  ffmpeg -v error -nostdin -y -f lavfi -i "sine=frequency=440:duration=0.5" -c:a libmp3lame -b:a 32k "$work/tiny.mp3"
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "%d/%d/Artist %d - Title %d %d.mp3\n", i % 100, (i / 100) % 100, i % 997, i, (i * 7919) % 100003 }' |
    while IFS= read -r rel; do
      mkdir -p "$lib/$(dirname "$rel")" 2>/dev/null || true
      cp "$work/tiny.mp3" "$lib/$rel"
    done
  touch "$lib/.complete"
fi
files=$(find "$lib" -type f -name '*.mp3' | wc -l)

if [[ ! -d $data ]]; then
  t0=$(now)
  "$earshotd" --oneshot --log-level warn --library "$lib" --data "$data" > /dev/null
  t1=$(now)
  echo "cold scan of $files files: $(elapsed "$t0" "$t1") s"
fi

t0=$(now)
find "$lib" -type f -printf '%s %T@ %i\n' > /dev/null
t1=$(now)
floor=$(elapsed "$t0" "$t1")

best=999
for _ in 1 2 3; do
  t0=$(now)
  "$earshotd" --oneshot --log-level warn --library "$lib" --data "$data" > /dev/null
  t1=$(now)
  t=$(elapsed "$t0" "$t1")
  best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
done

port=$((20000 + RANDOM % 20000))
"$earshotd" --log-level warn --no-watch --no-dht --no-port-mapping --library "$lib" --data "$data" --http "127.0.0.1:$port" & pid=$!
until curl -sf "http://127.0.0.1:$port/api/v1/status" 2>/dev/null | grep -q '"running":false'; do sleep 0.1; done
rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
kill "$pid"; wait "$pid" 2>/dev/null || true

printf '%-44s %8s\n' "measure ($files files)" "seconds"
printf '%-44s %8s\n' "find + stat of every file (reference floor)" "$floor"
printf '%-44s %8s\n' "earshotd no-change restart (best of 3)" "$best"
echo "earshotd RSS after the scan: $rss MB"
