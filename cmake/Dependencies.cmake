# Every dependency comes from Debian's packages (contrib/install-deps.sh).
find_package(PkgConfig REQUIRED)
pkg_check_modules(sodium REQUIRED IMPORTED_TARGET libsodium)
# SHA-1 for BEP 44 item targets (proto/presence.cpp); libsodium has none.
pkg_check_modules(libcrypto REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(taglib REQUIRED IMPORTED_TARGET taglib)
pkg_check_modules(lmdb REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(chromaprint REQUIRED IMPORTED_TARGET libchromaprint)
# The mainline DHT (BEP 5/44): daemon/dht/node.cpp and the private test DHT
# (tests/support/dht); -D flags from its .pc file must match the library's
# build (ABI), hence pkg-config rather than a bare -ltorrent.
pkg_check_modules(libtorrent REQUIRED IMPORTED_TARGET libtorrent-rasterbar)
pkg_check_modules(ffmpeg REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswresample)

find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
