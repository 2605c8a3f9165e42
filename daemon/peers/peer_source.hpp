// A linked peer as a resolver source: the query goes over the link, each
// Results frame becomes a batch in the same qid, and the pipeline's stop
// (cancel, budget) becomes a Cancel on the wire. The source outlives any one
// link: when both sides dial at once one link replaces the other, and a
// query that meets the replaced link waits briefly for the new one and asks
// there.
#pragma once

#include "daemon/peers/link.hpp"
#include "resolver/pipeline.hpp"

#include <functional>
#include <memory>
#include <string>

namespace earshot::peers {

// The resolver knows a peer's source by its key, not its name: two friends
// may both call themselves "laptop", and a peer may be renamed.
std::string source_key(const proto::PublicKey&);

class PeerSource final : public resolver::Source {
public:
    // Translates a peer's entry into a result of ours: the recording id (the
    // peer's ids mean nothing here) and anything else the daemon wants to
    // remember about remote content (size and type, for streaming it later).
    using Adopt = std::function<void(const proto::ResultEntry&, resolver::Result&)>;

    // The peer's current ready link (or null), and an event notified when
    // links come and go (null: do not wait for one). Both belong to `owner`:
    // a query still running when it is gone (the daemon stopping) ends
    // without touching them.
    struct Links {
        std::function<std::shared_ptr<Link>()> current;
        core::Event* changed = nullptr;
        std::weak_ptr<const void> owner;
    };

    PeerSource(Links links, const proto::PublicKey& key, std::string name, Adopt adopt)
        : links_(std::move(links)), key_(source_key(key)), name_(std::move(name)), adopt_(std::move(adopt)) {}
    // Bound to one link.
    PeerSource(std::weak_ptr<Link> link, const proto::PublicKey& key, std::string name, Adopt adopt)
        : PeerSource(Links{[link] { return link.lock(); }, nullptr, {}}, key, std::move(name), std::move(adopt)) {}
    std::string name() const override { return name_; }
    std::string key() const override { return key_; }
    awaitable<void> resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) override;

private:
    // Only a source that waits for links has an owner to outlive.
    bool owner_gone() const { return links_.changed && links_.owner.expired(); }
    // The ready link, waiting up to a second for one (a replacement coming up).
    awaitable<std::shared_ptr<Link>> ready_link();
    awaitable<void> ask(const std::shared_ptr<Link>& link, resolver::Query q, const resolver::Emit& emit,
                        std::stop_token stop);

    Links links_;
    std::string key_;
    std::string name_;
    Adopt adopt_;
};

} // namespace earshot::peers
