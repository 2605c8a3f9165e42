#!/usr/bin/env bash
# Generates N distinct tagged tracks of S seconds each (mixed formats) into
# DIR, two FFmpeg processes at a time. Existing files are kept, so a second
# run of a benchmark reuses its library.  Usage: gen_library.sh DIR N SECONDS
set -euo pipefail
dir=${1:?DIR} n=${2:?N} secs=${3:?SECONDS}
mkdir -p "$dir"
formats=(flac mp3 ogg opus m4a)
gen_one() {
  local i=$1 dir=$2 secs=$3 fmt=$4
  local out="$dir/Artist $((i % 97))/Album $((i % 13))/$(printf '%05d' "$i") Track $i.$fmt"
  [[ -s $out ]] && return 0
  mkdir -p "$(dirname "$out")"
  local codec
  case $fmt in
    mp3) codec="-c:a libmp3lame -b:a 192k" ;; ogg) codec="-c:a libvorbis -q:a 4" ;;
    opus) codec="-c:a libopus -b:a 96k" ;; m4a) codec="-c:a aac -b:a 160k" ;; flac) codec="-c:a flac" ;;
  esac
  # shellcheck disable=SC2086
  ffmpeg -v error -nostdin -y -f lavfi -i "anoisesrc=seed=$i:color=pink:duration=$secs:sample_rate=44100" \
    -f lavfi -i "sine=frequency=$((150 + i % 500)):duration=$secs:sample_rate=44100" \
    -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" $codec \
    -metadata artist="Artist $((i % 97))" -metadata album="Album $((i % 13))" -metadata title="Track $i" "$out"
}
export -f gen_one
for ((i = 0; i < n; i++)); do echo "$i ${formats[i % 5]}"; done |
  xargs -P 2 -L 1 bash -c 'gen_one "$1" "'"$dir"'" "'"$secs"'" "$2"' _
