// The peers this daemon is paired with: own devices (same owner, see the
// whole library) and friends (see only the folders shared with them). Kept
// in DATA/peers.json (0600), rewritten atomically on every change of
// pairing (on the blocking pool when one is given: core::SavedFile); "last
// seen" figures are saved with the next change or on stop.
#pragma once

#include "daemon/core/saved_file.hpp"
#include "proto/peer_id.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace earshot::peers {

enum class Role { device, friend_ };
std::string_view to_string(Role);
std::optional<Role> role_from_string(std::string_view);

struct PeerRecord {
    proto::PublicKey key{};
    Role role = Role::device;
    std::string name;
    // Where to dial it ("host:port"), if the user gave one; otherwise LAN
    // discovery or the last address it connected from.
    std::string address;
    // Friends only: the library folders they may see; nullopt = all of them.
    std::optional<std::vector<std::string>> shared;
    std::string last_address;    // where the last link came from or went to
    std::int64_t last_seen_ms = 0; // unix ms of the last message over a link; 0 = never
    std::int64_t added_ms = 0;

    // May this peer see a file at `path` of a library with these folders?
    bool may_see(std::string_view path) const;
};

nlohmann::json to_json(const PeerRecord&);
// Throws std::invalid_argument for a malformed record.
PeerRecord record_from_json(const nlohmann::json&);

class Roster {
public:
    // Reads the file if it is there. A damaged file is an error (pairings
    // are never silently forgotten).
    explicit Roster(std::filesystem::path file, asio::any_io_executor ex = {}, core::Blocking* blocking = nullptr);

    std::optional<PeerRecord> find(const proto::PublicKey&) const;
    const std::vector<PeerRecord>& list() const { return peers_; }
    // Adds or replaces (same key) and saves.
    void upsert(PeerRecord);
    bool remove(const proto::PublicKey&);
    // Link activity; kept in memory until the next save.
    void seen(const proto::PublicKey&, const std::string& address, std::int64_t unix_ms);
    // Once every change so far is on the disk; throws std::system_error if
    // the disk refused it.
    awaitable<void> saved() { co_await file_.saved(); }
    // At shutdown: writes the last-seen figures at once.
    void save_now() { file_.save_now(document()); }

private:
    std::string document() const;

    core::SavedFile file_;
    std::vector<PeerRecord> peers_;
};

std::int64_t unix_ms_now();

} // namespace earshot::peers
