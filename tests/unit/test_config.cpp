// earshotd's settings (daemon/settings.cpp, daemon/config.cpp): flags, the
// TOML file, flags winning over it, errors that name the line and key, the
// effective config read back, contrib/earshot.toml, and the reference
// table in README.md, which must be what --print-settings-markdown prints
// (so the README cannot drift from the flags).
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include "daemon/config.hpp"
#include "daemon/settings.hpp"
#include "tests/support/temp_dir.hpp"

#include <fstream>
#include <sstream>

using namespace earshot;
namespace fs = std::filesystem;

namespace {

struct Parsed {
    std::optional<daemon::Config> config;
    int exit_code = -1;
    std::string out, err;
};

Parsed parse(std::vector<std::string> args) {
    Parsed p;
    std::ostringstream out, err;
    p.config = daemon::parse_config(args, p.exit_code, out, err);
    p.out = out.str();
    p.err = err.str();
    return p;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    BOOST_TEST_REQUIRE(static_cast<bool>(in), "cannot read " << p);
    return {std::istreambuf_iterator<char>(in), {}};
}

fs::path write_file(const fs::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

} // namespace

BOOST_AUTO_TEST_CASE(defaults_and_flags) {
    const auto d = parse({"--name", "desk"});
    BOOST_TEST_REQUIRE(d.config.has_value());
    BOOST_TEST(d.config->http == "127.0.0.1:60210");
    BOOST_TEST(d.config->listen == "0.0.0.0:60211");
    BOOST_TEST(d.config->cache_mb == 2048u);
    BOOST_TEST(d.config->discovery);
    BOOST_TEST(d.config->discovery_port == 60212);
    BOOST_TEST(d.config->log_level == "info");
    BOOST_TEST(d.config->fingerprints);
    BOOST_TEST(d.config->watch);
    BOOST_TEST(!d.config->oneshot);
    BOOST_TEST(!d.config->data_dir.empty(), "a default data folder");

    const auto f = parse({"--library", "/srv/music/", "--library", "/srv/more", "--data", "/tmp/d", "--http",
                          "127.0.0.1:1", "--listen", "127.0.0.1:2", "--cache-size", "64", "--no-discovery",
                          "--discovery-port", "7000", "--name", "den", "--log-level", "debug", "--token", "t0k",
                          "--threads", "3", "--no-fingerprints", "--no-watch", "--oneshot"});
    BOOST_TEST_REQUIRE(f.config.has_value(), f.err);
    const auto& c = *f.config;
    BOOST_TEST((c.libraries == std::vector<std::string>{"/srv/music", "/srv/more"}));
    BOOST_TEST(c.data_dir == fs::path("/tmp/d"));
    BOOST_TEST(c.http == "127.0.0.1:1");
    BOOST_TEST(c.listen == "127.0.0.1:2");
    BOOST_TEST(c.cache_mb == 64u);
    BOOST_TEST(!c.discovery);
    BOOST_TEST(c.discovery_port == 7000);
    BOOST_TEST(c.name == "den");
    BOOST_TEST(c.log_level == "debug");
    BOOST_TEST(c.token == "t0k");
    BOOST_TEST(c.threads == 3u);
    BOOST_TEST(!c.fingerprints);
    BOOST_TEST(!c.watch);
    BOOST_TEST(c.oneshot);

    const auto bad = parse({"--log-level", "loud"});
    BOOST_TEST(!bad.config.has_value());
    BOOST_TEST(bad.exit_code != 0);
    BOOST_TEST(parse({"--discovery-port", "0"}).exit_code != 0);
    BOOST_TEST(parse({"--no-such-flag"}).exit_code != 0);

    const auto version = parse({"--version"});
    BOOST_TEST(!version.config.has_value());
    BOOST_TEST(version.exit_code == 0);
    BOOST_TEST(version.out.find("earshotd ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_values_and_flags_win) {
    test::TempDir tmp{"earshot-config"};
    const auto file = write_file(tmp / "earshot.toml", "library = [\"/srv/a\", \"/srv/b\"]\n"
                                                       "data = \"/tmp/data\"\n"
                                                       "name = \"from-file\"\n"
                                                       "cache-size = 100\n"
                                                       "discovery = false\n"
                                                       "discovery-port = 6000\n"
                                                       "log-level = \"warn\"\n"
                                                       "threads = 2\n"
                                                       "fingerprints = false\n"
                                                       "watch = false\n"
                                                       "token = \"secret\"\n");
    const auto a = parse({"--config", file.string()});
    BOOST_TEST_REQUIRE(a.config.has_value(), a.err);
    BOOST_TEST((a.config->libraries == std::vector<std::string>{"/srv/a", "/srv/b"}));
    BOOST_TEST(a.config->data_dir == fs::path("/tmp/data"));
    BOOST_TEST(a.config->name == "from-file");
    BOOST_TEST(a.config->cache_mb == 100u);
    BOOST_TEST(!a.config->discovery);
    BOOST_TEST(a.config->discovery_port == 6000);
    BOOST_TEST(a.config->log_level == "warn");
    BOOST_TEST(a.config->threads == 2u);
    BOOST_TEST(!a.config->fingerprints);
    BOOST_TEST(!a.config->watch);
    BOOST_TEST(a.config->token == "secret");
    BOOST_TEST(a.config->config_file == file);

    const auto b = parse({"--config", file.string(), "--name", "from-flag", "--library", "/srv/c", "--cache-size",
                          "300", "--log-level", "error"});
    BOOST_TEST_REQUIRE(b.config.has_value(), b.err);
    BOOST_TEST(b.config->name == "from-flag");
    BOOST_TEST((b.config->libraries == std::vector<std::string>{"/srv/c"}), "a flag replaces the file's list");
    BOOST_TEST(b.config->cache_mb == 300u);
    BOOST_TEST(b.config->log_level == "error");
    BOOST_TEST(b.config->threads == 2u, "what no flag set still comes from the file");

    // One folder may be a plain string.
    const auto one = write_file(tmp / "one.toml", "library = \"/srv/only\"\n");
    const auto c = parse({"--config", one.string()});
    BOOST_TEST_REQUIRE(c.config.has_value(), c.err);
    BOOST_TEST((c.config->libraries == std::vector<std::string>{"/srv/only"}));
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_file_line_and_key) {
    test::TempDir tmp{"earshot-config"};
    const auto check = [&](std::string_view name, std::string_view text, std::vector<std::string> wanted) {
        const auto file = write_file(tmp / name, text);
        const auto p = parse({"--config", file.string()});
        BOOST_TEST(!p.config.has_value(), name);
        BOOST_TEST(p.exit_code != 0, name);
        for (const auto& w : wanted)
            BOOST_TEST(p.err.find(w) != std::string::npos, name << ": '" << w << "' in " << p.err);
    };
    check("syntax.toml", "name = \"ok\"\nlibrary = [\n", {"syntax.toml", "line 2"});
    check("unknown.toml", "name = \"ok\"\n\nlibary = [\"/srv/music\"]\n", {"unknown.toml", "line 3", "'libary'"});
    check("section.toml", "name = \"ok\"\n[peers]\nx = 1\n", {"line 2", "'peers'"});
    check("type.toml", "name = \"ok\"\ncache-size = \"big\"\n", {"line 2", "cache-size", "integer"});
    check("range.toml", "discovery-port = 70000\n", {"line 1", "discovery-port", "out of range"});
    check("negative.toml", "\nthreads = -1\n", {"line 2", "threads"});
    check("choice.toml", "log-level = \"loud\"\n", {"line 1", "log-level", "loud"});
    check("bool.toml", "watch = \"no\"\n", {"line 1", "watch"});
    check("flag-only.toml", "oneshot = true\n", {"line 1", "'oneshot'"});
    // An unknown key is an error even when a flag overrides the rest.
    const auto file = write_file(tmp / "typo.toml", "nmae = \"x\"\n");
    BOOST_TEST(!parse({"--config", file.string(), "--name", "y"}).config.has_value());
    BOOST_TEST(parse({"--config", (tmp / "absent.toml").string()}).exit_code != 0);
}

BOOST_AUTO_TEST_CASE(print_config_reads_back_to_the_same_settings) {
    test::TempDir tmp{"earshot-config"};
    const auto printed = parse({"--print-config", "--library", "/srv/a \"quoted\"", "--name", "tab\there",
                                "--no-watch", "--threads", "5", "--token", "back\\slash", "--data", "/tmp/x"});
    BOOST_TEST_REQUIRE(!printed.config.has_value());
    BOOST_TEST(printed.exit_code == 0);
    BOOST_TEST(printed.out.find("watch = false\n") != std::string::npos, printed.out);
    const auto file = write_file(tmp / "printed.toml", printed.out);
    const auto back = parse({"--config", file.string()});
    BOOST_TEST_REQUIRE(back.config.has_value(), back.err << "\n" << printed.out);
    BOOST_TEST((back.config->libraries == std::vector<std::string>{"/srv/a \"quoted\""}));
    BOOST_TEST(back.config->name == "tab\there");
    BOOST_TEST(!back.config->watch);
    BOOST_TEST(back.config->fingerprints);
    BOOST_TEST(back.config->threads == 5u);
    BOOST_TEST(back.config->token == "back\\slash");
    BOOST_TEST(back.config->data_dir == fs::path("/tmp/x"));
    // Printing what was read back gives the same file.
    const auto again = parse({"--config", file.string(), "--print-config"});
    BOOST_TEST(again.out == printed.out);
}

BOOST_AUTO_TEST_CASE(contrib_example_parses) {
    const auto p = parse({"--config", EARSHOT_SOURCE_DIR "/contrib/earshot.toml"});
    BOOST_TEST_REQUIRE(p.config.has_value(), p.err);
    BOOST_TEST((p.config->libraries == std::vector<std::string>{"/srv/music", "/srv/more-music"}));
    BOOST_TEST(p.config->name == "home-server");
    BOOST_TEST(p.config->data_dir == fs::path("/var/lib/earshot"));
}

BOOST_AUTO_TEST_CASE(readme_table_is_what_print_settings_markdown_prints) {
    const auto readme = read_file(EARSHOT_SOURCE_DIR "/README.md");
    const std::string begin = "<!-- settings:begin -->\n", end = "<!-- settings:end -->";
    const auto b = readme.find(begin);
    const auto e = readme.find(end);
    BOOST_TEST_REQUIRE(b != std::string::npos);
    BOOST_TEST_REQUIRE(e != std::string::npos);
    BOOST_TEST_REQUIRE(b < e);
    const auto table = readme.substr(b + begin.size(), e - b - begin.size());
    const auto printed = parse({"--print-settings-markdown"});
    BOOST_TEST(printed.exit_code == 0);
    BOOST_TEST(table == printed.out, "README.md's settings table differs from `earshotd --print-settings-markdown`; "
                                     "paste its output between the markers");
    BOOST_TEST(printed.out == daemon::settings_markdown());
    // Every TOML key and flag is listed once.
    for (const auto& s : daemon::settings()) {
        BOOST_TEST(printed.out.find("`" + std::string(s.flag)) != std::string::npos, s.flag);
        if (!s.key.empty()) BOOST_TEST(printed.out.find("`" + std::string(s.key) + "`") != std::string::npos, s.key);
    }
}
