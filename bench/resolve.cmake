# resolve_bench: catalogue build time, memory per entry and query latency at
# 10k and 100k entries, against a scan-every-entry baseline.
add_executable(resolve_bench ${CMAKE_CURRENT_LIST_DIR}/resolve_bench.cpp)
target_link_libraries(resolve_bench PRIVATE earshot_flags earshot_resolver)
