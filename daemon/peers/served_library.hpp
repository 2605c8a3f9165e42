// What linked peers may see of this daemon (peers::Offering over the real
// library): a friend sees the tracks of the folders shared with them; an own
// device sees the whole library and also what this daemon holds of others'
// content (its pins and chunk cache), so a laptop can fetch from the home
// server what the home server pinned. Friends never see the cache: what is
// cached tells what was played.
//
// Threads: called on the io thread; the catalogue, LMDB and stat() work runs
// on the blocking pool.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/library/library.hpp"
#include "daemon/peers/link.hpp"
#include "daemon/stream/chunk_cache.hpp"
#include "daemon/stream/pin_source.hpp"

namespace earshot::peers {

class ServedLibrary final : public Offering {
public:
    ServedLibrary(library::Library& library, core::Blocking& blocking, stream::ChunkCache& cache,
                  stream::PinSource& pins)
        : library_(library), blocking_(blocking), cache_(cache), pins_(pins) {}

    awaitable<std::vector<proto::ResultEntry>> search(PeerRecord who, resolver::Query q) override;
    awaitable<std::optional<ServedContent>> content(PeerRecord who, proto::Hash id) override;
    void content_changed(const std::string& path) override { library_.recheck(path); }

    // The same, synchronously (what the pool runs; tests call them directly).
    std::vector<proto::ResultEntry> search_now(const PeerRecord& who, const resolver::Query& q) const;
    std::optional<ServedContent> content_now(const PeerRecord& who, const proto::Hash& id) const;

private:
    library::Library& library_;
    core::Blocking& blocking_;
    stream::ChunkCache& cache_;
    stream::PinSource& pins_;
};

} // namespace earshot::peers
