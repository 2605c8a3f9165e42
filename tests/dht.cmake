# The private DHT of tests (earshot-test-dht, test::PrivateDht) and what the
# daemon's DHT presence relies on from libtorrent: a proto::presence item put
# and got through 20 local nodes, and what those nodes see of it.
earshot_test(test_private_dht SOURCES unit/test_private_dht.cpp LIBS earshot_proto PkgConfig::libtorrent
  LABELS integration TIMEOUT 60)
add_dependencies(test_private_dht earshot-test-dht)
# Daemons paired by id alone, through a private DHT: find, link, resolve,
# stream; a restart on another port; a stranger; what the DHT nodes saw.
earshot_test(test_dht SOURCES integration/test_dht.cpp LABELS integration TIMEOUT 600)
add_dependencies(test_dht earshotd earshot earshot-test-dht)
# dht::Presence's schedule with the clock stepped by hand, against a private
# DHT: first put, halfway refresh (same bytes), next epoch, unpairing.
earshot_test(test_dht_presence SOURCES unit/test_dht_presence.cpp LIBS earshot_dht LABELS integration TIMEOUT 120)
add_dependencies(test_dht_presence earshot-test-dht)
