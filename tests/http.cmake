# The HTTP layer (earshot_http), its client (earshot_client) and the CLI.
earshot_test(test_http_parse SOURCES unit/test_http_parse.cpp
  LIBS earshot_http earshot_client LABELS unit)
earshot_test(test_http_server SOURCES unit/test_http_server.cpp
  LIBS earshot_http earshot_client earshot_resolver LABELS unit)
earshot_test(test_http_sites SOURCES unit/test_http_sites.cpp
  LIBS earshot_http earshot_client earshot_resolver LABELS unit)
earshot_test(test_http_routes SOURCES unit/test_http_routes.cpp
  LIBS earshot_http earshot_client earshot_resolver LABELS unit)
earshot_test(test_http_cli SOURCES unit/test_http_cli.cpp
  LIBS earshot_http earshot_client earshot_resolver LABELS unit)
# test_http_cli runs the `earshot` binary (found through $EARSHOT_CLI).
add_dependencies(test_http_cli earshot)
