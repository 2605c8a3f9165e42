#include "daemon/http/sites.hpp"

#include "daemon/core/private_file.hpp"
#include "daemon/http/auth.hpp"

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace earshot::http {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool scheme_char(char c, bool first) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return alpha || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

std::optional<std::string> normalise_origin(std::string_view text) {
    const auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::nullopt;
    const auto scheme = text.substr(0, sep);
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (!scheme_char(scheme[i], i == 0)) return std::nullopt;
    auto authority = text.substr(sep + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

    std::string_view host, port;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || close == 1) return std::nullopt;
        host = authority.substr(0, close + 1);
        const auto inside = authority.substr(1, close - 1);
        if (!std::all_of(inside.begin(), inside.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; }))
            return std::nullopt;
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) return std::nullopt;
    }
    const auto s = lower(scheme);
    std::string out = s + "://" + lower(host);
    if (port.empty()) {
        // "http://a:" is what a browser would never send.
        if (authority.back() == ':') return std::nullopt;
        return out;
    }
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const auto number = std::stoul(std::string(port));
    if (number == 0 || number > 65535) return std::nullopt;
    if ((s == "http" && number == 80) || (s == "https" && number == 443)) return out;
    return out + ":" + std::to_string(number);
}

CallerInfo classify_caller(std::optional<std::string_view> origin, std::optional<std::string_view> sec_fetch_site,
                           std::optional<std::string_view> referer, std::string_view host) {
    // The daemon speaks plain HTTP, so its own pages are "http://" + Host.
    const auto own = host.empty() ? std::nullopt : normalise_origin("http://" + std::string(host));
    bool cross = false, same = false;
    std::string site;
    if (origin) {
        const auto o = normalise_origin(*origin);
        if (o && own && *o == *own) same = true;
        else {
            cross = true; // including "null": a sandboxed or file:// page is a stranger we cannot name
            if (o) site = *o;
        }
    }
    if (sec_fetch_site) {
        const auto v = lower(*sec_fetch_site);
        if (v == "cross-site" || v == "same-site") cross = true;
        else if (v == "same-origin" || v == "none") same = true;
        else cross = true; // a value we do not know is not a reason to trust
    }
    if (referer) {
        const auto r = normalise_origin(*referer);
        if (r && own && *r == *own) same = true;
        else if (r) {
            cross = true;
            if (site.empty()) site = *r;
        }
        // Anything else ("about:client") names no origin; the other headers decide.
    }
    if (cross) return {Caller::cross_site, std::move(site)};
    if (same) return {Caller::same_origin, {}};
    return {Caller::program, {}};
}

std::string clean_site_name(std::string_view name) {
    std::string out;
    for (const char c : name)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
    if (out.size() > SiteRegistry::max_name_bytes) {
        auto cut = SiteRegistry::max_name_bytes;
        // Step back over UTF-8 continuation bytes (top bits 0b10) to the start
        // of the character that did not fit.
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
    }
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(bytes * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
    hex.pop_back();
    sodium_memzero(raw.data(), raw.size());
    return hex;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

SiteRegistry::SiteRegistry(std::filesystem::path file, asio::any_io_executor ex, core::Blocking* blocking) {
    if (file.empty()) return;
    file_.emplace(std::move(ex), blocking, std::move(file));
    if (!std::filesystem::exists(file_->path())) return;
    std::ifstream in(file_->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        const auto j = nlohmann::json::parse(ss.str());
        for (const auto& s : j.at("sites")) {
            Site site;
            const auto origin = normalise_origin(s.at("origin").get<std::string>());
            if (!origin) throw std::invalid_argument("bad origin " + s.at("origin").dump());
            site.origin = *origin;
            site.name = clean_site_name(s.value("name", ""));
            site.token = s.at("token").get<std::string>();
            if (site.token.size() < 32) throw std::invalid_argument("a token is too short");
            site.created_ms = s.value("created_ms", std::int64_t{0});
            sites_.push_back(std::move(site));
        }
    } catch (const std::exception& e) {
        throw std::runtime_error(file_->path().string() + " is not a sites file (" + e.what() +
                                 "); move it away to start with no approved sites");
    }
}

const Site& SiteRegistry::allow(std::string_view origin, std::string_view name) {
    const auto o = normalise_origin(origin);
    if (!o) throw std::invalid_argument("'" + std::string(origin) + "' is not a web origin (like https://example.org)");
    auto it = std::find_if(sites_.begin(), sites_.end(), [&](const Site& s) { return s.origin == *o; });
    if (it == sites_.end()) {
        if (sites_.size() >= max_sites)
            throw std::invalid_argument("already " + std::to_string(max_sites) + " sites approved; revoke some first");
        sites_.push_back(Site{*o, clean_site_name(name), random_hex(32), unix_ms_now()});
        it = sites_.end() - 1;
    } else if (!name.empty()) {
        it->name = clean_site_name(name);
    }
    save();
    return *it;
}

bool SiteRegistry::revoke(std::string_view origin_or_token) {
    const auto o = normalise_origin(origin_or_token);
    const auto n = std::erase_if(sites_, [&](const Site& s) {
        return (o && s.origin == *o) || token_equals(origin_or_token, s.token);
    });
    if (n == 0) return false;
    save();
    return true;
}

const Site* SiteRegistry::find(std::string_view token, std::string_view origin) const {
    for (const auto& s : sites_)
        if (token_equals(token, s.token)) return s.origin == origin ? &s : nullptr;
    return nullptr;
}

awaitable<void> SiteRegistry::saved() {
    if (file_) co_await file_->saved();
}

void SiteRegistry::save() {
    if (!file_) return;
    auto list = nlohmann::json::array();
    for (const auto& s : sites_)
        list.push_back({{"origin", s.origin}, {"name", s.name}, {"token", s.token}, {"created_ms", s.created_ms}});
    const nlohmann::json j{{"version", 1}, {"sites", std::move(list)}};
    file_->save(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string Approvals::issue(std::string origin, std::string name, std::string receiver) {
    const auto now = now_();
    std::erase_if(pending_, [&](const auto& kv) { return kv.second.expires <= now; });
    if (pending_.size() >= max_pending) {
        const auto oldest = std::min_element(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.expires < b.second.expires;
        });
        pending_.erase(oldest);
    }
    auto nonce = random_hex(16);
    pending_.emplace(nonce, Pending{std::move(origin), std::move(name), std::move(receiver), now + lifetime});
    return nonce;
}

std::optional<Approvals::Pending> Approvals::take(std::string_view nonce) {
    const auto it = pending_.find(nonce);
    if (it == pending_.end()) return std::nullopt;
    auto p = std::move(it->second);
    pending_.erase(it);
    if (p.expires <= now_()) return std::nullopt;
    return p;
}

} // namespace earshot::http
