earshot_test(test_peer_messages SOURCES unit/test_peer_messages.cpp LIBS earshot_proto LABELS unit)
# The test checks that the byte examples in the spec are what the code emits.
target_compile_definitions(test_peer_messages PRIVATE
  EARSHOT_PEER_PROTOCOL_MD="${PROJECT_SOURCE_DIR}/proto/PEER_PROTOCOL.md")
