#include "daemon/http/handler.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace earshot::http {
namespace {

// Longer than any real title; keeps a 64 KiB form from becoming a 64 KiB query.
constexpr std::size_t max_field_bytes = 1024;

} // namespace

const std::string& Request::required(std::string_view name) const {
    const auto* v = params.find(name);
    if (!v) throw HttpError(bhttp::status::bad_request, "missing parameter '" + std::string(name) + "'");
    return *v;
}

std::string_view Request::optional(std::string_view name) const {
    const auto* v = params.find(name);
    return v ? std::string_view(*v) : std::string_view{};
}

std::string dump_json(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Reply json_reply(bhttp::status status, const nlohmann::json& body) {
    Reply r;
    r.status = status;
    r.fields.set(bhttp::field::content_type, "application/json; charset=utf-8");
    r.body = dump_json(body);
    return r;
}

Reply error_reply(bhttp::status status, std::string_view message) {
    return json_reply(status, nlohmann::json{{"error", std::string(message)}});
}

nlohmann::json result_json(const resolver::Result& r, std::string_view base_url, std::string_view url_query) {
    return nlohmann::json{
        {"sid", r.sid},
        {"artist", r.artist},
        {"track", r.track},
        {"album", r.album},
        {"source", r.source},
        {"sources", r.sources.empty() ? std::vector<std::string>{r.source} : r.sources},
        {"size", r.size},
        {"bitrate", r.bitrate_kbps},
        // Playdar clients expect whole seconds.
        {"duration", std::llround(std::max(0.0, r.duration_s))},
        {"mimetype", r.mimetype},
        {"score", r.score},
        {"recording", r.recording},
        {"url", std::string(base_url) + "/sid/" + r.sid + std::string(url_query)},
    };
}

nlohmann::json query_json(const resolver::Query& q, std::string_view qid) {
    nlohmann::json j{{"artist", q.artist}, {"album", q.album}, {"track", q.track}, {"qid", std::string(qid)}};
    if (!q.text.empty()) j["q"] = q.text;
    if (q.duration_s) j["duration"] = *q.duration_s;
    return j;
}

nlohmann::json snapshot_json(const resolver::QuerySnapshot& snap, std::string_view base_url, std::size_t limit,
                             std::string_view url_query) {
    auto results = nlohmann::json::array();
    for (const auto& r : snap.results) {
        if (results.size() >= limit) break;
        results.push_back(result_json(r, base_url, url_query));
    }
    return nlohmann::json{
        {"qid", snap.qid},
        {"query", query_json(snap.query, snap.qid)},
        {"solved", snap.solved},
        {"finished", snap.finished},
        {"errors", snap.errors},
        {"results", std::move(results)},
    };
}

std::uint64_t parse_unsigned(std::string_view name, std::string_view text) {
    std::uint64_t v = 0;
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (!digits || ec != std::errc{} || ptr != text.data() + text.size())
        throw HttpError(bhttp::status::bad_request,
                        "parameter '" + std::string(name) + "' must be a non-negative whole number");
    return v;
}

double parse_seconds(std::string_view name, std::string_view text) {
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
    // 1e6 s is eleven days: no track is longer; NaN/inf/negatives are refused.
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(v) || v < 0 || v > 1e6)
        throw HttpError(bhttp::status::bad_request,
                        "parameter '" + std::string(name) + "' must be a number of seconds between 0 and 1000000");
    return v;
}

bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

bool valid_qid(std::string_view qid) {
    return !qid.empty() && qid.size() <= 128 && std::all_of(qid.begin(), qid.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.' || c == ':';
    });
}

std::string start_query(resolver::Resolver& resolver, resolver::Query q, std::string qid) {
    try {
        return resolver.start(std::move(q), std::move(qid));
    } catch (const std::invalid_argument& e) {
        throw HttpError(bhttp::status::bad_request, e.what());
    }
}

resolver::Query query_from_params(const Request& req) {
    resolver::Query q;
    const auto field = [&](std::string_view name) {
        const auto v = req.optional(name);
        if (v.size() > max_field_bytes)
            throw HttpError(bhttp::status::bad_request,
                            "parameter '" + std::string(name) + "' is longer than " + std::to_string(max_field_bytes) + " bytes");
        return std::string(v);
    };
    q.artist = field("artist");
    q.track = field("track");
    q.album = field("album");
    q.text = field("q");
    if (const auto d = req.optional("duration"); !d.empty()) q.duration_s = parse_seconds("duration", d);
    if (q.track.empty() && q.text.empty())
        throw HttpError(bhttp::status::bad_request, "nothing to resolve: give 'artist' and 'track' (and optionally "
                                                    "'album', 'duration'), or free text in 'q'");
    return q;
}

} // namespace earshot::http
