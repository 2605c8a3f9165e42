earshot_test(test_proto_bytes SOURCES unit/test_proto_bytes.cpp LIBS earshot_proto LABELS unit)
earshot_test(test_content_id SOURCES unit/test_content_id.cpp LIBS earshot_proto LABELS unit)
