#include "daemon/http/url.hpp"

#include <stdexcept>

namespace earshot::http {
std::optional<Params> Params::parse(std::string_view query) {
    Params params;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue; // "a=1&&b=2"
        const auto eq = pair.find('=');
        auto name = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!name || !value) return std::nullopt;
        params.add(std::move(*name), std::move(*value));
    }
    return params;
}

const std::string* Params::find(std::string_view name) const {
    for (const auto& [key, value] : items_)
        if (key == name) return &value;
    return nullptr;
}

Target parse_target(std::string_view target) {
    if (target.empty() || target.front() != '/')
        throw std::invalid_argument("request target must be an absolute path starting with '/'");
    Target out;
    const auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
    // A fragment never belongs in a request; refuse rather than guess.
    if (path.find('#') != std::string_view::npos) throw std::invalid_argument("request target must not contain '#'");

    path.remove_prefix(1);
    for (;;) {
        const auto slash = path.find('/');
        const auto raw = path.substr(0, slash);
        auto segment = percent_decode(raw, false);
        if (!segment) throw std::invalid_argument("malformed percent-encoding in the request path");
        if (*segment == "." || *segment == "..")
            throw std::invalid_argument("'.' and '..' are not allowed in request paths");
        if (segment->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
            throw std::invalid_argument("encoded '/', '\\' or NUL is not allowed in request paths");
        out.segments.push_back(std::move(*segment));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

std::string redact_target(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    std::string out(target.substr(0, q + 1));
    std::string_view query = target.substr(q + 1);
    bool first = true;
    while (!query.empty() || first) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        if (!first) out.push_back('&');
        first = false;
        if (pair.starts_with("auth=")) out += "auth=***";
        else out += pair;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

} // namespace earshot::http
