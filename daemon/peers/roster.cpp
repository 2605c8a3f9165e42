#include "daemon/peers/roster.hpp"

#include "daemon/core/private_file.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>

namespace earshot::peers {

std::string_view to_string(Role r) { return r == Role::device ? "device" : "friend"; }

std::optional<Role> role_from_string(std::string_view s) {
    if (s == "device") return Role::device;
    if (s == "friend") return Role::friend_;
    return std::nullopt;
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool PeerRecord::may_see(std::string_view path) const {
    if (role == Role::device || !shared) return true;
    return std::any_of(shared->begin(), shared->end(), [&](const std::string& folder) {
        // A folder covers itself and what is below it, never a sibling that
        // merely shares a prefix ("/music" does not cover "/music-private").
        return path.starts_with(folder) && (path.size() == folder.size() || path[folder.size()] == '/' ||
                                            (!folder.empty() && folder.back() == '/'));
    });
}

nlohmann::json to_json(const PeerRecord& p) {
    nlohmann::json j{{"peer_id", proto::format_peer_id(p.key)},
                     {"role", to_string(p.role)},
                     {"name", p.name},
                     {"address", p.address},
                     {"last_address", p.last_address},
                     {"last_seen_ms", p.last_seen_ms},
                     {"added_ms", p.added_ms}};
    j["shared"] = p.shared ? nlohmann::json(*p.shared) : nlohmann::json(nullptr);
    return j;
}

PeerRecord record_from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw std::invalid_argument("peer record is not an object");
    PeerRecord p;
    auto key = proto::parse_peer_id(j.at("peer_id").get<std::string>());
    if (auto* err = std::get_if<std::string>(&key)) throw std::invalid_argument("bad peer id: " + *err);
    p.key = std::get<proto::PublicKey>(key);
    const auto role = role_from_string(j.at("role").get<std::string>());
    if (!role) throw std::invalid_argument("bad role " + j.at("role").dump());
    p.role = *role;
    p.name = j.value("name", "");
    p.address = j.value("address", "");
    p.last_address = j.value("last_address", "");
    p.last_seen_ms = j.value("last_seen_ms", std::int64_t{0});
    p.added_ms = j.value("added_ms", std::int64_t{0});
    if (j.contains("shared") && !j["shared"].is_null()) p.shared = j["shared"].get<std::vector<std::string>>();
    return p;
}

Roster::Roster(std::filesystem::path file, asio::any_io_executor ex, core::Blocking* blocking)
    : file_(std::move(ex), blocking, std::move(file)) {
    std::ifstream in(file_.path());
    if (!in) return;
    try {
        const auto doc = nlohmann::json::parse(in);
        for (const auto& entry : doc.at("peers")) peers_.push_back(record_from_json(entry));
    } catch (const std::exception& e) {
        throw std::runtime_error(file_.path().string() + " is damaged (" + e.what() +
                                 "); fix it or move it away to start with no paired peers");
    }
}

std::optional<PeerRecord> Roster::find(const proto::PublicKey& key) const {
    auto it = std::find_if(peers_.begin(), peers_.end(), [&](const PeerRecord& p) { return p.key == key; });
    if (it == peers_.end()) return std::nullopt;
    return *it;
}

void Roster::upsert(PeerRecord record) {
    auto it = std::find_if(peers_.begin(), peers_.end(), [&](const PeerRecord& p) { return p.key == record.key; });
    if (it == peers_.end()) {
        if (record.added_ms == 0) record.added_ms = unix_ms_now();
        peers_.push_back(std::move(record));
    } else {
        // What the links learnt survives a re-add.
        if (record.last_seen_ms == 0) record.last_seen_ms = it->last_seen_ms;
        if (record.last_address.empty()) record.last_address = it->last_address;
        if (record.added_ms == 0) record.added_ms = it->added_ms;
        *it = std::move(record);
    }
    file_.save(document());
}

bool Roster::remove(const proto::PublicKey& key) {
    const auto before = peers_.size();
    std::erase_if(peers_, [&](const PeerRecord& p) { return p.key == key; });
    if (peers_.size() == before) return false;
    file_.save(document());
    return true;
}

void Roster::seen(const proto::PublicKey& key, const std::string& address, std::int64_t unix_ms) {
    for (auto& p : peers_)
        if (p.key == key) {
            if (!address.empty()) p.last_address = address;
            p.last_seen_ms = unix_ms;
        }
}

std::string Roster::document() const {
    nlohmann::json doc{{"version", 1}, {"peers", nlohmann::json::array()}};
    for (const auto& p : peers_) doc["peers"].push_back(to_json(p));
    return doc.dump(2) + "\n";
}

} // namespace earshot::peers
