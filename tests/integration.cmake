# End-to-end tests: real earshotd processes on loopback ports.
earshot_test(test_daemon SOURCES integration/test_daemon.cpp LABELS integration TIMEOUT 600)
earshot_test(test_daemon_lifecycle SOURCES integration/test_daemon_lifecycle.cpp LABELS integration TIMEOUT 900)
foreach(t test_daemon test_daemon_lifecycle)
  add_dependencies(${t} earshotd earshot)
endforeach()
earshot_test(test_peers SOURCES integration/test_peers.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_peers earshotd earshot)
