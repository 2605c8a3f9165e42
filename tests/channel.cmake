earshot_test(test_channel SOURCES unit/test_channel.cpp LIBS earshot_peers LABELS unit)
# GCC 12 misreports Asio's coroutine-frame operator new/delete pair as
# mismatched once it inlines the test's nested coroutines (GCC bug 109224);
# a false positive, as in daemon/http.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(test_channel PRIVATE -Wno-mismatched-new-delete)
endif()
