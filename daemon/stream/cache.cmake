# The on-disk cache of verified remote chunks, with pins.
add_library(earshot_chunk_cache STATIC stream/chunk_cache.cpp)
target_link_libraries(earshot_chunk_cache PUBLIC earshot_flags earshot_core earshot_proto nlohmann_json::nlohmann_json
  spdlog::spdlog)
