#include "daemon/http/auth.hpp"

#include "proto/asio.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <array>

namespace earshot::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool iends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

std::array<unsigned char, crypto_generichash_BYTES> digest(std::string_view s) {
    std::array<unsigned char, crypto_generichash_BYTES> out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(), nullptr, 0);
    return out;
}

} // namespace

bool token_equals(std::string_view given, std::string_view expected) {
    if (expected.empty()) return false; // an unset token never matches
    const auto a = digest(given), b = digest(expected);
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() || !iequals(authorization.substr(0, scheme.size()), scheme))
        return std::nullopt;
    auto token = authorization.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) return std::nullopt;
    return token;
}

std::optional<std::string_view> host_of(std::string_view host_header) {
    const bool valid = std::all_of(host_header.begin(), host_header.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_' || c == ':' || c == '[' || c == ']';
    });
    if (!valid) return std::nullopt;
    if (host_header.starts_with('[')) {
        const auto close = host_header.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto rest = host_header.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
        return host_header.substr(1, close - 1);
    }
    const auto colon = host_header.find(':');
    if (colon != std::string_view::npos && host_header.find(':', colon + 1) != std::string_view::npos)
        return std::nullopt; // an unbracketed IPv6 literal is not a valid Host
    return host_header.substr(0, colon);
}

bool host_is_local(std::string_view host_header, std::string_view machine_hostname) {
    if (host_header.empty()) return true; // HTTP/1.0 clients may send none
    const auto host = host_of(host_header);
    if (!host || host->empty()) return false;
    boost::system::error_code ec;
    asio::ip::make_address(std::string(*host), ec);
    if (!ec) return true;
    if (iequals(*host, "localhost") || iends_with(*host, ".localhost")) return true;
    return !machine_hostname.empty() && iequals(*host, machine_hostname);
}

} // namespace earshot::http
