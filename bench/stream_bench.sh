#!/usr/bin/env bash
# A verified, encrypted stream between two earshotd on loopback, beside two
# references measured in the same run on the same bytes:
#   remote stream: laptop /sid/<sid> fetching 64 KiB chunks from the server over
#                  the Noise channel, verifying each against the leaf layer and
#                  caching it, then serving it over HTTP
#   reference 1:   crypto_limit: one core doing only libsodium's part
#                  (XChaCha20-Poly1305 decrypt + BLAKE2b of each 64 KiB chunk)
#   reference 2:   curl of the serving daemon's own /sid/<sid> (a local file)
# plus time to first byte of the remote track, CPU per MB of each daemon
# during the cold stream, and a replay from the laptop's chunk cache. The
# bytes are checked once (sha256, outside the timed runs).
#
# Usage: bench/stream_bench.sh [SECONDS=240] [BUILD=build]
#   EARSHOTD / CRYPTO_LIMIT override the binaries (default BUILD/daemon/earshotd,
#   BUILD/bench/crypto_limit); BENCH_DIR the work folder (default /tmp/earshot-bench);
#   PERF=1 records a perf profile of both daemons during the cold stream.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-240} build=${2:-build}
earshotd=${EARSHOTD:-$build/daemon/earshotd}
crypto_limit=${CRYPTO_LIMIT:-$build/bench/crypto_limit}
work=${BENCH_DIR:-/tmp/earshot-bench}
for exe in "$earshotd" "$crypto_limit"; do
    [[ -x $exe ]] || { echo "missing $exe (build earshotd and crypto_limit first)" >&2; exit 1; }
done

# One big lossless file: 192 kHz / 24-bit stereo noise, 1.152 MB per second
# of audio (240 s = 276 MB). Tagged so the search finds it.
lib=$work/stream-lib-$secs
file=$lib/marathon.wav
if [[ ! -s $file ]]; then
    mkdir -p "$lib"
    ffmpeg -v error -nostdin -y -f lavfi -i "anoisesrc=d=$secs:c=pink:r=192000:a=0.4:seed=11" -ac 2 -c:a pcm_s24le \
        -metadata artist="Stream Bench" -metadata title="Endless Run" -metadata album="Loopback" "$file.tmp.wav"
    mv "$file.tmp.wav" "$file"
fi
size=$(stat -c %s "$file")
sha_file=$(sha256sum < "$file" | cut -d' ' -f1)
cat "$file" > /dev/null # the server reads from the page cache, as for curl's reference

run=$(mktemp -d "$work/stream.XXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat;
# the command name in field 2 has no spaces here).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
# The main thread's (the io_context's) on-CPU and run-queue wait times, in ns
# (/proc/PID/task/PID/schedstat): with the wall time they tell whether the
# daemon was busy, waiting for a core, or idle waiting for work.
sched_ns() { awk '{ print $1, $2 }' "/proc/$1/task/$1/schedstat"; }

# start NAME LIBRARY: runs a daemon, sets ${NAME}_pid, ${NAME}_url, ${NAME}_peer
start() {
    local name=$1 library=$2 http peer
    http=$(free_port) peer=$(free_port)
    mkdir -p "$run/$name"
    "$earshotd" --library "$library" --data "$run/$name" --http "127.0.0.1:$http" --listen "127.0.0.1:$peer" \
        --name "$name" --no-discovery --no-dht --no-port-mapping --cache-size 1024 --log-level info > "$run/$name.log" 2>&1 &
    pids+=($!)
    printf -v "${name}_pid" %s "$!"
    printf -v "${name}_url" %s "http://127.0.0.1:$http"
    printf -v "${name}_peer" %s "127.0.0.1:$peer"
}
api() { curl -sf "$1"; }
wait_for() { # wait_for SECONDS COMMAND...: polls until the command succeeds
    local deadline=$(($(date +%s) + $1)); shift
    until "$@" > /dev/null 2>&1; do
        (($(date +%s) < deadline)) || { echo "timed out waiting for: $*" >&2; tail -20 "$run"/*.log >&2; exit 1; }
        sleep 0.1
    done
}
scanned() { api "$1/api/v1/status" | jq -e '.scan.running == false and .scan.scans_completed >= 1'; }
online() { api "$1/api/v1/peers" | jq -e --arg n "$2" 'any(.peers[]; .name == $n and .online)'; }
pair() { # pair FROM_URL NAME TO_URL TO_PEER_ADDRESS
    local id
    id=$(api "$3/api/v1/status" | jq -r .peer_id)
    curl -sf -o /dev/null --data-urlencode "peer_id=$id" --data-urlencode role=device --data-urlencode "name=$2" \
        --data-urlencode "address=$4" "$1/api/v1/peers"
}
search() { # search URL: the results for the bench track
    curl -sf -G --data-urlencode artist="Stream Bench" --data-urlencode track="Endless Run" \
        --data-urlencode timeout=5000 "$1/api/v1/search"
}

mkdir -p "$run/empty"
start server "$lib"
start laptop "$run/empty"
wait_for 120 scanned "$server_url"
wait_for 30 scanned "$laptop_url"
pair "$laptop_url" server "$server_url" "$server_peer"
pair "$server_url" laptop "$laptop_url" "$laptop_peer"
wait_for 30 online "$laptop_url" server
wait_for 30 online "$server_url" laptop

sid=$(search "$server_url" | jq -r '[.results[] | select(.source == "server")][0].sid')
[[ -n $sid && $sid != null ]] || { echo "the server did not index $file" >&2; exit 1; }
# The laptop must have seen the result (that is how it knows the sid is remote).
search "$laptop_url" | jq -e --arg s "$sid" 'any(.results[]; .sid == $s)' > /dev/null ||
    { echo "the laptop's search did not find the server's track" >&2; exit 1; }

# fetch URL: prints "seconds_total seconds_to_first_byte bytes" for one GET to /dev/null
fetch() { curl -sf -o /dev/null -w '%{time_total} %{time_starttransfer} %{size_download}\n' "$1"; }

# (a) reference 2: the serving daemon streaming its own file. Best of 3.
local_best=0 server_local_ticks=0
for _ in 1 2 3; do
    c0=$(cpu_ticks "$server_pid")
    read -r t _ bytes < <(fetch "$server_url/sid/$sid")
    c1=$(cpu_ticks "$server_pid")
    [[ $bytes == "$size" ]] || { echo "local /sid/ gave $bytes of $size bytes" >&2; exit 1; }
    mbps=$(calc %.1f "$size / $t / 1e6")
    if awk -v a="$mbps" -v b="$local_best" 'BEGIN { exit !(a > b) }'; then
        local_best=$mbps server_local_ticks=$((c1 - c0))
    fi
done

# (b) the remote stream, cold: the laptop has never seen these bytes.
# (c) CPU of each daemon during it.
perf_pids=()
if [[ ${PERF:-0} == 1 ]]; then
    perf record -q -g -o "$work/perf-laptop.data" -p "$laptop_pid" > /dev/null 2>&1 & perf_pids+=($!)
    perf record -q -g -o "$work/perf-server.data" -p "$server_pid" > /dev/null 2>&1 & perf_pids+=($!)
    sleep 1
fi
l0=$(cpu_ticks "$laptop_pid") s0=$(cpu_ticks "$server_pid")
read -r lrun0 lwait0 < <(sched_ns "$laptop_pid"); read -r srun0 swait0 < <(sched_ns "$server_pid")
read -r cold_t ttfb cold_bytes < <(fetch "$laptop_url/sid/$sid")
read -r lrun1 lwait1 < <(sched_ns "$laptop_pid"); read -r srun1 swait1 < <(sched_ns "$server_pid")
l1=$(cpu_ticks "$laptop_pid") s1=$(cpu_ticks "$server_pid")
for p in "${perf_pids[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done
[[ $cold_bytes == "$size" ]] || { echo "remote /sid/ gave $cold_bytes of $size bytes" >&2; exit 1; }
cold=$(calc %.1f "$size / $cold_t / 1e6")
mb=$(calc %.6f "$size / 1e6")
laptop_ms_mb=$(calc %.2f "($l1 - $l0) * 1000 / $tick / $mb")
server_ms_mb=$(calc %.2f "($s1 - $s0) * 1000 / $tick / $mb")
server_local_ms_mb=$(calc %.2f "$server_local_ticks * 1000 / $tick / $mb")
# busy / waiting for a core / idle, as shares of the cold stream's wall time
share() {
    awk -v run="$1" -v wait="$2" -v t="$cold_t" 'BEGIN {
        idle = 100 - 100 * (run + wait) / 1e9 / t; if (idle < 0) idle = 0
        printf "%.0f%% on CPU, %.0f%% waiting for a core, %.0f%% idle", 100 * run / 1e9 / t, 100 * wait / 1e9 / t, idle }'
}
laptop_share=$(share $((lrun1 - lrun0)) $((lwait1 - lwait0)))
server_share=$(share $((srun1 - srun0)) $((swait1 - swait0)))

# (d) replay: the same URL again, every chunk now in the laptop's cache. Best of 3.
replay=0 replay_ticks=0
for _ in 1 2 3; do
    c0=$(cpu_ticks "$laptop_pid")
    read -r t _ bytes < <(fetch "$laptop_url/sid/$sid")
    c1=$(cpu_ticks "$laptop_pid")
    [[ $bytes == "$size" ]] || { echo "replay gave $bytes of $size bytes" >&2; exit 1; }
    mbps=$(calc %.1f "$size / $t / 1e6")
    if awk -v a="$mbps" -v b="$replay" 'BEGIN { exit !(a > b) }'; then
        replay=$mbps replay_ticks=$((c1 - c0))
    fi
done

# Correctness, outside the timed runs: the laptop's bytes are the file's.
sha_remote=$(curl -sf "$laptop_url/sid/$sid" | sha256sum | cut -d' ' -f1)
[[ $sha_remote == "$sha_file" ]] || { echo "MISMATCH: remote stream sha256 $sha_remote, file $sha_file" >&2; exit 1; }

# (e) reference 1: libsodium alone on the same number of bytes (daemons idle).
limits=$("$crypto_limit" $(((size + 1048575) / 1048576)) 5)
limit=$(awk '/^crypto_limit_MBps/ { print $2 }' <<< "$limits")
decrypt_only=$(awk '/^decrypt_only_MBps/ { print $2 }' <<< "$limits")
hash_only=$(awk '/^blake2b_only_MBps/ { print $2 }' <<< "$limits")

echo "file: $(calc %.1f "$size / 1e6") MB WAV, sid ${sid:0:12}…, cores: $(nproc), sha256 verified"
echo
printf '%-44s %10s %14s %14s\n' "measure" "MB/s" "÷ crypto limit" "÷ local curl"
printf '%-44s %10s %14s %14s\n' "libsodium one-core limit (reference 1)" "$limit" "1.00" "$(calc %.2f "$limit / $local_best")"
printf '%-44s %10s %14s %14s\n' "curl of server's own /sid/ (reference 2)" "$local_best" "$(calc %.2f "$local_best / $limit")" "1.00"
printf '%-44s %10s %14s %14s\n' "remote stream, cold cache" "$cold" "$(calc %.2f "$cold / $limit")" "$(calc %.2f "$cold / $local_best")"
printf '%-44s %10s %14s %14s\n' "replay from the laptop's cache" "$replay" "$(calc %.2f "$replay / $limit")" "$(calc %.2f "$replay / $local_best")"
echo
echo "time to first byte, remote track (cold): $(calc %.1f "$ttfb * 1000") ms"
echo "CPU during the cold remote stream: laptop $laptop_ms_mb ms/MB, server $server_ms_mb ms/MB" \
     "(server serving its own /sid/ to curl: $server_local_ms_mb ms/MB)"
echo "CPU during the replay: laptop $(calc %.2f "$replay_ticks * 1000 / $tick / $mb") ms/MB (it reads, verifies and serves)"
# What the stream would reach if its busiest daemon had a core to itself: CPU
# time does not depend on how busy the machine is, wall time does.
busiest=$(calc %.2f "($laptop_ms_mb > $server_ms_mb) ? $laptop_ms_mb : $server_ms_mb")
echo "CPU-bound ceiling of the remote stream (1000 / busiest daemon's ms/MB): $(calc %.1f "1000 / $busiest") MB/s" \
     "= $(calc %.2f "1000 / $busiest / $limit") × the libsodium limit"
echo "io thread during it: laptop $laptop_share; server $server_share"
echo "libsodium alone: decrypt $(calc %.2f "1000 / $decrypt_only") ms/MB, BLAKE2b $(calc %.2f "1000 / $hash_only") ms/MB" \
     "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
