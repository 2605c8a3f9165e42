// The Playdar HTTP API (playdar-core 0.1.x): /api/?method=stat|resolve|
// get_results|get_results_long|cancel, with JSONP, so Playdar-era clients work.
#include "daemon/http/handler.hpp"

#include <algorithm>
#include <chrono>

namespace earshot::http {
namespace {

using namespace std::chrono_literals;

// get_results_long waits at most this long, whatever the client asks for.
constexpr std::chrono::milliseconds long_poll_cap = 30s;
constexpr std::chrono::milliseconds long_poll_default = 10s;
// Hints for polling clients (Playdar's names): ask again every second, up to
// 10 times — longer than the slowest source's budget.
constexpr int poll_interval_ms = 1000;
constexpr int poll_limit = 10;

bool valid_callback(std::string_view cb) {
    return !cb.empty() && cb.size() <= 128 && std::all_of(cb.begin(), cb.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '$';
    });
}

std::string required_qid(const Request& req) {
    const auto& qid = req.required("qid");
    if (!valid_qid(qid)) throw HttpError(bhttp::status::bad_request, "parameter 'qid' must match [A-Za-z0-9_.:-]{1,128}");
    return qid;
}

nlohmann::json results_body(const resolver::QuerySnapshot& snap, std::string_view base_url,
                            std::string_view url_query) {
    // The native shape plus Playdar's polling hints, which its clients read.
    auto body = snapshot_json(snap, base_url, static_cast<std::size_t>(-1), url_query);
    body["poll_interval"] = poll_interval_ms;
    body["poll_limit"] = poll_limit;
    body["refresh_interval"] = poll_interval_ms;
    return body;
}

awaitable<Reply> run_method(Context& ctx, const Request& req) {
    const auto& method = req.required("method");
    auto& resolver = ctx.backend.resolver();

    if (method == "stat") {
        // Answered for strangers too, so a Playdar client can find the daemon
        // and start the approval; they learn that and nothing of the library.
        if (!req.access.authenticated)
            co_return json_reply(bhttp::status::ok, nlohmann::json{
                                                        {"name", "playdar"},
                                                        {"version", "0.1.0"},
                                                        {"authenticated", false},
                                                        {"capabilities", nlohmann::json::object()},
                                                    });
        co_return json_reply(bhttp::status::ok,
                             nlohmann::json{
                                 {"name", "playdar"},
                                 {"version", "0.1.0"},
                                 {"authenticated", true},
                                 {"hostname", ctx.machine_hostname},
                                 {"capabilities", nlohmann::json::object()},
                                 // earshot's own fields; Playdar clients ignore them.
                                 {"earshot", {{"version", EARSHOT_VERSION}, {"name", ctx.backend.name()}}},
                             });
    }
    // Before any method looks at its parameters: a stranger must not even
    // learn whether a qid exists.
    if (!req.access.authenticated) throw HttpError(bhttp::status::forbidden, stranger_message(req, "use the Playdar API"));
    if (method == "resolve") {
        auto query = query_from_params(req);
        std::string qid;
        if (const auto* given = req.params.find("qid")) {
            if (!valid_qid(*given))
                throw HttpError(bhttp::status::bad_request, "parameter 'qid' must match [A-Za-z0-9_.:-]{1,128}");
            qid = *given;
        }
        qid = start_query(ctx.backend, std::move(query), std::move(qid));
        co_return json_reply(bhttp::status::ok, nlohmann::json{{"qid", qid}});
    }
    if (method == "get_results") {
        const auto qid = required_qid(req);
        const auto snap = resolver.snapshot(qid);
        if (!snap) throw HttpError(bhttp::status::not_found, "unknown qid '" + qid + "'");
        co_return json_reply(bhttp::status::ok, results_body(*snap, req.base_url, req.access.url_query()));
    }
    if (method == "get_results_long") {
        const auto qid = required_qid(req);
        auto timeout = long_poll_default;
        if (const auto t = req.optional("timeout"); !t.empty())
            timeout = std::chrono::milliseconds(
                std::min<std::uint64_t>(parse_unsigned("timeout", t), static_cast<std::uint64_t>(long_poll_cap.count())));
        const auto snap = co_await resolver.wait(qid, timeout);
        if (!snap) throw HttpError(bhttp::status::not_found, "unknown qid '" + qid + "'");
        co_return json_reply(bhttp::status::ok, results_body(*snap, req.base_url, req.access.url_query()));
    }
    if (method == "cancel") {
        const auto qid = required_qid(req);
        if (!resolver.cancel(qid)) throw HttpError(bhttp::status::not_found, "unknown qid '" + qid + "'");
        co_return json_reply(bhttp::status::ok, nlohmann::json{{"qid", qid}, {"cancelled", true}});
    }
    throw HttpError(bhttp::status::bad_request,
                    "unknown method '" + method + "' (known: stat, resolve, get_results, get_results_long, cancel)");
}

} // namespace

awaitable<Reply> handle_playdar(Context& ctx, const Request& req) {
    // Playdar.js used "jsonp="; the jQuery convention is "callback=".
    std::string callback(req.optional("jsonp"));
    if (callback.empty()) callback = std::string(req.optional("callback"));
    if (!callback.empty() && !valid_callback(callback))
        throw HttpError(bhttp::status::bad_request, "JSONP callback names may only use [A-Za-z0-9_.$]");

    Reply reply;
    try {
        reply = co_await run_method(ctx, req);
    } catch (const HttpError& e) {
        // Errors stay errors (status kept) but are wrapped too, so a JSONP
        // client's callback sees {"error": ...} where the browser runs it.
        reply = error_reply(e.status(), e.what());
    }
    if (!callback.empty()) {
        reply.body = callback + "(" + reply.body + ");";
        reply.fields.set(bhttp::field::content_type, "text/javascript; charset=utf-8");
    }
    co_return reply;
}

} // namespace earshot::http
