# Links against misbehaving peers: a lying chunk server, a silent query peer.
earshot_test(test_peer_links SOURCES unit/test_peer_links.cpp LIBS earshot_daemon LABELS unit)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(test_peer_links PRIVATE -Wno-mismatched-new-delete)
endif()
# The swarm's source policy (which peer, which deadline, when to hedge): no sockets.
earshot_test(test_stream_sources SOURCES unit/test_stream_sources.cpp LIBS earshot_daemon LABELS unit)
