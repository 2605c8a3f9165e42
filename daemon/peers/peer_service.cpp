#include "daemon/peers/peer_service.hpp"

#include "daemon/peers/peer_source.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace earshot::peers {

std::string source_name(const PeerRecord& rec) {
    return rec.name.empty() ? proto::format_peer_id(rec.key).substr(0, 7) : rec.name;
}

PeerService::PeerService(asio::io_context& io, const Identity& me, const std::filesystem::path& roster_file,
                         Offering& library, core::Blocking& blocking, core::EventBus& events,
                         resolver::Resolver& resolver, PeerServiceOptions options, Adopt adopt)
    : io_(io), me_(me), events_(events), resolver_(resolver), options_(std::move(options)), adopt_(std::move(adopt)),
      roster_(roster_file, io.get_executor(), &blocking), manager_(io, me, roster_, library, blocking, options_.manager, finders_) {
    manager_.on_link_up = [this](const std::shared_ptr<Link>& l) { link_up(l); };
    manager_.on_link_down = [this](const std::shared_ptr<Link>& l) { link_down(l); };
}

void PeerService::start() {
    manager_.start();
    started_ = true;
    if (!options_.discovery) return;
    DiscoveryOptions d;
    d.port = options_.discovery_port;
    // A peer port on loopback can only be reached from this host, so
    // announce it there (several daemons on one machine, tests).
    if (manager_.local_endpoint().address().is_loopback()) d.interface = asio::ip::address_v4::loopback();
    auto sighted = [this](const Sighting& s) {
        if (sightings_.sighted(s.key, s.endpoint)) manager_.look_again(s.key);
    };
    discovery_ = std::make_unique<LanDiscovery>(io_, me_, manager_.local_endpoint().port(), options_.manager.name, d,
                                                std::move(sighted));
    discovery_->start();
}

void PeerService::stop() {
    if (discovery_) discovery_->stop();
    if (started_) manager_.stop();
    // The peers' sources look their links up here: none may outlive us in
    // the resolver, whatever the links' own ends still have to run.
    for (const auto& rec : roster_.list()) resolver_.remove_source(source_key(rec.key));
}

void PeerService::status_part(nlohmann::json& status) const {
    status["peer_id"] = me_.peer_id();
    status["peer_port"] = started_ ? manager_.local_endpoint().port() : 0;
    status["peers_online"] = manager_.links().size();
    status["peers_paired"] = roster_.list().size();
}

void PeerService::link_up(const std::shared_ptr<Link>& link) {
    if (manager_.link(link->key()) != link) return; // replaced meanwhile: the current link is the source
    auto adopt = [this, key = link->key()](const proto::ResultEntry& e, resolver::Result& r) {
        if (adopt_) adopt_(key, e, r);
    };
    // Replaces the source of an earlier link of this peer.
    PeerSource::Links links{[this, key = link->key()] { return manager_.link(key); }, &manager_.links_changed(),
                            alive_};
    resolver_.add_source({std::make_shared<PeerSource>(std::move(links), link->key(), source_name(link->record()),
                                                       std::move(adopt)),
                          1.0, std::chrono::milliseconds(3000)});
    events_.publish(core::events::LinkUp{proto::format_peer_id(link->key()), link->record().name, link->remote_address()});
    if (on_source_added) on_source_added();
}

void PeerService::link_down(const std::shared_ptr<Link>& link) {
    // A link replaced by a newer one (both sides dialled at once) must not
    // take the newer one's source with it.
    if (auto current = manager_.link(link->key()); current && current != link) return;
    resolver_.remove_source(source_key(link->key()));
    events_.publish(core::events::LinkDown{proto::format_peer_id(link->key()), link->record().name});
}

nlohmann::json PeerService::peers() const {
    auto list = nlohmann::json::array();
    for (const auto& rec : roster_.list()) list.push_back(started_ ? manager_.describe(rec) : to_json(rec));
    return {{"peer_id", me_.peer_id()}, {"peers", std::move(list)}};
}

PeerRecord PeerService::record_of(const http::PeerSpec& spec) const {
    auto parsed = proto::parse_peer_id(spec.peer_id);
    if (auto* err = std::get_if<std::string>(&parsed)) throw std::invalid_argument("peer id: " + *err);
    PeerRecord rec;
    rec.key = std::get<proto::PublicKey>(parsed);
    if (rec.key == me_.public_key()) throw std::invalid_argument("that is this daemon's own peer id");
    const auto role = role_from_string(spec.role);
    if (!role) throw std::invalid_argument("role must be 'device' or 'friend'");
    rec.role = *role;
    rec.name = spec.name.empty() ? proto::format_peer_id(rec.key).substr(0, 7) : spec.name;
    if (rec.name == options_.manager.name) throw std::invalid_argument("'" + rec.name + "' is this daemon's own name");
    if (rec.name == options_.pins_source)
        throw std::invalid_argument("'" + rec.name + "' names this daemon's pinned tracks");
    for (const auto& other : roster_.list())
        if (other.key != rec.key && other.name == rec.name)
            throw std::invalid_argument("the name '" + rec.name + "' is already used by another peer");
    if (!spec.address.empty()) {
        split_host_port(spec.address); // throws std::invalid_argument
        rec.address = spec.address;
    }
    if (spec.shared) {
        if (rec.role == Role::device)
            throw std::invalid_argument("own devices see the whole library; --share is for friends");
        std::vector<std::string> folders;
        for (auto folder : *spec.shared) {
            folder = std::filesystem::path(folder).lexically_normal().string();
            while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
            const auto& libs = options_.libraries;
            const bool in_library = std::any_of(libs.begin(), libs.end(), [&](const auto& lib) {
                return folder == lib || (folder.starts_with(lib) && folder[lib.size()] == '/');
            });
            if (!in_library) throw std::invalid_argument("'" + folder + "' is not a library folder or inside one");
            folders.push_back(folder);
        }
        rec.shared = std::move(folders);
    }
    return rec;
}

nlohmann::json PeerService::add_peer(const http::PeerSpec& spec) {
    auto rec = record_of(spec);
    roster_.upsert(rec);
    if (started_) manager_.paired(rec); // else start() dials everyone in the roster
    spdlog::info("paired with {} {} ({})", to_string(rec.role), rec.name, proto::format_peer_id(rec.key));
    events_.publish(core::events::PeerPaired{proto::format_peer_id(rec.key), rec.name, std::string(to_string(rec.role))});
    return started_ ? manager_.describe(*roster_.find(rec.key)) : to_json(rec);
}

bool PeerService::remove_peer(std::string_view peer_id) {
    auto parsed = proto::parse_peer_id(peer_id);
    if (std::holds_alternative<std::string>(parsed)) return false;
    const auto key = std::get<proto::PublicKey>(parsed);
    const auto rec = roster_.find(key);
    if (!rec || !roster_.remove(key)) return false;
    resolver_.remove_source(source_key(key));
    if (started_) manager_.unpaired(key);
    spdlog::info("unpaired {} ({})", rec->name, proto::format_peer_id(key));
    events_.publish(core::events::PeerRemoved{proto::format_peer_id(key), rec->name});
    return true;
}

} // namespace earshot::peers
