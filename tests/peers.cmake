earshot_test(test_identity SOURCES unit/test_identity.cpp LIBS earshot_peers LABELS unit)
