// GET /api/v1/events: the daemon's event channel as Server-Sent Events
// (text/event-stream), for the CLI, scripts and a future web page.
//
//   id: 42
//   event: link_up
//   data: {"time_ms":..., "peer_id":"...", "name":"home", "address":"..."}
//
// A client resumes with `Last-Event-ID` (browsers' EventSource sends it on
// reconnect) or `?since=N`; events it can no longer get arrive as one
// `missed` event with their count. A comment line every 15 s keeps proxies
// from timing the stream out and tells a client that went away from one that
// is idle. `?max=N` ends the stream after N events, `?timeout=ms` after that
// long, having sent what was held (`?timeout=0`: only that); for scripts
// and tests, a browser leaves both out.
#include "daemon/http/modules.hpp"

#include "daemon/core/event_bus.hpp"
#include "daemon/http/routes.hpp"

#include <algorithm>
#include <chrono>
#include <deque>

namespace earshot::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto heartbeat = 15s;

std::string sse_record(std::uint64_t id, std::string_view kind, const nlohmann::json& data) {
    std::string out;
    out.append("id: ").append(std::to_string(id)).append("\n");
    out.append("event: ").append(kind).append("\n");
    // dump_json never emits a newline, so one data line holds the whole event.
    out.append("data: ").append(dump_json(data)).append("\n\n");
    return out;
}

class EventsModule final : public Module {
public:
    explicit EventsModule(EventSource& events) : events_(events) {}

    void add_routes(RouteTable& routes) override {
        routes.add(Route{.pattern = "/api/v1/events",
                         .methods = {bhttp::verb::get},
                         .policy = Policy::local_only,
                         .handler = [this](const Request& req) { return handle(req); }});
    }

private:
    // What one client's stream has seen and still wants.
    struct Cursor {
        std::uint64_t after = 0;
        std::uint64_t left = 0; // 0: unlimited
        std::optional<Clock::time_point> ends;
        std::deque<std::string> pending;
        bool done = false;
    };

    awaitable<Reply> handle(const Request& req) {
        auto cursor = std::make_shared<Cursor>();
        if (const auto last = req.msg.find("Last-Event-ID"); last != req.msg.end())
            cursor->after = parse_unsigned("Last-Event-ID", last->value());
        if (const auto since = req.optional("since"); !since.empty()) cursor->after = parse_unsigned("since", since);
        if (const auto max = req.optional("max"); !max.empty()) cursor->left = parse_unsigned("max", max);
        if (const auto timeout = req.optional("timeout"); !timeout.empty())
            cursor->ends = Clock::now() + std::chrono::milliseconds(parse_unsigned("timeout", timeout));
        Reply r;
        r.fields.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
        r.fields.set(bhttp::field::cache_control, "no-store");
        r.live = [this, cursor]() { return next_piece(cursor); };
        co_return r;
    }

    awaitable<std::optional<std::string>> next_piece(std::shared_ptr<Cursor> c) {
        while (c->pending.empty()) {
            if (c->done) co_return std::nullopt;
            // Past the deadline the held events still go out (`?timeout=0`
            // is "what is there now"); only waiting for more stops.
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat);
            if (c->ends)
                wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*c->ends - Clock::now()), 0ms,
                                  wait);
            auto batch = co_await events_.events_after(c->after, wait);
            if (batch.missed > 0)
                c->pending.push_back("event: missed\ndata: " + dump_json({{"count", batch.missed}}) + "\n\n");
            for (auto& e : batch.events) {
                auto data = std::move(e.data);
                data["time_ms"] = e.unix_ms;
                c->pending.push_back(sse_record(e.id, e.kind, data));
                c->after = e.id;
                if (c->left > 0 && --c->left == 0) {
                    c->done = true;
                    break;
                }
            }
            if (c->pending.empty() && !c->done) {
                if (c->ends && Clock::now() >= *c->ends) co_return std::nullopt;
                co_return std::string(": still here\n\n");
            }
        }
        auto piece = std::move(c->pending.front());
        c->pending.pop_front();
        co_return piece;
    }

    EventSource& events_;
};

} // namespace

std::unique_ptr<Module> events_module(EventSource& events) { return std::make_unique<EventsModule>(events); }

namespace {

// The daemon's event bus as the module reads it.
class BusEvents final : public EventSource {
public:
    explicit BusEvents(core::EventBus& bus) : bus_(bus) {}
    awaitable<EventMessages> events_after(std::uint64_t after, std::chrono::milliseconds wait) override {
        auto batch = co_await bus_.next(after, wait);
        EventMessages out;
        out.missed = batch.missed;
        for (auto& r : batch.records)
            out.events.push_back({r.seq, core::events::kind_of(r.event), r.unix_ms, core::events::fields_of(r.event)});
        co_return out;
    }

private:
    core::EventBus& bus_;
};

// Owns its adapter, which must live as long as the routes.
class BusEventsModule final : public Module {
public:
    explicit BusEventsModule(core::EventBus& bus) : source_(bus), module_(source_) {}
    void add_routes(RouteTable& routes) override { module_.add_routes(routes); }

private:
    BusEvents source_;
    EventsModule module_;
};

} // namespace

std::unique_ptr<Module> events_module(core::EventBus& bus) { return std::make_unique<BusEventsModule>(bus); }

} // namespace earshot::http
