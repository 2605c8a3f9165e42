// earshotd's settings, declared once. Each row of settings() gives a
// setting's flag, TOML key, the name of its value, default and meaning, and the
// Config field it sets; from the table come the command-line options, the
// reading of the --config file, the reference table in README.md
// (`earshotd --print-settings-markdown`, checked by test_config) and the
// effective configuration as TOML (`earshotd --print-config`). A new setting
// is one row plus its Config field.
#pragma once

#include "daemon/config.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace earshot::daemon {

// A switch: giving the flag stores `flag_sets` (--no-watch stores false in
// `watch`, whose TOML key is `watch`; --oneshot stores true).
struct Switch {
    bool Config::*member;
    bool flag_sets;
};

// The Config field a row reads and writes.
using Binding = std::variant<std::string Config::*, std::filesystem::path Config::*, std::vector<std::string> Config::*,
                             std::uint64_t Config::*, std::uint16_t Config::*, unsigned Config::*, Switch>;

struct Setting {
    std::string_view flag;         // "--cache-size"
    std::string_view key;          // TOML key; empty: command line only
    std::string_view value_name;   // what the flag takes, shown after it ("MIB"); empty for a switch
    std::string_view default_text; // README's default column (markdown); empty: the default Config's value
    std::string_view meaning;      // help text and README (markdown)
    Binding bind;
    std::span<const std::string_view> choices{}; // the values allowed, if only some are
    // Integers: the values allowed, on the command line and in the file.
    std::uint64_t min = 0;
    std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
};

std::span<const Setting> settings();

// What a setting's default is, in markdown: its default_text, or else the
// default Config's value ("off" for a switch).
std::string default_text(const Setting&);

// The reference table in README.md, between <!-- settings:begin --> and
// <!-- settings:end -->.
std::string settings_markdown();

// `c` as a TOML file that --config reads back to the same settings (every
// row with a TOML key, in table order).
std::string config_toml(const Config& c);

// Applies a TOML document to `c`, except the settings for which `skip` says
// yes (their flag was given: flags win). Throws std::invalid_argument
// naming `source`, the line and the key, for a syntax error, an unknown
// key, or a value of the wrong type or out of range.
void apply_toml(std::string_view document, const std::string& source, Config& c,
                const std::function<bool(const Setting&)>& skip);

} // namespace earshot::daemon
