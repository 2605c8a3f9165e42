#!/usr/bin/env bash
# Cold scan and metadata pass of earshotd, each beside a reference measured
# in the same run on the same files:
#   cold scan (tags + content ids + fingerprints)  vs  fpcalc, one process per file, sequentially
#   metadata pass (tags + content ids)              vs  mpd's full database rescan (null output)
#   no-change restart                               (absolute: restart to "scan finished")
# Usage: bench/scan_bench.sh [N_FILES=200] [SECONDS=60] [BUILD=build]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-200} secs=${2:-60} build=${3:-build}
earshotd=$build/daemon/earshotd
work=${BENCH_DIR:-/tmp/earshot-bench}
lib=$work/lib-$n-$secs
mkdir -p "$work"
bash bench/gen_library.sh "$lib" "$n" "$secs"
files=$(find "$lib" -type f | wc -l)
now() { date +%s.%N; }
rate() { awk -v f="$1" -v t="$2" 'BEGIN { printf "%.1f", f / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat_files() { find "$lib" -type f -print0 | xargs -0 cat > /dev/null; } # warm the page cache for everyone alike

cat_files
echo "files: $files of ${secs}s, cores: $(nproc)"

# fpcalc reference: sequential, one process per file, same 120 s limit.
# (fpcalc 1.5.1 reports "Error decoding audio frame (End of file)" at the end
# of every file and exits non-zero for it; the fingerprint is printed anyway.)
t0=$(now)
find "$lib" -type f -print0 | sort -z | xargs -0 -n 1 fpcalc -length 120 -raw > "$work/fpcalc.out" 2>/dev/null || true
t1=$(now)
fp_count=$(grep -c '^FINGERPRINT=' "$work/fpcalc.out")
fp_time=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

data=$(mktemp -d "$work/data.XXXX")
t0=$(now)
"$earshotd" --oneshot --log-level warn --library "$lib" --data "$data" > "$work/cold.json"
t1=$(now)
cold_time=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

t0=$(now)
"$earshotd" --oneshot --log-level warn --library "$lib" --data "$data" > /dev/null
t1=$(now)
restart_time=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
rm -rf "$data"

# The metadata pass alone (walk, tags, commits), as earshotd reports it: the
# process start and the content pass that follows are not part of it, just
# as mpd's start-up is not part of its rescan below.
meta=$(mktemp -d "$work/data.XXXX")
"$earshotd" --oneshot --no-fingerprints --log-level warn --library "$lib" --data "$meta" > "$work/meta.json"
meta_time=$(awk -F': ' '/"last_metadata_ms"/ { gsub(/[ ,]/, "", $2); print $2 / 1000 }' "$work/meta.json")
rm -rf "$meta"

# mpd reference: start it over the same folder, wait for its first update,
# then time a full `rescan` (re-reads every file's tags) through its protocol.
mpd_dir=$(mktemp -d "$work/mpd.XXXX")
port=$((20000 + RANDOM % 20000))
cat > "$mpd_dir/mpd.conf" <<CONF
music_directory "$lib"
db_file "$mpd_dir/db"
log_file "$mpd_dir/log"
pid_file "$mpd_dir/pid"
bind_to_address "127.0.0.1"
port "$port"
audio_output {
  type "null"
  name "null"
}
CONF
mpd --no-daemon "$mpd_dir/mpd.conf" & mpd_pid=$!
mpd_cmd() { # sends one command, prints the reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  read -r _ <&3
  printf '%s\n' "$1" >&3
  while read -r line <&3; do echo "$line"; [[ $line == OK* || $line == ACK* ]] && break; done
  exec 3<&-
}
mpd_idle() { ! mpd_cmd status | grep -q '^updating_db'; }
for _ in $(seq 200); do mpd_cmd ping >/dev/null 2>&1 && break; sleep 0.05; done
until mpd_idle; do sleep 0.05; done
t0=$(now)
mpd_cmd rescan > /dev/null
sleep 0.01
until mpd_idle; do sleep 0.01; done
t1=$(now)
mpd_time=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
mpd_songs=$(mpd_cmd stats | awk '/^songs:/ { print $2 }')
kill "$mpd_pid"; wait "$mpd_pid" 2>/dev/null || true
rm -rf "$mpd_dir"

tracks=$(awk -F': ' '/"tracks"/ { gsub(/[ ,]/, "", $2); print $2 }' "$work/cold.json")
echo
printf '%-34s %10s %12s %8s\n' "measure" "seconds" "files/s" "ratio"
printf '%-34s %10.2f %12s %8s\n' "fpcalc sequential (reference)" "$fp_time" "$(rate "$files" "$fp_time")" "1.00"
printf '%-34s %10.2f %12s %8s\n' "earshotd cold scan + fingerprints" "$cold_time" "$(rate "$files" "$cold_time")" "$(ratio "$fp_time" "$cold_time")"
printf '%-34s %10.2f %12s %8s\n' "mpd full rescan (reference)" "$mpd_time" "$(rate "$files" "$mpd_time")" "1.00"
printf '%-34s %10.2f %12s %8s\n' "earshotd metadata pass" "$meta_time" "$(rate "$files" "$meta_time")" "$(ratio "$mpd_time" "$meta_time")"
printf '%-34s %10.2f\n' "earshotd no-change restart" "$restart_time"
echo "tracks indexed: $tracks, fpcalc fingerprints: $fp_count, mpd songs: $mpd_songs"
