#include "daemon/dht/dht_service.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace earshot::dht {
namespace presence = proto::presence;

namespace {

std::optional<presence::Address> to_presence(const asio::ip::address& a) {
    if (a.is_unspecified()) return std::nullopt;
    if (a.is_v4()) return presence::Ipv4(a.to_v4().to_bytes());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return presence::Ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes());
    if (v6.is_link_local()) return std::nullopt; // needs a scope a peer elsewhere cannot know
    return presence::Ipv6(v6.to_bytes());
}

// The host's own addresses, for a listener bound to the unspecified address.
std::vector<asio::ip::address> interface_addresses(bool v6) {
    std::vector<asio::ip::address> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (auto* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            out.push_back(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
        } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            asio::ip::address_v6::bytes_type b;
            std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr), b.begin());
            out.push_back(asio::ip::address_v6(b));
        }
    }
    ::freeifaddrs(list);
    return out;
}

} // namespace

std::vector<std::string> default_bootstrap() {
    return {"router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881",
            "dht.libtorrent.org:25401"};
}

presence::EndpointKind kind_of(const asio::ip::address& a) {
    if (a.is_loopback()) return presence::EndpointKind::lan;
    if (a.is_v4()) {
        const auto b = a.to_v4().to_bytes();
        const bool priv = b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
                          (b[0] == 169 && b[1] == 254) || (b[0] == 100 && (b[1] & 0xc0) == 64);
        return priv ? presence::EndpointKind::lan : presence::EndpointKind::direct;
    }
    const auto v6 = a.to_v6();
    const bool ula = (v6.to_bytes()[0] & 0xfe) == 0xfc;
    return v6.is_link_local() || ula ? presence::EndpointKind::lan : presence::EndpointKind::direct;
}

DhtService::DhtService(asio::io_context& io, const peers::Identity& me, peers::PeerService& peers,
                       DhtServiceOptions options)
    : io_(io), me_(me), peers_(peers), options_(std::move(options)) {}

DhtService::~DhtService() { stop(); }

void DhtService::start() {
    if (started_) return;
    started_ = true;
    // Mapped on the router with the DHT's own port (node.hpp says why two).
    auto node_options = options_.node;
    node_options.peer_port = peers_.manager().local_endpoint().port();
    node_ = std::make_unique<Node>(io_, std::move(node_options));
    presence_ = std::make_unique<Presence>(io_, *node_, me_, peers_.roster(), [this] { return endpoints(); },
                                           options_.presence);
    presence_->on_found = [this](const proto::PublicKey& k) { peers_.manager().look_again(k); };
    presence_->still_wanted = [this](const proto::PublicKey& k) { return peers_.manager().link(k) == nullptr; };
    node_->on_external_changed([this] { presence_->republish(); });
    node_->start();
    peers_.add_finder(*presence_);
    presence_->start();
}

void DhtService::stop() {
    if (!started_) return;
    started_ = false;
    presence_->stop();
    node_->stop();
}

std::vector<presence::Endpoint> DhtService::endpoints() const {
    std::vector<presence::Endpoint> out;
    if (!node_) return out;
    const auto add = [&](presence::EndpointKind kind, const asio::ip::address& a, std::uint16_t port) {
        const auto addr = to_presence(a);
        if (!addr || port == 0 || out.size() >= presence::max_endpoints) return;
        const presence::Endpoint e{kind, *addr, port};
        if (std::none_of(out.begin(), out.end(), [&](const auto& x) { return x.address == e.address && x.port == e.port; }))
            out.push_back(e);
    };
    const auto local = peers_.manager().local_endpoint();
    const auto port = local.port();
    if (local.address().is_unspecified()) {
        for (const auto& a : interface_addresses(local.address().is_v6()))
            if (!a.is_loopback()) add(kind_of(a), a, port);
    } else {
        add(kind_of(local.address()), local.address(), port);
    }
    for (const auto& e : node_->external()) {
        if (e.via != "observed") continue;
        add(presence::EndpointKind::observed, e.address, port);
        for (const auto& m : node_->external())
            if (m.via != "observed" && m.tcp && m.port) add(presence::EndpointKind::mapped, e.address, m.port);
    }
    // Mapped ahead of observed: it is the one that goes through the router.
    std::stable_partition(out.begin(), out.end(),
                          [](const auto& e) { return e.kind != presence::EndpointKind::observed; });
    return out;
}

void DhtService::status_part(nlohmann::json& status) const {
    if (!node_) {
        status["dht"] = {{"running", false}};
        return;
    }
    auto dht = node_->status();
    dht["presence"] = presence_->status();
    const auto eps = endpoints();
    nlohmann::json published = nlohmann::json::array();
    for (const auto& e : eps)
        published.push_back({{"address", to_address(e)},
                             {"kind", e.kind == presence::EndpointKind::lan      ? "lan"
                                      : e.kind == presence::EndpointKind::mapped ? "mapped"
                                      : e.kind == presence::EndpointKind::direct ? "direct"
                                                                                 : "observed"}});
    dht["endpoints"] = std::move(published);
    // How peers elsewhere can reach us, as far as this daemon can tell: an
    // address of its own that is public, a port the router mapped, or
    // neither (then only the LAN, or a peer that relays).
    const auto has = [&](presence::EndpointKind k) {
        return std::any_of(eps.begin(), eps.end(), [&](const auto& e) { return e.kind == k; });
    };
    dht["reachable"] = has(presence::EndpointKind::direct)   ? "direct"
                       : has(presence::EndpointKind::mapped) ? "mapped"
                                                             : "lan only";
    status["dht"] = std::move(dht);
}

} // namespace earshot::dht
