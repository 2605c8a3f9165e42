# Daemons in separate network namespaces over a delayed, lossy link (needs
# root and `ip netns`; the test skips itself elsewhere).
earshot_test(test_netns SOURCES integration/test_netns.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_netns earshotd earshot)
