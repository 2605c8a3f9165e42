# crypto_limit: the one-core libsodium ceiling (XChaCha20-Poly1305 decrypt +
# BLAKE2b of each 64 KiB chunk) that stream_bench.sh sets the peer stream beside.
add_executable(crypto_limit ${CMAKE_CURRENT_LIST_DIR}/crypto_limit.cpp)
target_link_libraries(crypto_limit PRIVATE earshot_flags PkgConfig::sodium fmt::fmt)
