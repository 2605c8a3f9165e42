#include "daemon/peers/discovery.hpp"

#include <sodium.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>

namespace earshot::peers {

namespace {

using asio::ip::udp;
using boost::system::error_code;
namespace announce = proto::announce;

std::uint64_t unix_ms(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return 0;
    if (i + n >= s.size()) return 0;
    for (std::size_t k = 1; k <= n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (d & 0x3F);
    }
    static constexpr std::uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n + 1;
}

} // namespace

std::string announcement_name(std::string_view name) {
    std::string out;
    std::size_t i = 0;
    while (i < name.size()) {
        const std::size_t n = utf8_sequence(name, i);
        if (n == 0) { ++i; continue; } // a stray byte of broken UTF-8
        const auto c = static_cast<unsigned char>(name[i]);
        const bool control = n == 1 && (c < 0x20 || c == 0x7F);
        if (!control) {
            if (out.size() + n > announce::max_name_size) break;
            out.append(name.substr(i, n));
        }
        i += n;
    }
    return out;
}

// --- AnnouncementFilter ----------------------------------------------------

AnnouncementFilter::AnnouncementFilter(const proto::PublicKey& me, std::chrono::milliseconds max_clock_skew)
    : me_(me), max_skew_(max_clock_skew) {}

std::variant<Heard, std::string> AnnouncementFilter::check(proto::ByteView datagram, const asio::ip::address& source,
                                                           std::chrono::system_clock::time_point now) {
    announce::Decoded d;
    try {
        d = announce::decode(datagram);
    } catch (const proto::DecodeError& e) {
        return std::string(e.what());
    }
    const auto& a = d.announcement;
    // Our own datagrams come back to us through multicast loopback.
    if (a.key == me_) return std::string("our own announcement");
    if (!Identity::verify(a.key, d.signed_message, d.signature))
        return "bad signature (claims " + proto::format_peer_id(a.key) + ")";

    const std::uint64_t here = unix_ms(now);
    const std::uint64_t skew = a.timestamp_ms > here ? a.timestamp_ms - here : here - a.timestamp_ms;
    if (skew > static_cast<std::uint64_t>(max_skew_.count()))
        return "timestamp " + std::to_string(skew / 1000) + " s off our clock (from " +
               proto::format_peer_id(a.key) + ")";

    // Within the skew window a captured datagram could still be replayed,
    // from anywhere on the link; one instance's timestamps only grow, so a
    // datagram no newer than the last one of that instance is a copy. (A
    // replayed datagram would only make us dial an address where the key
    // cannot complete a handshake, but it must not move a peer's address.)
    bool new_instance = true;
    if (auto it = last_.find(a.key); it != last_.end()) {
        if (it->second.instance == a.instance) {
            if (a.timestamp_ms <= it->second.timestamp_ms)
                return "replayed or reordered announcement from " + proto::format_peer_id(a.key);
            new_instance = false;
        }
        it->second = {a.instance, a.timestamp_ms};
    } else {
        if (last_.size() >= max_remembered) {
            const auto oldest = std::min_element(last_.begin(), last_.end(), [](const auto& x, const auto& y) {
                return x.second.timestamp_ms < y.second.timestamp_ms;
            });
            last_.erase(oldest);
        }
        last_.emplace(a.key, Last{a.instance, a.timestamp_ms});
    }

    return Heard{Sighting{a.key, asio::ip::tcp::endpoint(source, a.port), a.name}, new_instance};
}

// --- LanDiscovery ----------------------------------------------------------

// Everything the coroutines touch. They hold a shared_ptr to it, so a
// LanDiscovery may be destroyed while an aborted receive or wait is still
// queued on the io_context.
struct LanDiscovery::State {
    State(asio::io_context& io, const Identity& me, std::uint16_t tcp_port, std::string name, DiscoveryOptions o,
          std::function<void(const Sighting&)> cb)
        : identity(me), options(o), socket(io), timer(io), reply_timer(io), on_sighting(std::move(cb)),
          filter(me.public_key(), o.max_clock_skew), rng(std::random_device{}()) {
        announcement.key = me.public_key();
        announcement.port = tcp_port;
        announcement.name = announcement_name(name);
        randombytes_buf(announcement.instance.data(), announcement.instance.size());
    }

    Identity identity;
    DiscoveryOptions options;
    udp::socket socket;
    asio::steady_timer timer;       // until the next announcement
    asio::steady_timer reply_timer; // until the answer to a newcomer
    std::function<void(const Sighting&)> on_sighting;
    AnnouncementFilter filter;
    announce::Announcement announcement; // timestamp filled in per send
    std::mt19937 rng;
    bool started = false;
    bool stopped = false;
    bool now_requested = false;
    bool send_failing = false; // warn once per outage, not every interval
    bool reply_pending = false;
    std::chrono::steady_clock::time_point last_sent{};

    bool running() const { return started && !stopped; }
    std::chrono::milliseconds next_wait();
    void send_soon(); // the next loop iteration sends at once
    // `s` is always this State: the pending wait or the running loop keeps
    // it alive through that shared_ptr.
    void answer_newcomer(std::shared_ptr<State> s);
    awaitable<void> send_one();
    awaitable<void> announce_loop(std::shared_ptr<State> s);
    awaitable<void> receive_loop(std::shared_ptr<State> s);
};

std::chrono::milliseconds LanDiscovery::State::next_wait() {
    const auto base = std::max<std::int64_t>(options.interval.count(), 1);
    std::uniform_int_distribution<std::int64_t> jitter(base * 3 / 4, base * 5 / 4);
    return std::chrono::milliseconds(jitter(rng));
}

void LanDiscovery::State::send_soon() {
    // The flag covers a request that arrives while a send is in flight (the
    // loop is then not waiting on the timer, so cancel() alone would be lost).
    now_requested = true;
    timer.cancel();
}

void LanDiscovery::State::answer_newcomer(std::shared_ptr<State> s) {
    // Every daemon on the link answers a newcomer, so the answers are spread
    // over a random delay, at least a second after our previous datagram, and
    // several newcomers in that time share one answer: a flood of fresh keys
    // makes us send at most one datagram a second.
    if (reply_pending || stopped) return;
    reply_pending = true;
    std::uniform_int_distribution<int> spread(50, 500);
    const auto when = std::max(std::chrono::steady_clock::now() + std::chrono::milliseconds(spread(rng)),
                               last_sent + std::chrono::seconds(1));
    reply_timer.expires_at(when);
    reply_timer.async_wait([s = std::move(s)](const error_code& ec) {
        s->reply_pending = false;
        if (ec || s->stopped) return;
        s->send_soon();
    });
}

awaitable<void> LanDiscovery::State::send_one() {
    last_sent = std::chrono::steady_clock::now();
    announcement.timestamp_ms = unix_ms(std::chrono::system_clock::now());
    const auto signature = identity.sign(announce::signing_input(announcement));
    const proto::Bytes datagram = announce::encode(announcement, signature);
    error_code ec;
    co_await socket.async_send_to(asio::buffer(datagram), udp::endpoint(options.group, options.port),
                                  asio::redirect_error(use_awaitable, ec));
    if (!ec) {
        if (send_failing) spdlog::info("LAN discovery: announcements are getting out again");
        send_failing = false;
    } else if (ec != asio::error::operation_aborted && !stopped) {
        if (!send_failing)
            spdlog::warn("LAN discovery: cannot send an announcement to {}:{}: {}", options.group.to_string(),
                         options.port, ec.message());
        else
            spdlog::debug("LAN discovery: sending failed again: {}", ec.message());
        send_failing = true;
    }
}

LanDiscovery::LanDiscovery(asio::io_context& io, const Identity& me, std::uint16_t tcp_port, std::string name,
                           DiscoveryOptions options, std::function<void(const Sighting&)> on_sighting)
    : io_(io) {
    if (tcp_port == 0) throw std::invalid_argument("LAN discovery: cannot announce TCP port 0");
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    state_ = std::make_shared<State>(io, me, tcp_port, std::move(name), options, std::move(on_sighting));
}

LanDiscovery::~LanDiscovery() { stop(); }

bool LanDiscovery::active() const { return state_->running(); }

void LanDiscovery::start() {
    auto& s = *state_;
    if (s.started || s.stopped) return;
    const auto& o = s.options;
    const auto where = o.group.to_string() + ":" + std::to_string(o.port);
    const auto fail = [&](const char* what, const error_code& ec) {
        spdlog::warn("LAN discovery disabled: cannot {} ({}): {}", what, where, ec.message());
        error_code ignored;
        s.socket.close(ignored);
    };
    error_code ec;
    if (s.socket.open(udp::v4(), ec); ec) return fail("open a UDP socket", ec);
    // SO_REUSEADDR lets every daemon on this host bind the group port; each
    // socket that joined the group gets its own copy of every datagram.
    if (s.socket.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("set SO_REUSEADDR", ec);
    if (s.socket.bind(udp::endpoint(asio::ip::address_v4::any(), o.port), ec); ec)
        return fail("bind the discovery port", ec);
    if (s.socket.set_option(asio::ip::multicast::join_group(o.group, o.interface), ec); ec)
        return fail("join the multicast group", ec);
    if (!o.interface.is_unspecified()) {
        if (s.socket.set_option(asio::ip::multicast::outbound_interface(o.interface), ec); ec)
            return fail("send multicast from the configured interface", ec);
    }
    // Loopback on: other daemons on this host hear us (we drop our own copy).
    // TTL 1: announcements stay on the link.
    if (s.socket.set_option(asio::ip::multicast::enable_loopback(true), ec); ec)
        return fail("enable multicast loopback", ec);
    if (s.socket.set_option(asio::ip::multicast::hops(1), ec); ec) return fail("set the multicast TTL", ec);

    s.started = true;
    spdlog::info("LAN discovery on {} (interface {}), announcing TCP port {}{}", where,
                 o.interface.is_unspecified() ? std::string("default") : o.interface.to_string(),
                 s.announcement.port, s.announcement.name.empty() ? "" : " as \"" + s.announcement.name + "\"");
    asio::co_spawn(io_, s.receive_loop(state_), asio::detached);
    asio::co_spawn(io_, s.announce_loop(state_), asio::detached);
}

void LanDiscovery::announce_now() {
    auto& s = *state_;
    if (!s.running()) return;
    s.send_soon();
}

void LanDiscovery::stop() {
    auto& s = *state_;
    if (s.stopped) return;
    s.stopped = true;
    error_code ignored;
    if (s.started && s.socket.is_open())
        s.socket.set_option(asio::ip::multicast::leave_group(s.options.group, s.options.interface), ignored);
    s.socket.close(ignored);
    s.timer.cancel();
    s.reply_timer.cancel();
}

awaitable<void> LanDiscovery::State::announce_loop(std::shared_ptr<State> s) {
    while (!s->stopped) {
        s->now_requested = false;
        co_await s->send_one();
        if (s->stopped) break;
        if (s->now_requested) continue;
        s->timer.expires_after(s->next_wait());
        error_code ec;
        co_await s->timer.async_wait(asio::redirect_error(use_awaitable, ec));
        // Cancelled: stop() (checked by the loop) or announce_now().
    }
}

awaitable<void> LanDiscovery::State::receive_loop(std::shared_ptr<State> s) {
    // Larger than any valid announcement, so an oversized datagram arrives
    // oversized (and is rejected) instead of being cut down to a valid size.
    std::array<std::uint8_t, 512> buffer{};
    static_assert(sizeof(buffer) > proto::announce::max_size);
    udp::endpoint from;
    while (!s->stopped) {
        error_code ec;
        const std::size_t n = co_await s->socket.async_receive_from(asio::buffer(buffer), from,
                                                                    asio::redirect_error(use_awaitable, ec));
        if (s->stopped || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            // Not expected on a UDP socket; pause rather than spin if it repeats.
            spdlog::debug("LAN discovery: receive failed: {}", ec.message());
            asio::steady_timer pause(s->socket.get_executor(), std::chrono::seconds(1));
            co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
            continue;
        }
        auto verdict = s->filter.check(proto::ByteView(buffer.data(), n), from.address(),
                                       std::chrono::system_clock::now());
        if (auto* why = std::get_if<std::string>(&verdict)) {
            spdlog::trace("LAN discovery: dropped {} bytes from {}: {}", n, from.address().to_string(), *why);
            continue;
        }
        const auto& [sighting, new_instance] = std::get<Heard>(verdict);
        if (new_instance) s->answer_newcomer(s);
        spdlog::debug("LAN discovery: {} at {}:{}{}", proto::format_peer_id(sighting.key),
                      sighting.endpoint.address().to_string(), sighting.endpoint.port(),
                      sighting.name.empty() ? "" : " (\"" + sighting.name + "\")");
        if (!s->on_sighting) continue;
        try {
            s->on_sighting(sighting);
        } catch (const std::exception& e) {
            // The consumer's failure must not end discovery for everyone else.
            spdlog::error("LAN discovery: handling a sighting failed: {}", e.what());
        }
    }
}

} // namespace earshot::peers
