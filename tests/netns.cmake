# Daemons in separate network namespaces over a delayed, lossy link (needs
# root, CAP_NET_ADMIN and `ip`; elsewhere it exits 77, which CTest reports
# as skipped, not passed).
earshot_test(test_netns SOURCES integration/test_netns.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_netns earshotd earshot)
set_tests_properties(test_netns PROPERTIES SKIP_RETURN_CODE 77)
