#!/usr/bin/env bash
# Installs everything earshot needs to build, test and benchmark on Debian
# bookworm. Idempotent: packages already present are left alone, and the apt
# lists are refreshed only when a package is actually missing.
set -euo pipefail

packages=(
  # toolchain (a minimal Debian has none of it)
  build-essential g++ cmake pkg-config git ca-certificates
  # libraries from the design card
  libtorrent-rasterbar-dev libboost-dev libboost-test-dev libboost-system-dev
  libsodium-dev libtag1-dev liblmdb-dev libchromaprint-dev
  # OpenSSL's libcrypto: SHA-1 of BEP 44 item targets (libtorrent needs it too)
  libssl-dev
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  # tests generate audio with ffmpeg and play it back with mpv/ffprobe
  ffmpeg mpv curl
  # benchmarks compare against fpcalc and mpd
  libchromaprint-tools mpd
  # fuzz targets (libFuzzer ships with clang's runtime)
  clang libclang-rt-14-dev
  # network-namespace tests (ip, ss, tc) and a library on a FUSE mount whose
  # reads hang (fusermount3; the filesystem is a few lines of fusepy)
  iproute2 fuse3 python3-fusepy python3
  # a home router in a namespace for the NAT tests (issue 8; test_nat is on
  # its way): nftables masquerading and miniupnpd (UPnP-IGD,
  # NAT-PMP). Only the binary package: `miniupnpd` itself would add debconf
  # questions and a system service; the test runs its own instance inside a
  # namespace. upnpc (miniupnpc) is for looking at mappings by hand.
  nftables miniupnpd-nftables miniupnpc
  # the independent reference of proto/DHT.md's test vectors (presence_reference)
  python3-nacl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # mpd ships an enabled system service; earshot's bench runs its own instance.
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now mpd.service mpd.socket >/dev/null 2>&1 || true
  fi
fi
