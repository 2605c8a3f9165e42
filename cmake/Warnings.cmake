# Project-wide compile flags, applied to our own targets via earshot_flags.
add_library(earshot_flags INTERFACE)
target_compile_options(earshot_flags INTERFACE -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
# GCC 12 at -O2/-O3 reports -Wrestrict on correct std::string code
# ("a" + s, s = "x"): a bug in how it sees inlined libstdc++ (GCC PR105329,
# fixed in GCC 13). It fires on nothing real, so it is off for GCC 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(earshot_flags INTERFACE -Wno-restrict)
endif()
if(EARSHOT_WERROR)
  target_compile_options(earshot_flags INTERFACE -Werror)
endif()
if(EARSHOT_SANITIZE)
  target_compile_options(earshot_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(earshot_flags INTERFACE -fsanitize=address,undefined)
endif()
# Asio's generic coroutine support and Beast live in headers; keep them off
# deprecated paths and let every target include files as "proto/...", "daemon/...".
target_compile_definitions(earshot_flags INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_include_directories(earshot_flags INTERFACE ${PROJECT_SOURCE_DIR})
target_link_libraries(earshot_flags INTERFACE Threads::Threads)
