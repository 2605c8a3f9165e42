# The on-disk chunk cache: round trips, LRU eviction, pins, reopening, rot.
earshot_test(test_chunk_cache SOURCES unit/test_chunk_cache.cpp LIBS earshot_chunk_cache LABELS unit)
