# Verified fetching from several peers, one of them lying.
earshot_test(test_swarm SOURCES unit/test_swarm.cpp LIBS earshot_daemon LABELS unit)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(test_swarm PRIVATE -Wno-mismatched-new-delete)
endif()
