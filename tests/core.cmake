# The daemon's small shared pieces: the blocking-work pool.
earshot_test(test_blocking SOURCES unit/test_blocking.cpp LIBS earshot_core LABELS unit)
# The daemon's event channel (GET /api/v1/events reads it).
earshot_test(test_event_bus SOURCES unit/test_event_bus.cpp LIBS earshot_core LABELS unit)
# Files the io thread keeps up to date through the pool (sites.json, peers.json).
earshot_test(test_saved_file SOURCES unit/test_saved_file.cpp LIBS earshot_core LABELS unit)
