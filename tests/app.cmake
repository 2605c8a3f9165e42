# The daemon's services in-process, and the whole daemon (two Apps) in one process.
earshot_test(test_app SOURCES unit/test_app.cpp LIBS earshot_daemon LABELS unit TIMEOUT 300)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(test_app PRIVATE -Wno-mismatched-new-delete) # GCC bug 109224, as in daemon/
endif()
add_dependencies(test_app earshot) # runs the CLI against the in-process daemon
