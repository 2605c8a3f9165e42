# Finding peers: the Finder composite, LAN sightings, per-address backoff (no
# sockets or clocks), and PeerManagers on loopback finding an unaddressed peer.
earshot_test(test_finder SOURCES unit/test_finder.cpp LIBS earshot_peers LABELS unit TIMEOUT 120)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(test_finder PRIVATE -Wno-mismatched-new-delete) # GCC bug 109224, as in daemon/
endif()
