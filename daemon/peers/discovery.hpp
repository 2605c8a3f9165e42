// LAN discovery: own devices and friends on the same link find each other by
// signed UDP multicast announcements (proto/DISCOVERY.md). Every daemon
// announces "my key, my TCP peer port" to a multicast group now and then and
// listens to the group; a verified announcement from another key becomes a
// Sighting — the sender's UDP source address with the announced port — that
// PeerService keeps in its SightingFinder (finder.hpp), from which the peer
// manager dials it if the key is paired. Discovery only says
// where a key claims to be: the Noise handshake proves who answers there.
#pragma once

#include "daemon/peers/identity.hpp"
#include "proto/announce.hpp"
#include "proto/asio.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>

namespace earshot::peers {

struct DiscoveryOptions {
    // Administratively scoped (RFC 2365), so routers at the site's edge do
    // not forward it; the datagrams are sent with TTL 1 anyway.
    asio::ip::address_v4 group = asio::ip::make_address_v4("239.255.60.211");
    std::uint16_t port = 60212;
    // Between announcements; each wait is drawn from [3/4, 5/4] of it, so
    // daemons started together do not stay in lockstep.
    std::chrono::milliseconds interval{30000};
    // Where to join the group and send from. Unspecified (0.0.0.0): the
    // interface the kernel routes the group to (usually the default route's).
    // 127.0.0.1: only daemons on this host (tests, several daemons on one
    // machine without a LAN).
    asio::ip::address_v4 interface{};
    // Announcements whose timestamp is further than this from our clock are
    // dropped (a captured datagram cannot be replayed later).
    std::chrono::milliseconds max_clock_skew{5 * 60 * 1000};
};

struct Sighting {
    proto::PublicKey key{};
    asio::ip::tcp::endpoint endpoint; // UDP source address, announced TCP port
    std::string name;
    bool operator==(const Sighting&) const = default;
};

// An announcement that passed every check.
struct Heard {
    Sighting sighting;
    // The first from this key and instance (a daemon we did not know, or one
    // that restarted): DISCOVERY.md §4 has us answer with our own
    // announcement, so a newcomer need not wait a whole interval for us.
    bool new_instance = false;
};

// The receiving rules of DISCOVERY.md §4, without sockets or clocks of its
// own: decode strictly, drop our own key, verify the signature, check the
// timestamp against `now`, and drop a datagram that repeats (or predates)
// the last one seen from the same key and instance.
class AnnouncementFilter {
public:
    AnnouncementFilter(const proto::PublicKey& me, std::chrono::milliseconds max_clock_skew);

    // What was heard, or why the datagram was dropped (for debug logs).
    std::variant<Heard, std::string> check(proto::ByteView datagram, const asio::ip::address& source,
                                           std::chrono::system_clock::time_point now);

    // How many keys the replay memory holds at most; beyond that the entry
    // with the oldest timestamp is forgotten (a flood of fresh keys must not
    // grow memory without bound).
    static constexpr std::size_t max_remembered = 1024;

private:
    struct Last {
        proto::announce::Instance instance{};
        std::uint64_t timestamp_ms = 0;
    };
    proto::PublicKey me_;
    std::chrono::milliseconds max_skew_;
    std::map<proto::PublicKey, Last> last_;
};

// Threading: construct, start, announce_now and stop on the thread that runs
// `io` (earshotd runs one); on_sighting is called there too.
class LanDiscovery {
public:
    // `tcp_port` is the peer port being announced (not 0: std::invalid_argument).
    // `name` is cut to what an announcement carries (64 bytes of UTF-8,
    // control characters removed). `me` is copied.
    LanDiscovery(asio::io_context& io, const Identity& me, std::uint16_t tcp_port, std::string name,
                 DiscoveryOptions options, std::function<void(const Sighting&)> on_sighting);
    ~LanDiscovery();
    LanDiscovery(const LanDiscovery&) = delete;
    LanDiscovery& operator=(const LanDiscovery&) = delete;

    // Opens the UDP socket (SO_REUSEADDR, so several daemons on one host all
    // listen), binds the group port, joins the group, then announces at once,
    // every interval (with jitter), on announce_now(), and shortly after
    // hearing a daemon instance it did not know (at most once a second). If the socket cannot
    // be bound or the group joined (no multicast route, port taken without
    // SO_REUSEADDR), logs a warning and leaves discovery disabled: never
    // throws for that. Calling it again, or after stop(), does nothing.
    void start();
    // Announce now instead of waiting for the next interval (e.g. the peer
    // port or the network changed). Does nothing unless active().
    void announce_now();
    // Leaves the group and closes the socket; on_sighting is not called
    // afterwards. Idempotent; the destructor stops.
    void stop();
    // start() bound and joined, and stop() was not called.
    bool active() const;

private:
    struct State;
    asio::io_context& io_;
    std::shared_ptr<State> state_; // shared with the running coroutines, which may outlive *this
};

// `name` cut to fit an announcement: control characters removed, invalid
// UTF-8 replaced by nothing, at most proto::announce::max_name_size bytes,
// never splitting a character.
std::string announcement_name(std::string_view name);

} // namespace earshot::peers
