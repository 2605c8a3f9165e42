# Daemons in separate network namespaces over a delayed, lossy link (needs
# root, CAP_NET_ADMIN and `ip`; elsewhere it exits 77, which CTest reports
# as skipped, not passed).
earshot_test(test_netns SOURCES integration/test_netns.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_netns earshotd earshot)
set_tests_properties(test_netns PROPERTIES SKIP_RETURN_CODE 77)

# Home behind a masquerading router with miniupnpd, a laptop on the WAN and a
# private DHT there (tests/support/nat.hpp): the "mapped port" rung of the
# NAT ladder. Needs root, ip, nft and miniupnpd (contrib/install-deps.sh);
# exits 77 (skipped) without them.
earshot_test(test_nat SOURCES integration/test_nat.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_nat earshotd earshot earshot-test-dht)
set_tests_properties(test_nat PROPERTIES SKIP_RETURN_CODE 77)
