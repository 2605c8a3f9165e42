#include "tests/support/private_dht.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#ifndef EARSHOT_TEST_DHT
#error "EARSHOT_TEST_DHT (the path of earshot-test-dht) is set by tests/support/CMakeLists.txt"
#endif

namespace earshot::test {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

// The tool's "ready ..." line, once it is complete (newline and all).
std::optional<std::vector<std::string>> ready_line(const std::string& output) {
    for (std::size_t pos = 0; pos < output.size();) {
        const auto end = output.find('\n', pos);
        if (end == std::string::npos) break;
        const std::string_view line(output.data() + pos, end - pos);
        if (line.starts_with("ready ")) {
            auto words = split(line);
            words.erase(words.begin());
            return words;
        }
        pos = end + 1;
    }
    return std::nullopt;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error(std::string("private DHT packet log: not a hex digit: ") + c);
}

proto::Bytes from_hex(std::string_view hex) {
    if (hex.size() % 2) throw std::runtime_error("private DHT packet log: odd hex length");
    proto::Bytes out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::uint8_t>(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    return out;
}

// Complete lines of the packet log; the tool may be writing the last one.
std::vector<std::string> log_lines(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::vector<std::string> lines;
    for (std::size_t pos = 0;;) {
        const auto end = text.find('\n', pos);
        if (end == std::string::npos) break;
        lines.emplace_back(text, pos, end - pos);
        pos = end + 1;
    }
    return lines;
}

} // namespace

PrivateDht::PrivateDht(int nodes, std::chrono::seconds timeout)
    : dir_("earshot-dht"),
      process_(EARSHOT_TEST_DHT,
               {"--nodes", std::to_string(nodes), "--timeout", std::to_string(timeout.count()), "--log-packets",
                (dir_ / "packets.log").string()},
               dir_ / "tool.log") {
    const auto started = Clock::now();
    // The tool enforces `timeout` itself; the margin covers its start and exit.
    const auto deadline = started + timeout + std::chrono::seconds(5);
    for (;;) {
        if (auto words = ready_line(process_.log_text())) {
            nodes_ = std::move(*words);
            break;
        }
        if (!process_.running() || Clock::now() > deadline)
            throw std::runtime_error("earshot-test-dht did not get ready; its output:\n" + process_.log_text());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    time_to_ready_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    if (nodes_.size() != static_cast<std::size_t>(nodes))
        throw std::runtime_error("earshot-test-dht: ready with " + std::to_string(nodes_.size()) + " nodes, not " +
                                 std::to_string(nodes));
}

std::string PrivateDht::bootstrap(std::size_t count, std::size_t first) const {
    std::string s;
    for (std::size_t i = first; i < std::min(first + count, nodes_.size()); ++i) s += (s.empty() ? "" : ",") + nodes_[i];
    return s;
}

std::vector<PrivateDht::Packet> PrivateDht::packets() const {
    std::vector<Packet> out;
    for (const auto& line : log_lines(dir_ / "packets.log")) {
        const auto words = split(line);
        if (words.size() == 4 && words[0] == "in") out.push_back(Packet{words[1], words[2], from_hex(words[3])});
    }
    return out;
}

bool PrivateDht::received(proto::ByteView needle) const {
    const auto all = packets();
    return std::any_of(all.begin(), all.end(), [&](const Packet& p) {
        return std::search(p.bytes.begin(), p.bytes.end(), needle.begin(), needle.end()) != p.bytes.end();
    });
}

std::size_t PrivateDht::dropped() const {
    std::size_t n = 0;
    for (const auto& line : log_lines(dir_ / "packets.log")) {
        const auto words = split(line);
        if (!words.empty() && words[0] == "dropped") ++n;
    }
    return n;
}

} // namespace earshot::test
