// earshot's own JSON API under /api/v1/.
#include "daemon/http/modules.hpp"
#include "daemon/http/routes.hpp"

#include <algorithm>
#include <chrono>

namespace earshot::http {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds search_default_wait = 2s;
constexpr std::chrono::milliseconds search_max_wait = 30s;


std::size_t limit_param(const Request& req) {
    const auto text = req.optional("limit");
    if (text.empty()) return SIZE_MAX;
    const auto n = parse_unsigned("limit", text);
    if (n == 0) throw HttpError(bhttp::status::bad_request, "parameter 'limit' must be at least 1");
    return static_cast<std::size_t>(std::min<std::uint64_t>(n, SIZE_MAX));
}

awaitable<Reply> search(ResolverAccess& library, const Request& req) {
    auto query = query_from_params(req);
    auto wait = search_default_wait;
    if (const auto t = req.optional("timeout"); !t.empty())
        wait = std::chrono::milliseconds(
            std::min<std::uint64_t>(parse_unsigned("timeout", t), static_cast<std::uint64_t>(search_max_wait.count())));
    const auto limit = limit_param(req);

    const auto qid = start_query(library.resolver(), std::move(query));
    const auto snap = co_await library.resolver().wait(qid, wait);
    if (!snap) throw HttpError(bhttp::status::not_found, "query '" + qid + "' was cancelled");
    co_return json_reply(bhttp::status::ok, snapshot_json(*snap, req.base_url, limit));
}

[[noreturn]] void wrong_method(std::string_view allowed) {
    throw HttpError(bhttp::status::method_not_allowed, "this path only accepts " + std::string(allowed),
                    std::string(allowed));
}

PeerSpec peer_spec(const Request& req) {
    PeerSpec spec;
    spec.peer_id = req.required("peer_id");
    spec.role = req.required("role");
    spec.name = std::string(req.optional("name"));
    spec.address = std::string(req.optional("address"));
    // "shared" may repeat, one folder each; absent means every library folder.
    for (const auto& [k, v] : req.params.items())
        if (k == "shared") {
            if (!spec.shared) spec.shared.emplace();
            spec.shared->push_back(v);
        }
    return spec;
}

class NativeModule final : public Module {
public:
    NativeModule(LibraryControl& library, PeerControl& peers, PinControl& pins, ResolverAccess& search)
        : library_(library), peers_(peers), pins_(pins), search_(search) {}

    void add_routes(RouteTable& routes) override {
        // One row for the whole API: the paths below share the policy, and the
        // handler answers each with the method it takes (405 otherwise).
        routes.add(Route{.pattern = "/api/v1/*",
                         .policy = Policy::local_only,
                         .handler = [this](const Request& req) { return handle(req); }});
    }

private:
    awaitable<Reply> handle(const Request& req);

    LibraryControl& library_;
    PeerControl& peers_;
    PinControl& pins_;
    ResolverAccess& search_;
};

awaitable<Reply> NativeModule::handle(const Request& req) {
    // req.path = {"api", "v1", ...}
    const std::vector<std::string> rest(req.path.begin() + 2, req.path.end());
    const auto verb = req.msg.method();
    const auto only = [&](bhttp::verb allowed) {
        if (verb != allowed) {
            wrong_method(allowed == bhttp::verb::get ? "GET" : "POST");
        }
    };

    if (rest.size() == 1) {
        const auto& name = rest[0];
        if (name == "health") {
            only(bhttp::verb::get);
            co_return json_reply(bhttp::status::ok, nlohmann::json{{"ok", true}});
        }
        if (name == "status") {
            only(bhttp::verb::get);
            co_return json_reply(bhttp::status::ok, library_.status());
        }
        if (name == "search") {
            only(bhttp::verb::get);
            co_return co_await search(search_, req);
        }
        if (name == "errors") {
            only(bhttp::verb::get);
            auto failures = co_await library_.failures();
            co_return json_reply(bhttp::status::ok, failures);
        }
        if (name == "scan") {
            only(bhttp::verb::post);
            if (library_.request_scan())
                co_return json_reply(bhttp::status::accepted, nlohmann::json{{"started", true}});
            co_return json_reply(bhttp::status::conflict,
                                 nlohmann::json{{"started", false}, {"error", "a scan is already running"}});
        }
    }
    if (!rest.empty() && rest[0] == "peers") {
        if (rest.size() == 1 && verb == bhttp::verb::get) co_return json_reply(bhttp::status::ok, peers_.peers());
        if (rest.size() == 1) {
            only(bhttp::verb::post);
            nlohmann::json added;
            try {
                added = peers_.add_peer(peer_spec(req));
            } catch (const std::invalid_argument& e) {
                throw HttpError(bhttp::status::bad_request, e.what());
            }
            co_await peers_.saved(); // a pairing the user was told of survives a crash
            co_return json_reply(bhttp::status::ok, std::move(added));
        }
        if (rest.size() == 2 && rest[1] == "remove") {
            only(bhttp::verb::post);
            const auto& id = req.required("peer_id");
            if (!peers_.remove_peer(id)) throw HttpError(bhttp::status::not_found, "not paired: " + id);
            co_await peers_.saved();
            co_return json_reply(bhttp::status::ok, nlohmann::json{{"removed", id}});
        }
    }
    if (!rest.empty() && rest[0] == "pins") {
        if (rest.size() == 1 && verb == bhttp::verb::get) co_return json_reply(bhttp::status::ok, pins_.pins());
        if (rest.size() == 1) {
            only(bhttp::verb::post);
            std::string sid(req.optional("sid"));
            resolver::Query q;
            if (sid.empty() && req.optional("track").empty() && req.optional("q").empty() &&
                (!req.optional("artist").empty() || !req.optional("album").empty())) {
                // A whole album or artist: no track to score against.
                q.artist = std::string(req.optional("artist"));
                q.album = std::string(req.optional("album"));
            } else if (sid.empty()) {
                q = query_from_params(req);
            } else if (!valid_id(sid)) throw HttpError(bhttp::status::bad_request, "malformed sid");
            co_return json_reply(bhttp::status::ok, co_await pins_.pin(std::move(q), std::move(sid)));
        }
        if (rest.size() == 2 && rest[1] == "remove") {
            only(bhttp::verb::post);
            const auto& sid = req.required("sid");
            if (!co_await pins_.unpin(sid)) throw HttpError(bhttp::status::not_found, "not pinned: " + sid);
            co_return json_reply(bhttp::status::ok, nlohmann::json{{"unpinned", sid}});
        }
    }
    if (rest.size() == 2 && rest[0] == "results") {
        only(bhttp::verb::get);
        const auto& qid = rest[1];
        const auto snap = valid_qid(qid) ? search_.resolver().snapshot(qid) : std::nullopt;
        if (!snap) throw HttpError(bhttp::status::not_found, "unknown qid '" + qid + "'");
        co_return json_reply(bhttp::status::ok, snapshot_json(*snap, req.base_url, limit_param(req)));
    }
    if (rest.size() == 2 && rest[0] == "tracks") {
        only(bhttp::verb::get);
        const auto& sid = rest[1];
        std::optional<nlohmann::json> details;
        if (valid_id(sid)) details = co_await library_.track_details(sid);
        if (!details) throw HttpError(bhttp::status::not_found, "unknown sid '" + sid + "'");
        co_return json_reply(bhttp::status::ok, *details);
    }
    throw HttpError(bhttp::status::not_found, "no such API path: /" + [&] {
        std::string p;
        for (std::size_t i = 0; i < req.path.size(); ++i) p += (i ? "/" : "") + req.path[i];
        return p;
    }());
}

} // namespace

std::unique_ptr<Module> native_module(LibraryControl& library, PeerControl& peers, PinControl& pins,
                                      ResolverAccess& search) {
    return std::make_unique<NativeModule>(library, peers, pins, search);
}

} // namespace earshot::http
