// Who may talk to the API: token checks and the Host-header check that keeps
// DNS-rebinding pages off a loopback-only daemon.
#pragma once

#include <optional>
#include <string_view>

namespace earshot::http {

// Constant-time comparison: both sides are hashed to a fixed length first, so
// neither the contents nor the length of the secret leak through timing.
bool token_equals(std::string_view given, std::string_view expected);

// The credentials of "Authorization: Bearer <token>" (scheme case-insensitive).
std::optional<std::string_view> bearer_token(std::string_view authorization);

// The host part of a Host header ("[::1]:60210" -> "::1", "a.b:80" -> "a.b"),
// nullopt if it contains characters no host name or address literal has.
std::optional<std::string_view> host_of(std::string_view host_header);

// True when a Host header can only have come from a client that meant this
// machine: an IP address literal, "localhost" (and *.localhost), or this
// machine's own host name. A DNS-rebinding page always sends its own domain.
bool host_is_local(std::string_view host_header, std::string_view machine_hostname);

} // namespace earshot::http
