# End-to-end tests: real earshotd processes on loopback ports.
earshot_test(test_daemon SOURCES integration/test_daemon.cpp LABELS integration TIMEOUT 600)
earshot_test(test_daemon_lifecycle SOURCES integration/test_daemon_lifecycle.cpp LABELS integration TIMEOUT 900)
# mpv plays and seeks a stream; its own entry, so a machine without mpv
# shows it skipped (exit 77) rather than passed.
earshot_test(test_daemon_mpv SOURCES integration/test_daemon_mpv.cpp LABELS integration TIMEOUT 300)
set_tests_properties(test_daemon_mpv PROPERTIES SKIP_RETURN_CODE 77)
foreach(t test_daemon test_daemon_lifecycle test_daemon_mpv)
  add_dependencies(${t} earshotd earshot)
endforeach()
earshot_test(test_peers SOURCES integration/test_peers.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_peers earshotd earshot)
# A library on a FUSE mount whose reads of one file hang. Needs /dev/fuse,
# fuse3 and python3-fusepy (contrib/install-deps.sh); says SKIP otherwise.
earshot_test(test_hung_disk SOURCES integration/test_hung_disk.cpp LABELS integration TIMEOUT 300)
add_dependencies(test_hung_disk earshotd earshot)
target_compile_definitions(test_hung_disk PRIVATE EARSHOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_tests_properties(test_hung_disk PROPERTIES SKIP_RETURN_CODE 77)
