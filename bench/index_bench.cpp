// Resolve latency and memory at library scale. Fills an index with N
// synthetic tracks through the index's own API (Store::write, as the scanner
// does), then measures, in one run:
//   - in-process resolve (catalogue lookup + LMDB records): p50/p99, beside
//     a linear scan with the same scorer over every track (the reference
//     the index must beat);
//   - the real earshotd started on that index: time until it answers, RSS,
//     and /api/v1/search p50/p99 over HTTP keep-alive, beside /api/v1/health
//     (the HTTP floor) measured on the same connection.
// Usage: index_bench EARSHOTD N [QUERIES=2000]
#include "bench/synthetic_library.hpp"
#include "cli/client.hpp"
#include "daemon/library/local_source.hpp"
#include "daemon/library/tracks.hpp"
#include "resolver/score.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <thread>

using namespace earshot;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Percentiles {
    double p50, p99;
};
Percentiles percentiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// One line of /proc/PID/status ("VmRSS:", "RssAnon:", "RssFile:") in KiB.
long status_kib(int pid, std::string_view field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    long value = 0;
    while (in >> key) {
        if (key == field) {
            in >> value;
            return value;
        }
        std::getline(in, key);
    }
    return -1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        fmt::print(stderr, "usage: {} EARSHOTD N [QUERIES]\n", argv[0]);
        return 2;
    }
    const std::string earshotd = argv[1];
    const auto n = std::stoul(argv[2]);
    const auto queries = argc > 3 ? std::stoul(argv[3]) : 2000ul;
    test::TempDir tmp("earshot-index-bench");
    const auto data = tmp / "data";

    // Fill the index.
    bench::SyntheticLibrary gen;
    std::vector<bench::SyntheticTrack> tracks;
    tracks.reserve(n);
    auto t0 = Clock::now();
    {
        index::Store store(data / "index");
        const std::size_t batch = 5000;
        for (std::size_t done = 0; done < n; done += batch) {
            store.write([&](index::WriteTxn& w) {
                for (std::size_t i = done; i < std::min(n, done + batch); ++i) {
                    if (tracks.size() <= i) tracks.push_back(gen.next());
                    const auto& s = tracks[i];
                    index::Track t;
                    t.path = fmt::format("/music/{}/{}/{:06}.flac", s.artist, s.album, i);
                    t.stamp = {5'000'000 + i, 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i), i + 1, 1};
                    for (int b = 0; b < 8; ++b) t.content[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
                    t.format = "flac";
                    t.mimetype = "audio/flac";
                    t.tags.artists = {s.artist};
                    t.tags.album = s.album;
                    t.tags.title = s.title;
                    t.audio = {static_cast<std::uint32_t>(s.duration_s * 1000), 900, 44100, 2};
                    t.fingerprint = index::FingerprintState::done;
                    w.put_track(t);
                }
            });
        }
    }
    fmt::print("tracks: {}  (index filled through Store::write in {:.0f} ms)\n", n, ms_since(t0));

    // The query mix: 80 % sloppy spellings of tracks that exist, 20 % misses.
    std::vector<resolver::Query> mix;
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    for (std::size_t i = 0; i < queries; ++i) {
        resolver::Query q;
        if (i % 5 == 4) {
            q.text = "zyxw vutsr qponm " + std::to_string(i);
        } else if (i % 2) {
            const auto& t = tracks[pick(rng)];
            q.artist = t.artist;
            q.track = t.title;
        } else {
            q.text = gen.sloppy_free_text(tracks[pick(rng)]);
        }
        mix.push_back(std::move(q));
    }

    // In-process: exactly what the daemon's local source does.
    {
        index::Store store(data / "index");
        resolver::Catalogue catalogue;
        t0 = Clock::now();
        store.read([&](const index::ReadTxn& r) {
            catalogue.reserve(r.track_count());
            r.for_each_track([&](const index::Track& t) { catalogue.upsert({t.id, library::candidate_of(t)}); });
            return 0;
        });
        const double load_ms = ms_since(t0);
        library::LocalSource local(catalogue, store, "bench");
        std::vector<double> lat;
        std::size_t found = 0;
        for (const auto& q : mix) {
            const auto s = Clock::now();
            found += !local.lookup(q).empty();
            lat.push_back(ms_since(s));
        }
        const auto p = percentiles(lat);
        // Reference: the same scorer over every track, for a few queries.
        std::vector<resolver::Candidate> all;
        store.read([&](const index::ReadTxn& r) {
            r.for_each_track([&](const index::Track& t) { all.push_back(library::candidate_of(t)); });
            return 0;
        });
        std::vector<double> scan;
        for (std::size_t i = 0; i < std::min<std::size_t>(20, mix.size()); ++i) {
            const auto s = Clock::now();
            double best = 0;
            for (const auto& c : all) best = std::max(best, resolver::score(mix[i], c));
            scan.push_back(ms_since(s));
        }
        const auto ps = percentiles(scan);
        fmt::print("in-process: catalogue load {:.0f} ms; resolve p50 {:.3f} ms  p99 {:.3f} ms  ({} of {} found)\n", load_ms,
                   p.p50, p.p99, found, mix.size());
        fmt::print("  reference, linear scan with the same scorer: p50 {:.2f} ms  (index is {:.0f}x faster at p50)\n",
                   ps.p50, ps.p50 / p.p50);
    }

    // The real daemon on that index.
    const auto port = test::free_port();
    t0 = Clock::now();
    test::Process d(earshotd, {"--data", data.string(), "--http", "127.0.0.1:" + std::to_string(port), "--no-watch",
                               "--log-level", "warn"},
                    tmp / "earshotd.log");
    client::Client api("http://127.0.0.1:" + std::to_string(port));
    for (;;) {
        try {
            if (api.get("/api/v1/health").ok()) break;
        } catch (const std::exception&) {
        }
        if (!d.running()) {
            fmt::print(stderr, "earshotd exited:\n{}\n", d.log_text());
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double ready_ms = ms_since(t0);
    std::vector<double> floor_lat, search_lat;
    for (std::size_t i = 0; i < mix.size(); ++i) {
        auto s = Clock::now();
        api.get("/api/v1/health");
        floor_lat.push_back(ms_since(s));
        const auto& q = mix[i];
        const auto target = "/api/v1/search?" + client::query_string({{"q", q.text}, {"artist", q.artist}, {"track", q.track}});
        s = Clock::now();
        auto r = api.get(target);
        search_lat.push_back(ms_since(s));
        if (!r.ok()) {
            fmt::print(stderr, "search failed: {} {}\n", r.status, r.body);
            return 1;
        }
    }
    const auto pf = percentiles(floor_lat), pq = percentiles(search_lat);
    fmt::print("earshotd: ready in {:.0f} ms with {} tracks; RSS after the queries {:.1f} MB "
               "(anonymous {:.1f} MB, index pages mapped from disk {:.1f} MB)\n",
               ready_ms, n, status_kib(d.pid(), "VmRSS:") / 1024.0, status_kib(d.pid(), "RssAnon:") / 1024.0,
               status_kib(d.pid(), "RssFile:") / 1024.0);
    fmt::print("  HTTP /api/v1/search p50 {:.3f} ms  p99 {:.3f} ms\n", pq.p50, pq.p99);
    fmt::print("  reference, HTTP /api/v1/health on the same connection: p50 {:.3f} ms  p99 {:.3f} ms\n", pf.p50, pf.p99);
    return 0;
}
