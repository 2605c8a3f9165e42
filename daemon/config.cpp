#include "daemon/config.hpp"

#include "daemon/core/version.hpp"
#include "daemon/settings.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace earshot::daemon {

std::filesystem::path default_data_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "earshot";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".local" / "share" / "earshot";
    return std::filesystem::current_path() / ".earshot";
}

namespace {

std::string host_name() {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "earshot";
    return buf.data();
}

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

// The help line: the README's meaning and default without markdown.
std::string help_of(const Setting& s) {
    std::string help(s.meaning);
    if (!std::holds_alternative<Switch>(s.bind)) help.append(" (default: ").append(default_text(s)).append(")");
    std::erase(help, '`');
    return help;
}

// One command-line option per row of the settings table.
void add_options(CLI::App& app, Config& c) {
    for (const auto& s : settings()) {
        const std::string flag(s.flag);
        const auto help = help_of(s);
        std::visit(Overload{
                       [&](Switch sw) {
                           app.add_flag_callback(flag, [&c, sw] { c.*(sw.member) = sw.flag_sets; }, help);
                       },
                       [&](auto m) {
                           auto* opt = app.add_option(flag, c.*m, help);
                           if (!s.value_name.empty()) opt->type_name(std::string(s.value_name));
                           using T = std::remove_reference_t<decltype(c.*m)>;
                           if (!s.choices.empty())
                               opt->check(CLI::IsMember(std::vector<std::string>(s.choices.begin(), s.choices.end())));
                           if constexpr (std::is_integral_v<T>)
                               if (s.min != 0 || s.max != std::numeric_limits<T>::max())
                                   opt->check(CLI::Range(static_cast<T>(s.min), static_cast<T>(s.max)));
                       },
                   },
                   s.bind);
    }
}

// Applies the --config file to whatever the command line left unset.
void apply_file(const std::filesystem::path& file, Config& c, const CLI::App& app) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CLI::ValidationError("--config", file.string() + ": cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        apply_toml(text.str(), file.string(), c, [&](const Setting& s) { return app.count(std::string(s.flag)) > 0; });
    } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--config", e.what());
    }
}

} // namespace

std::optional<Config> parse_config(std::span<const std::string> args, int& exit_code, std::ostream& out,
                                   std::ostream& err) {
    Config c;
    bool print_config = false, print_markdown = false;
    CLI::App app{"earshotd — indexes your music, resolves \"who can play this track?\", and streams it", "earshotd"};
    add_options(app, c);
    app.add_flag("--print-config", print_config, "Print the effective settings as TOML (for --config) and exit");
    app.add_flag("--print-settings-markdown", print_markdown, "Print the settings reference (README.md) and exit");
    app.set_version_flag("--version", "earshotd " + std::string(core::version));
    try {
        // CLI11 reads a vector of arguments last to first.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        app.parse(reversed);
        if (!c.config_file.empty()) apply_file(c.config_file, c, app);
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e, out, err);
        return std::nullopt;
    }
    if (print_markdown) {
        out << settings_markdown();
        exit_code = 0;
        return std::nullopt;
    }
    if (c.data_dir.empty()) c.data_dir = default_data_dir();
    if (c.name.empty()) c.name = host_name();
    for (auto& lib : c.libraries) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(lib, ec);
        lib = (ec ? std::filesystem::path(lib) : abs.lexically_normal()).string();
        while (lib.size() > 1 && lib.back() == '/') lib.pop_back();
    }
    if (print_config) {
        out << config_toml(c);
        exit_code = 0;
        return std::nullopt;
    }
    return c;
}

std::optional<Config> parse_config(int argc, char** argv, int& exit_code) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    return parse_config(args, exit_code, std::cout, std::cerr);
}

} // namespace earshot::daemon
