earshot_test(test_store SOURCES unit/test_store.cpp LIBS earshot_index LABELS unit)
earshot_test(test_scanner SOURCES unit/test_scanner.cpp LIBS earshot_index LABELS unit TIMEOUT 600)
