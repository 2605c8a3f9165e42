// Request-target parsing: strict percent-decoding, path segments that can never
// name a parent directory, and query/form parameters. Pure functions, so the
// rules that keep traversal out are unit-tested directly.
#pragma once

#include "proto/percent.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace earshot::http {

using proto::percent_decode;
using proto::percent_encode;

// Query or form parameters in arrival order; lookups return the first match.
class Params {
public:
    // "a=1&b=x+y&c" -> {a:"1", b:"x y", c:""}; nullopt on a malformed escape.
    static std::optional<Params> parse(std::string_view query);

    const std::string* find(std::string_view name) const;
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
    void append(const Params& other) { items_.insert(items_.end(), other.items_.begin(), other.items_.end()); }
    const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

private:
    std::vector<std::pair<std::string, std::string>> items_;
};

struct Target {
    std::vector<std::string> segments; // decoded; "/api/v1/x" -> {"api","v1","x"}, "/api/" -> {"api",""}
    std::string query;                 // raw text after '?', still encoded
};

// Splits an origin-form target ("/path?query"). Refused: anything not starting
// with '/', malformed escapes, and any segment that is (or decodes to) "." or
// "..", or decodes to something containing '/', '\\' or NUL — so neither
// "/sid/../x" nor "/sid/%2e%2e%2fx" can ever reach a handler.
// Throws std::invalid_argument with a message fit for a 400 reply.
Target parse_target(std::string_view target);

// The target with the value of any `auth` parameter replaced by "***", for logs.
std::string redact_target(std::string_view target);

} // namespace earshot::http
