earshot_test(test_noise SOURCES unit/test_noise.cpp LIBS earshot_proto LABELS unit)
