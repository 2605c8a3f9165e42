#include "daemon/dht/node.hpp"

#include "daemon/core/private_file.hpp"
#include "daemon/dht/engine_settings.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/settings_pack.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>

namespace earshot::dht {
namespace lt = libtorrent;
using namespace std::chrono_literals;

namespace {

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
    return out;
}

std::array<char, 32> to_lt_key(const proto::PublicKey& k) {
    std::array<char, 32> out{};
    std::copy(k.begin(), k.end(), out.begin());
    return out;
}

proto::presence::Target target_of(const std::array<char, 32>& key, const std::string& salt) {
    proto::PublicKey k{};
    std::copy(key.begin(), key.end(), k.begin());
    return proto::presence::item_target(k, proto::as_bytes(salt));
}

// How often the counters (routing-table size, DHT traffic) are read.
constexpr auto stats_interval = 2s;

} // namespace

struct Node::State : std::enable_shared_from_this<State> {
    State(asio::io_context& io, NodeOptions o) : io(io), options(std::move(o)), stats_timer(io) {}

    struct GetWait {
        explicit GetWait(asio::io_context& io) : done(io) {}
        std::optional<FoundItem> best;
        Node::Enough enough;
        asio::steady_timer done;
    };
    struct PutWait {
        explicit PutWait(asio::io_context& io) : done(io) {}
        std::optional<int> stored;
        asio::steady_timer done;
    };

    asio::io_context& io;
    NodeOptions options;
    std::unique_ptr<lt::session> session;
    std::map<proto::presence::Target, std::vector<std::shared_ptr<GetWait>>> gets;
    std::map<proto::presence::Target, std::vector<std::shared_ptr<PutWait>>> puts;
    std::vector<ExternalEndpoint> external;
    std::vector<std::string> listen_errors;
    std::uint16_t port = 0;
    std::size_t nodes = 0;
    Traffic traffic;
    std::function<void()> on_external;
    asio::steady_timer stats_timer;
    int idx_nodes = -1, idx_msg_in = -1, idx_msg_out = -1, idx_bytes_in = -1, idx_bytes_out = -1;
    bool running = false;

    void drain();
    void handle(lt::alert* a);
    // Waits under `target` until an alert ends `wait` (cancels its timer)
    // or `timeout` passes, then forgets it. Called right after the request
    // went to libtorrent: its alerts are handled on this thread, so none
    // can arrive before the wait is listed.
    template <class Wait>
    static awaitable<void> await_alert(std::map<proto::presence::Target, std::vector<std::shared_ptr<Wait>>>& waits,
                                       const proto::presence::Target& target, std::shared_ptr<Wait> wait,
                                       std::chrono::milliseconds timeout) {
        waits[target].push_back(wait);
        wait->done.expires_after(timeout);
        boost::system::error_code ec;
        co_await wait->done.async_wait(asio::redirect_error(use_awaitable, ec));
        if (auto it = waits.find(target); it != waits.end()) {
            std::erase(it->second, wait);
            if (it->second.empty()) waits.erase(it);
        }
    }
    void add_external(ExternalEndpoint e) {
        if (std::find(external.begin(), external.end(), e) != external.end()) return;
        // One observed address per family: the newest vote wins.
        if (e.via == "observed")
            std::erase_if(external, [&](const ExternalEndpoint& x) {
                return x.via == "observed" && x.address.is_v4() == e.address.is_v4();
            });
        external.push_back(std::move(e));
        if (on_external) on_external();
    }
    awaitable<void> poll_stats(std::shared_ptr<State> self);
};

void Node::State::drain() {
    if (!session) return;
    std::vector<lt::alert*> alerts;
    session->pop_alerts(&alerts);
    // The alerts are valid until the next pop_alerts: handle them all now.
    for (auto* a : alerts) handle(a);
}

void Node::State::handle(lt::alert* a) {
    if (auto* m = lt::alert_cast<lt::dht_mutable_item_alert>(a)) {
        const auto it = gets.find(target_of(m->key, m->salt));
        if (it == gets.end()) return;
        const auto& v = m->item;
        // Only strings are earshot's (and an empty entry is "nothing found").
        if (v.type() == lt::entry::string_t) {
            FoundItem found{static_cast<std::uint64_t>(m->seq), proto::Bytes(v.string().begin(), v.string().end())};
            for (auto& w : it->second) {
                if (!w->best || w->best->seq < found.seq) w->best = found;
                if (w->enough && w->enough(found)) w->done.cancel();
            }
        }
        if (m->authoritative) {
            for (auto& w : it->second) w->done.cancel();
            gets.erase(it);
        }
    } else if (auto* p = lt::alert_cast<lt::dht_put_alert>(a)) {
        const auto it = puts.find(target_of(p->public_key, p->salt));
        if (it == puts.end()) return;
        for (auto& w : it->second) {
            w->stored = p->num_success;
            w->done.cancel();
        }
        puts.erase(it);
    } else if (auto* e = lt::alert_cast<lt::external_ip_alert>(a)) {
        add_external({e->external_address, 0, true, "observed"});
    } else if (auto* pm = lt::alert_cast<lt::portmap_alert>(a)) {
        const bool tcp = pm->map_protocol == lt::portmap_protocol::tcp;
        const auto via = pm->map_transport == lt::portmap_transport::upnp ? "upnp" : "natpmp";
        spdlog::info("dht: {} mapped {} port {}", via, tcp ? "TCP" : "UDP", pm->external_port);
        // The mapped address is the router's external one, which libtorrent
        // reports as an external_ip_alert; keep the port here.
        add_external({asio::ip::address{}, static_cast<std::uint16_t>(pm->external_port), tcp, via});
    } else if (auto* pe = lt::alert_cast<lt::portmap_error_alert>(a)) {
        spdlog::debug("dht: port mapping failed: {}", pe->message());
    } else if (auto* ls = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
        if (ls->socket_type == lt::socket_type_t::utp) // the UDP socket, which the DHT runs on
            port = static_cast<std::uint16_t>(ls->port);
        spdlog::debug("dht: {}", ls->message());
    } else if (auto* lf = lt::alert_cast<lt::listen_failed_alert>(a)) {
        listen_errors.push_back(lf->message());
        spdlog::warn("dht: {}", lf->message());
    } else if (auto* s = lt::alert_cast<lt::session_stats_alert>(a)) {
        const auto c = s->counters();
        const auto at = [&](int i) { return i < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(c[i]); };
        nodes = static_cast<std::size_t>(at(idx_nodes));
        traffic = {at(idx_msg_out), at(idx_bytes_out), at(idx_msg_in), at(idx_bytes_in)};
    } else if (auto* d = lt::alert_cast<lt::dht_error_alert>(a)) {
        spdlog::warn("dht: {}", d->message());
    } else if (auto* b = lt::alert_cast<lt::dht_bootstrap_alert>(a)) {
        spdlog::info("dht: {}", b->message());
    }
}

// `self` keeps the state alive while the coroutine is suspended.
awaitable<void> Node::State::poll_stats([[maybe_unused]] std::shared_ptr<State> self) {
    while (running) {
        if (session) session->post_session_stats();
        stats_timer.expires_after(stats_interval);
        boost::system::error_code ec;
        co_await stats_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
}

Node::Node(asio::io_context& io, NodeOptions options) : state_(std::make_shared<State>(io, std::move(options))) {}

Node::~Node() { stop(); }

void Node::start() {
    auto& s = *state_;
    if (s.session) return;
    auto sp = engine_settings({join(s.options.listen), join(s.options.bootstrap), s.options.allow_local,
                               s.options.port_mapping});
    // A taken port is an error to report, not a reason to move elsewhere
    // silently (a forwarded port would stop matching).
    sp.set_int(lt::settings_pack::max_retry_port_bind, 0);
    sp.set_bool(lt::settings_pack::listen_system_port_fallback, false);
    sp.set_int(lt::settings_pack::alert_mask, lt::alert_category::dht | lt::alert_category::status |
                                                  lt::alert_category::error | lt::alert_category::port_mapping |
                                                  lt::alert_category::dht_operation);

    lt::session_params params;
    if (!s.options.state_file.empty()) {
        std::ifstream in(s.options.state_file, std::ios::binary);
        std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!buf.empty()) {
            try {
                params = lt::read_session_params(buf, lt::session::save_dht_state);
            } catch (const std::exception& e) {
                spdlog::warn("dht: ignoring {}: {}", s.options.state_file.string(), e.what());
            }
        }
    }
    params.settings = sp;
    s.idx_nodes = lt::find_metric_idx("dht.dht_nodes");
    s.idx_msg_in = lt::find_metric_idx("dht.dht_messages_in");
    s.idx_msg_out = lt::find_metric_idx("dht.dht_messages_out");
    s.idx_bytes_in = lt::find_metric_idx("dht.dht_bytes_in");
    s.idx_bytes_out = lt::find_metric_idx("dht.dht_bytes_out");
    s.session = std::make_unique<lt::session>(std::move(params));
    std::weak_ptr<State> weak = state_;
    s.session->set_alert_notify([weak, ex = s.io.get_executor()] {
        asio::post(ex, [weak] {
            if (auto st = weak.lock()) st->drain();
        });
    });
    if (s.options.port_mapping && s.options.peer_port != 0)
        s.session->add_port_mapping(lt::portmap_protocol::tcp, s.options.peer_port, s.options.peer_port);
    s.running = true;
    asio::co_spawn(s.io, s.poll_stats(state_), asio::detached);
}

void Node::stop() {
    auto& s = *state_;
    if (!s.session) return;
    s.running = false;
    s.stats_timer.cancel();
    s.session->set_alert_notify([] {});
    if (!s.options.state_file.empty()) {
        try {
            const auto params = s.session->session_state(lt::session::save_dht_state);
            const auto buf = lt::write_session_params_buf(params, lt::session::save_dht_state);
            core::write_private_file(s.options.state_file, std::string_view(buf.data(), buf.size()));
        } catch (const std::exception& e) {
            spdlog::warn("dht: cannot save the routing table to {}: {}", s.options.state_file.string(), e.what());
        }
    }
    for (auto& [t, ws] : s.gets)
        for (auto& w : ws) w->done.cancel();
    for (auto& [t, ws] : s.puts)
        for (auto& w : ws) w->done.cancel();
    s.gets.clear();
    s.puts.clear();
    s.session.reset(); // joins libtorrent's threads
}

awaitable<std::optional<FoundItem>> Node::get(const proto::PublicKey& key, std::span<const std::uint8_t> salt,
                                              std::chrono::milliseconds timeout, Enough enough) {
    auto state = state_;
    if (!state->session) co_return std::nullopt;
    const std::string salt_text(salt.begin(), salt.end());
    const auto target = proto::presence::item_target(key, salt);
    auto wait = std::make_shared<State::GetWait>(state->io);
    wait->enough = std::move(enough);
    state->session->dht_get_item(to_lt_key(key), salt_text);
    co_await State::await_alert(state->gets, target, wait, timeout);
    co_return wait->best;
}

awaitable<int> Node::put(const proto::presence::ItemKeys& keys, std::uint64_t seq, proto::Bytes sealed,
                         std::chrono::milliseconds timeout) {
    auto state = state_;
    if (!state->session) co_return 0;
    const auto target = keys.target();
    auto wait = std::make_shared<State::PutWait>(state->io);
    // Runs on libtorrent's thread with its own copies: the value, the seq
    // and the signature are fixed before the put starts.
    const auto sig = proto::presence::sign(keys, seq, sealed);
    auto fill = [value = std::string(sealed.begin(), sealed.end()), seq, sig](
                    lt::entry& e, std::array<char, 64>& signature, std::int64_t& s, const std::string&) {
        e = value;
        std::copy(sig.begin(), sig.end(), signature.begin());
        s = static_cast<std::int64_t>(seq);
    };
    state->session->dht_put_item(to_lt_key(keys.item_key), std::move(fill),
                                 std::string(keys.salt.begin(), keys.salt.end()));
    co_await State::await_alert(state->puts, target, wait, timeout);
    co_return wait->stored.value_or(0);
}

nlohmann::json Node::status() const {
    const auto& s = *state_;
    nlohmann::json ext = nlohmann::json::array();
    for (const auto& e : s.external) {
        nlohmann::json j{{"via", e.via}};
        if (!e.address.is_unspecified()) j["address"] = e.address.to_string();
        if (e.port) j["port"] = e.port, j["protocol"] = e.tcp ? "tcp" : "udp";
        ext.push_back(std::move(j));
    }
    return {{"running", s.session != nullptr},
            {"port", s.port},
            {"nodes", s.nodes},
            {"external", std::move(ext)},
            {"listen_errors", s.listen_errors},
            {"packets_out", s.traffic.packets_out},
            {"bytes_out", s.traffic.bytes_out},
            {"packets_in", s.traffic.packets_in},
            {"bytes_in", s.traffic.bytes_in}};
}

std::size_t Node::routing_nodes() const { return state_->nodes; }
std::vector<ExternalEndpoint> Node::external() const { return state_->external; }
std::uint16_t Node::port() const { return state_->port; }
Node::Traffic Node::traffic() const { return state_->traffic; }
void Node::on_external_changed(std::function<void()> fn) { state_->on_external = std::move(fn); }

} // namespace earshot::dht
