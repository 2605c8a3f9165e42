// Recording identity across peers: which recording id a peer's result is
// shown under here. The same bytes as a file of ours take our recording id;
// a MusicBrainz recording id takes ours when we hold an encoding of it (the
// same id on every peer); anything else keeps the peer's id, prefixed with
// the peer so two peers' private ids never merge by accident.
#pragma once

#include "daemon/index/store.hpp"
#include "daemon/index/track.hpp"
#include "proto/messages.hpp"
#include "proto/peer_id.hpp"

#include <map>
#include <mutex>
#include <string>

namespace earshot::library {

class Recordings {
public:
    explicit Recordings(const index::Store& store) : store_(store) {}
    Recordings(const Recordings&) = delete;
    Recordings& operator=(const Recordings&) = delete;

    // A track was indexed (the scanner's threads, or start-up).
    void learn(const index::Track&);
    // The recording id of a peer's entry as results here show it. Any thread.
    std::string adopt(const proto::PublicKey& from, const proto::ResultEntry&) const;

private:
    const index::Store& store_;
    mutable std::mutex mutex_;
    std::map<std::string, std::string> by_mbid_; // MusicBrainz recording id → ours
};

} // namespace earshot::library
