# The daemon's small shared pieces: the blocking-work pool.
earshot_test(test_blocking SOURCES unit/test_blocking.cpp LIBS earshot_core LABELS unit)
