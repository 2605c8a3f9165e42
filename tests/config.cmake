# earshotd's settings: flags, the TOML file, errors, --print-config, and the
# README's settings table against --print-settings-markdown (read from the
# source tree, so the README cannot drift from the flags).
earshot_test(test_config SOURCES unit/test_config.cpp LIBS earshot_config LABELS unit)
target_compile_definitions(test_config PRIVATE EARSHOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
