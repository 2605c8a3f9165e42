// Pinned content as a resolver source of its own, so what the user pinned is
// found with every peer offline (on the train), before and after a restart:
// the pins and their tags live in the chunk cache on disk. Only complete pins
// answer — an incomplete one cannot be played without a peer, and a peer that
// is online answers for it itself.
#pragma once

#include "daemon/stream/chunk_cache.hpp"
#include "proto/messages.hpp"
#include "resolver/catalogue.hpp"
#include "resolver/pipeline.hpp"

#include <map>
#include <mutex>
#include <string>

namespace earshot::stream {

class PinSource final : public resolver::Source {
public:
    PinSource(ChunkCache& cache, std::string name) : cache_(cache), name_(std::move(name)) {}
    std::string name() const override { return name_; }
    awaitable<void> resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) override;
    // The same lookup, synchronously; any thread (own devices' queries are
    // answered on the blocking pool).
    std::vector<resolver::Result> lookup(const resolver::Query& q, std::size_t limit = 20);
    // The same matches as a peer is told of them (own devices ask for pins).
    std::vector<proto::ResultEntry> entries(const resolver::Query& q, std::size_t limit = 20);

private:
    struct Pinned {
        std::uint64_t key = 0;
        PinInfo info;
    };
    // Brings the catalogue in line with the cache's complete pins; cheap
    // when nothing changed (pins are few: one comparison each).
    void refresh();
    std::vector<std::pair<const PinInfo*, double>> matches(const resolver::Query& q, std::size_t limit);
    resolver::Result result_of(const PinInfo& p, double score) const;

    ChunkCache& cache_;
    std::string name_;
    std::mutex mutex_; // guards the members below
    resolver::Catalogue catalogue_;
    std::map<proto::Hash, Pinned> pinned_;
    std::map<std::uint64_t, proto::Hash> by_key_;
    std::uint64_t next_key_ = 1;
};

} // namespace earshot::stream
