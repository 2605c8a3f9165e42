// The Playdar HTTP API (playdar-core 0.1.x): /api/?method=stat|resolve|
// get_results|get_results_long|cancel, with JSONP, so Playdar-era clients work.
#include "daemon/http/modules.hpp"
#include "daemon/http/routes.hpp"

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

// Playdar.js used "jsonp="; the jQuery convention is "callback=". Empty: plain JSON.
std::string jsonp_callback(const Request& req) {
    std::string callback(req.optional("jsonp"));
    if (callback.empty()) callback = std::string(req.optional("callback"));
    if (!callback.empty() && !valid_callback(callback))
        throw HttpError(bhttp::status::bad_request, "JSONP callback names may only use [A-Za-z0-9_.$]");
    return callback;
}

// Errors stay errors (status kept) but are wrapped too, so a JSONP client's
// callback sees {"error": ...} where the browser runs it.
Reply wrap_jsonp(Reply reply, const std::string& callback) {
    if (!callback.empty()) {
        reply.body = callback + "(" + reply.body + ");";
        reply.fields.set(bhttp::field::content_type, "text/javascript; charset=utf-8");
    }
    return reply;
}

class PlaydarModule final : public Module {
public:
    PlaydarModule(ResolverAccess& library, std::string machine_hostname)
        : library_(library), machine_hostname_(std::move(machine_hostname)) {}

    void add_routes(RouteTable& routes) override {
        routes.add(Route{
            .pattern = "/api/",
            .methods = {bhttp::verb::get, bhttp::verb::post},
            .policy = Policy::site_token,
            .cors = Cors::any,
            .handler = [this](const Request& req) { return handle(req); },
            .stranger_refusal = "use the Playdar API",
            .for_strangers = [](const Request& req) { return strangers(req); },
        });
    }

private:
    awaitable<Reply> handle(const Request& req) {
        const auto callback = jsonp_callback(req);
        Reply reply;
        try {
            reply = co_await run_method(req);
        } catch (const HttpError& e) {
            reply = error_reply(e.status(), e.what());
        }
        co_return wrap_jsonp(std::move(reply), callback);
    }

    // A page of a site the user has not approved: stat answers, so a Playdar
    // client can find the daemon and start the approval, and says nothing of
    // the library; every other method is refused before it looks at its
    // parameters, so a stranger cannot even learn whether a qid exists.
    static awaitable<Reply> strangers(const Request& req) {
        const auto callback = jsonp_callback(req);
        Reply reply;
        if (req.optional("method") == "stat")
            reply = json_reply(bhttp::status::ok, nlohmann::json{
                                                      {"name", "playdar"},
                                                      {"version", "0.1.0"},
                                                      {"authenticated", false},
                                                      {"capabilities", nlohmann::json::object()},
                                                  });
        else reply = error_reply(bhttp::status::forbidden, stranger_message(req, "use the Playdar API"));
        co_return wrap_jsonp(std::move(reply), callback);
    }

    awaitable<Reply> run_method(const Request& req);

    ResolverAccess& library_;
    std::string machine_hostname_;
};

awaitable<Reply> PlaydarModule::run_method(const Request& req) {
    const auto& method = req.required("method");
    auto& resolver = library_.resolver();

    if (method == "stat") {
        co_return json_reply(bhttp::status::ok,
                             nlohmann::json{
                                 {"name", "playdar"},
                                 {"version", "0.1.0"},
                                 {"authenticated", true},
                                 {"hostname", machine_hostname_},
                                 {"capabilities", nlohmann::json::object()},
                                 // earshot's own fields; Playdar clients ignore them.
                                 {"earshot", {{"version", EARSHOT_VERSION}, {"name", library_.name()}}},
                             });
    }
    if (method == "resolve") {
        auto query = query_from_params(req);
        std::string qid;
        if (const auto* given = req.params.find("qid")) {
            if (!valid_qid(*given))
                throw HttpError(bhttp::status::bad_request, "parameter 'qid' must match [A-Za-z0-9_.:-]{1,128}");
            qid = *given;
        }
        qid = start_query(resolver, std::move(query), std::move(qid));
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

std::unique_ptr<Module> playdar_module(ResolverAccess& library, std::string machine_hostname) {
    return std::make_unique<PlaydarModule>(library, std::move(machine_hostname));
}

} // namespace earshot::http
