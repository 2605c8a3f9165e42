#include "daemon/library/local_source.hpp"

#include "daemon/library/tracks.hpp"

namespace earshot::library {

std::vector<resolver::Result> LocalSource::lookup(const resolver::Query& q, std::size_t limit) const {
    const auto matches = catalogue_.search(q, limit);
    std::vector<resolver::Result> out;
    out.reserve(matches.size());
    store_.read([&](const index::ReadTxn& r) {
        for (const auto& m : matches)
            if (auto t = r.track(m.key)) out.push_back(result_of(*t, name_, m.score)); // else removed meanwhile
        return 0;
    });
    return out;
}

awaitable<void> LocalSource::resolve(resolver::Query q, resolver::Emit emit, std::stop_token) {
    auto results = lookup(q);
    if (!results.empty()) emit(std::move(results));
    co_return;
}

} // namespace earshot::library
