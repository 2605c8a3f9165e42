earshot_test(test_proto_bytes SOURCES unit/test_proto_bytes.cpp LIBS earshot_proto LABELS unit)
earshot_test(test_content_id SOURCES unit/test_content_id.cpp LIBS earshot_proto LABELS unit)
# DHT presence records (proto/presence.hpp), against the vectors of
# proto/DHT.md, read from the source tree so the spec cannot drift; and the
# same vectors from the independent Python reference, which exits 77
# (skipped) where PyNaCl is missing (contrib/install-deps.sh: python3-nacl).
earshot_test(test_presence SOURCES unit/test_presence.cpp LIBS earshot_proto LABELS unit)
target_compile_definitions(test_presence PRIVATE EARSHOT_DHT_MD="${PROJECT_SOURCE_DIR}/proto/DHT.md")
add_test(NAME presence_reference
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/proto/tools/presence_reference.py --check ${PROJECT_SOURCE_DIR}/proto/DHT.md)
set_tests_properties(presence_reference PROPERTIES LABELS unit TIMEOUT 60 SKIP_RETURN_CODE 77)
