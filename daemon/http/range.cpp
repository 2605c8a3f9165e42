#include "daemon/http/range.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace earshot::http {
namespace {

constexpr std::size_t max_ranges = 32;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Digits only (from_chars would also take a leading '-'); nullopt on overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

} // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    const RangeRequest whole{};
    header = trim(header);
    const auto eq = header.find('=');
    if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return whole;

    std::string_view specs = header.substr(eq + 1);
    std::optional<ByteRange> span; // union of the satisfiable ranges
    std::size_t count = 0;
    while (true) {
        const auto comma = specs.find(',');
        const auto spec = trim(specs.substr(0, comma));
        if (!spec.empty()) { // RFC 9110 allows empty list elements
            if (++count > max_ranges) return whole;
            const auto dash = spec.find('-');
            if (dash == std::string_view::npos) return whole;
            const auto first_text = trim(spec.substr(0, dash));
            const auto last_text = trim(spec.substr(dash + 1));
            std::optional<ByteRange> r;
            if (first_text.empty()) { // suffix: the last n bytes
                const auto n = parse_u64(last_text);
                if (!n) return whole;
                if (*n > 0 && size > 0) r = ByteRange{size - std::min(*n, size), size - 1};
            } else {
                const auto first = parse_u64(first_text);
                if (!first) return whole;
                std::uint64_t last = UINT64_MAX;
                if (!last_text.empty()) {
                    const auto l = parse_u64(last_text);
                    if (!l || *l < *first) return whole; // invalid range-spec: ignore the header
                    last = *l;
                }
                if (*first < size) r = ByteRange{*first, std::min(last, size - 1)};
            }
            if (r) {
                if (span) span = ByteRange{std::min(span->first, r->first), std::max(span->last, r->last)};
                else span = r;
            }
        }
        if (comma == std::string_view::npos) break;
        specs.remove_prefix(comma + 1);
    }
    if (count == 0) return whole; // "bytes=" names no range at all
    if (!span) return RangeRequest{RangeRequest::Kind::unsatisfiable, {}};
    return RangeRequest{RangeRequest::Kind::partial, *span};
}

} // namespace earshot::http
