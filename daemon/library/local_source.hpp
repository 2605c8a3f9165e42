// The local library as a resolver source: a catalogue lookup, then the
// track records of the best matches.
#pragma once

#include "daemon/index/store.hpp"
#include "resolver/catalogue.hpp"
#include "resolver/pipeline.hpp"

#include <string>
#include <vector>

namespace earshot::library {

class LocalSource final : public resolver::Source {
public:
    LocalSource(const resolver::Catalogue& catalogue, const index::Store& store, std::string name)
        : catalogue_(catalogue), store_(store), name_(std::move(name)) {}
    std::string name() const override { return name_; }
    awaitable<void> resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) override;
    std::vector<resolver::Result> lookup(const resolver::Query& q, std::size_t limit = 20) const;

private:
    const resolver::Catalogue& catalogue_;
    const index::Store& store_;
    std::string name_;
};

} // namespace earshot::library
