# LAN discovery: the announcement codec (against the example in
# proto/DISCOVERY.md, read from the source tree so the spec cannot drift) and
# live discovery between daemons' LanDiscovery instances on 127.0.0.1.
earshot_test(test_announce SOURCES unit/test_announce.cpp LIBS earshot_discovery LABELS unit)
target_compile_definitions(test_announce PRIVATE EARSHOT_DISCOVERY_MD="${PROJECT_SOURCE_DIR}/proto/DISCOVERY.md")
earshot_test(test_discovery SOURCES unit/test_discovery.cpp LIBS earshot_discovery LABELS unit TIMEOUT 60)
