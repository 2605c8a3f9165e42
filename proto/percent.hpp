// Percent-encoding (RFC 3986), one implementation for the HTTP API's server
// and its clients, so what one side encodes the other decodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace earshot::proto {

// Decodes %XX escapes; nullopt for a '%' not followed by two hex digits.
// With `plus_is_space` (query strings, form bodies) '+' decodes to ' '.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

// Encodes everything except RFC 3986 unreserved characters.
std::string percent_encode(std::string_view in);

} // namespace earshot::proto
