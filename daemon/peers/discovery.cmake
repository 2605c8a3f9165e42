# LAN discovery: signed multicast announcements (proto/DISCOVERY.md; the
# datagram codec is in earshot_proto with the rest of the wire format).
add_library(earshot_discovery STATIC peers/discovery.cpp)
target_link_libraries(earshot_discovery PUBLIC earshot_peers earshot_flags earshot_proto spdlog::spdlog)
