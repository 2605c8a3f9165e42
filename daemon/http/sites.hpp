// Web pages are strangers. A browser lets any page send requests to
// 127.0.0.1, so a request that a browser sent on behalf of another site must
// not learn anything until the user approved that site, as Playdar did:
// /auth_1/ asks the user, /auth_2/ issues a token bound to the site's origin.
// This file holds the pieces that decide: who sent a request (from the headers
// browsers add), the approved sites with their tokens (DATA/sites.json, 0600),
// and the one-time nonces of approval pages waiting for the user.
//
// Threading: used on the server's io thread only, like the rest of earshot_http
// (sites.json is written on the blocking pool).
#pragma once

#include "daemon/core/saved_file.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::http {

// "scheme://host[:port]", lower-cased, default ports (http 80, https 443)
// dropped, anything after the authority cut off ("HTTP://A.example:80/x?y" ->
// "http://a.example"). nullopt for what no browser sends as an origin: no
// scheme, user info, an empty host, a bad port, and the opaque origin "null".
std::optional<std::string> normalise_origin(std::string_view text);

// Who sent a request, as far as its headers tell.
enum class Caller {
    program,     // no browser headers: the CLI, curl, a player (trusted as the user)
    same_origin, // the daemon's own pages, or the user typing a URL (Sec-Fetch-Site: none)
    cross_site,  // a page on another origin: a stranger until approved
};

struct CallerInfo {
    Caller kind = Caller::program;
    // For cross_site: the site's origin from Origin, else from Referer; empty
    // when the request does not say (an opaque origin, a page sending no referrer).
    std::string origin;
};

// Any one sign of another origin makes a request cross-site: an Origin that
// is not "http://" + Host, "Sec-Fetch-Site: cross-site" or "same-site" (another
// port of localhost is another origin), or a Referer from another origin.
// Chromium sends Origin for fetch; for a JSONP <script> and an <audio> it
// sends no Origin but Sec-Fetch-Site and (by default) the page's origin as Referer.
CallerInfo classify_caller(std::optional<std::string_view> origin, std::optional<std::string_view> sec_fetch_site,
                           std::optional<std::string_view> referer, std::string_view host);

struct Site {
    std::string origin; // normalised
    std::string name;   // what the site called itself, for the user
    std::string token;  // 64 hex digits
    std::int64_t created_ms = 0;
};

// The sites the user approved. Every change is written (atomically, mode
// 0600) when a file was given, on the blocking pool when one was given; a
// request handler awaits saved() before it answers. Without a file (tests)
// they live in memory.
class SiteRegistry {
public:
    static constexpr std::size_t max_sites = 256;
    static constexpr std::size_t max_name_bytes = 100;

    // Loads `file` if it exists. Throws std::runtime_error naming the file when
    // it is not a sites file.
    explicit SiteRegistry(std::filesystem::path file = {}, asio::any_io_executor ex = {},
                          core::Blocking* blocking = nullptr);

    const std::vector<Site>& sites() const { return sites_; }
    // Approves an origin and returns its entry. An origin approved before keeps
    // its token (a second approval must not break the site's stored one) and
    // takes the new name. Throws std::invalid_argument for a malformed origin
    // or when max_sites are approved; std::system_error if the file cannot be written.
    const Site& allow(std::string_view origin, std::string_view name);
    // Removes the site with this origin or this token; false when none has it.
    bool revoke(std::string_view origin_or_token);
    // Once every change so far is on the disk; throws std::system_error if
    // the disk refused it.
    awaitable<void> saved();
    // The site approved under `token`, provided it was issued to `origin`: a
    // token copied to another site is worth nothing there.
    const Site* find(std::string_view token, std::string_view origin) const;

private:
    void save();

    std::optional<core::SavedFile> file_;
    std::vector<Site> sites_;
};

// Approval pages waiting for the user. Each /auth_1/ page carries a nonce that
// names the request it was made for; /auth_2/ accepts a nonce once, before it
// expires, so the approval can only come from a page the daemon served (which
// no other origin can read) and only for what that page showed.
class Approvals {
public:
    static constexpr std::size_t max_pending = 64;
    static constexpr std::chrono::minutes lifetime{10};
    using Clock = std::chrono::steady_clock;

    struct Pending {
        std::string origin, name, receiver; // receiver: where the token goes; may be empty
        Clock::time_point expires{};
    };

    explicit Approvals(std::function<Clock::time_point()> now = Clock::now) : now_(std::move(now)) {}

    // Remembers a request and returns its nonce (32 hex digits). The oldest
    // pending request is forgotten when max_pending are waiting.
    std::string issue(std::string origin, std::string name, std::string receiver);
    // The request behind an unexpired nonce, which is used up by asking.
    std::optional<Pending> take(std::string_view nonce);
    std::size_t pending() const { return pending_.size(); }

private:
    std::function<Clock::time_point()> now_;
    std::map<std::string, Pending, std::less<>> pending_;
};

// A site's name as it may be shown and stored: control characters dropped,
// at most SiteRegistry::max_name_bytes, never cut inside a UTF-8 character.
std::string clean_site_name(std::string_view name);

// 2*bytes random hex digits (libsodium's generator).
std::string random_hex(std::size_t bytes);

// Text made safe for HTML element content and quoted attribute values.
std::string html_escape(std::string_view text);

} // namespace earshot::http
