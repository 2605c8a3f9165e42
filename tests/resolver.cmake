# The resolver: normalisation and scoring tables, the catalogue index, the query pipeline.
earshot_test(test_normalise SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_normalise.cpp LIBS earshot_resolver LABELS unit)
earshot_test(test_score SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_score.cpp LIBS earshot_resolver LABELS unit)
earshot_test(test_catalogue SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_catalogue.cpp LIBS earshot_resolver LABELS unit)
earshot_test(test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_pipeline.cpp LIBS earshot_resolver LABELS unit)
