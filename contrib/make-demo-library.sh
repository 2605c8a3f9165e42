#!/usr/bin/env bash
# Generates a small tagged demo library with FFmpeg (synthesised audio, a
# few artists and formats, one recording in two encodings) so earshotd has
# something to index on a machine without music. Usage: make-demo-library.sh DIR
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"

# artist|album|track no|title|seconds|format|seed
tracks=(
  "Aurora Lane|Northern Lights|1|Glass Harbour|24|flac|11"
  "Aurora Lane|Northern Lights|2|Paper Satellites|21|flac|12"
  "Aurora Lane|Northern Lights|3|Glass Harbour (Live)|26|mp3|13"
  "The Midnight Orchard|Lanterns|1|Karma Street|22|mp3|21"
  "The Midnight Orchard|Lanterns|2|Slow Rivers (feat. Aurora Lane)|25|ogg|22"
  "The Midnight Orchard|Lanterns|3|Éclair de lune|20|opus|23"
  "Sigur Rós Tribute Band|Covers|1|Hoppípolla|23|m4a|31"
  "U2 Cover Trio|Joshua Tree Redux|1|One|19|mp3|41"
)

for t in "${tracks[@]}"; do
  IFS='|' read -r artist album no title secs fmt seed <<<"$t"
  out="$dir/$artist/$album/$(printf '%02d' "$no") $title.$fmt"
  mkdir -p "$(dirname "$out")"
  [[ -s $out ]] && continue
  codec=()
  case $fmt in
    mp3) codec=(-c:a libmp3lame -b:a 192k) ;;
    ogg) codec=(-c:a libvorbis -q:a 4) ;;
    opus) codec=(-c:a libopus -b:a 96k) ;;
    m4a) codec=(-c:a aac -b:a 160k) ;;
    flac) codec=(-c:a flac) ;;
  esac
  # Filtered noise with a per-track seed plus a tone, so every "recording"
  # sounds (and fingerprints) different.
  ffmpeg -v error -nostdin -y \
    -f lavfi -i "anoisesrc=seed=$seed:color=pink:duration=$secs:sample_rate=44100" \
    -f lavfi -i "sine=frequency=$((200 + seed * 7)):duration=$secs:sample_rate=44100" \
    -filter_complex "[0:a][1:a]amix=inputs=2,volume=0.8,aformat=channel_layouts=stereo" \
    "${codec[@]}" -metadata artist="$artist" -metadata album="$album" -metadata title="$title" \
    -metadata track="$no" -metadata date=2024 "$out"
done

# The same recording in a second encoding: earshot groups both under one recording id.
src="$dir/Aurora Lane/Northern Lights/01 Glass Harbour.flac"
dup="$dir/Aurora Lane/Northern Lights (MP3)/01 Glass Harbour.mp3"
if [[ ! -s $dup ]]; then
  mkdir -p "$(dirname "$dup")"
  ffmpeg -v error -nostdin -y -i "$src" -c:a libmp3lame -b:a 128k -map_metadata 0 "$dup"
fi
echo "demo library ready in $dir"
