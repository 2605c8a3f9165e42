// A test double of the daemon behind the HTTP layer: an in-memory library
// resolved by the real resolver::Resolver, byte streams from memory or files,
// a simulated scan. Shared by test_http_server and test_http_cli.
#pragma once

#include "cli/client.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/http/server.hpp"
#include "proto/asio.hpp"
#include "resolver/pipeline.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace earshot::test {

// Bytes 0..n-1 of a fixed pseudo-random sequence (a byte-for-byte reference).
inline std::vector<std::uint8_t> pattern_bytes(std::size_t n, std::uint32_t seed = 12345) {
    std::vector<std::uint8_t> out(n);
    std::uint32_t x = seed;
    for (auto& b : out) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<std::uint8_t>(x >> 24);
    }
    return out;
}

class MemorySource final : public http::ByteSource {
public:
    // fail_at: throw std::system_error when a read starts at or beyond this offset.
    MemorySource(std::shared_ptr<const std::vector<std::uint8_t>> data, std::string mime,
                 std::uint64_t fail_at = UINT64_MAX)
        : data_(std::move(data)), mime_(std::move(mime)), fail_at_(fail_at) {}
    std::uint64_t size() const override { return data_->size(); }
    std::string mimetype() const override { return mime_; }
    awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        if (offset >= fail_at_) throw std::system_error(std::make_error_code(std::errc::io_error), "simulated read failure");
        if (offset >= data_->size()) co_return 0;
        const auto n = std::min<std::uint64_t>(out.size(), data_->size() - offset);
        std::memcpy(out.data(), data_->data() + offset, n);
        co_return static_cast<std::size_t>(n);
    }

private:
    std::shared_ptr<const std::vector<std::uint8_t>> data_;
    std::string mime_;
    std::uint64_t fail_at_;
};

// pread on a file: sparse multi-GB files exercise 64-bit offsets cheaply.
class FileSource final : public http::ByteSource {
public:
    FileSource(const std::filesystem::path& path, std::string mime) : mime_(std::move(mime)) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
        size_ = std::filesystem::file_size(path);
    }
    ~FileSource() override { ::close(fd_); }
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    std::uint64_t size() const override { return size_; }
    std::string mimetype() const override { return mime_; }
    awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        const auto n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
        if (n < 0) throw std::system_error(errno, std::generic_category(), "pread");
        co_return static_cast<std::size_t>(n);
    }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string mime_;
};

inline std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Answers from a fixed list: a result matches when its artist and title
// appear in the query (fields or free text). Exact field matches score 1.0,
// free-text ones 0.995, a title-only match 0.5. `delay` simulates a slow peer.
class ListSource final : public resolver::Source {
public:
    ListSource(asio::any_io_executor ex, std::string name, std::vector<resolver::Result> items,
               std::chrono::milliseconds delay = {})
        : ex_(std::move(ex)), name_(std::move(name)), items_(std::move(items)), delay_(delay) {}
    std::string name() const override { return name_; }
    awaitable<void> resolve(resolver::Query q, resolver::Emit emit, std::stop_token) override {
        if (delay_.count() > 0) {
            asio::steady_timer t(ex_, delay_);
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        }
        const auto text = lower(q.text), artist = lower(q.artist), track = lower(q.track);
        std::vector<resolver::Result> out;
        for (auto r : items_) {
            const auto a = lower(r.artist), t = lower(r.track);
            if (!artist.empty() && artist == a && track == t) r.score = 1.0;
            else if (!text.empty() && text.find(a) != std::string::npos && text.find(t) != std::string::npos) r.score = 0.995;
            else if ((!track.empty() && track == t) || (!text.empty() && text.find(t) != std::string::npos)) r.score = 0.5;
            else continue;
            out.push_back(std::move(r));
        }
        if (!out.empty()) emit(std::move(out));
    }

private:
    asio::any_io_executor ex_;
    std::string name_;
    std::vector<resolver::Result> items_;
    std::chrono::milliseconds delay_;
};

inline resolver::Result make_result(std::string sid, std::string artist, std::string track, std::string album,
                                    std::uint64_t size, std::string mime) {
    resolver::Result r;
    r.sid = std::move(sid);
    r.artist = std::move(artist);
    r.track = std::move(track);
    r.album = std::move(album);
    r.source = "testlib";
    r.size = size;
    r.bitrate_kbps = 320;
    r.duration_s = 187.4;
    r.mimetype = std::move(mime);
    r.recording = "rec-" + r.sid;
    return r;
}

class TestBackend final : public http::Backend {
public:
    using StreamFactory = std::function<std::unique_ptr<http::ByteSource>()>;

    TestBackend(asio::io_context& io, std::vector<resolver::SourceSpec> sources)
        : io_(io), resolver_(io.get_executor(), std::move(sources)) {}

    // Set up before the server runs; read on the io thread afterwards.
    std::map<std::string, StreamFactory> streams;
    std::map<std::string, nlohmann::json> tracks;
    nlohmann::json failure_list = nlohmann::json::array();
    std::atomic<bool> throw_in_status{false};
    // A simulated scan: request_scan() walks through the phases on timers.
    std::chrono::milliseconds scan_step{40};
    std::uint64_t scan_files = 10;

    std::string name() const override { return "testlib"; }
    nlohmann::json status() const override {
        if (throw_in_status) throw std::runtime_error("status exploded on purpose");
        const auto& sc = *scan_;
        return {{"name", "testlib"},
                {"version", "0.1.0"},
                {"tracks", sc.tracks},
                {"scan",
                 {{"running", sc.running},
                  {"phase", sc.phase},
                  {"files_done", sc.files_done},
                  {"files_total", sc.files_total},
                  {"fingerprints_done", sc.fp_done},
                  {"fingerprints_total", sc.tracks},
                  {"errors", failure_list.size()}}}};
    }
    bool request_scan() override {
        if (scan_->running) return false;
        scan_->running = true; // visible at once, before the first status poll
        scan_->phase = "walking";
        scan_->files_done = scan_->files_total = scan_->fp_done = 0;
        asio::co_spawn(io_, run_scan(io_.get_executor(), scan_, scan_step, scan_files), asio::detached);
        return true;
    }
    awaitable<nlohmann::json> failures() override { co_return failure_list; }
    awaitable<std::optional<nlohmann::json>> track_details(std::string sid) override {
        const auto it = tracks.find(sid);
        if (it == tracks.end()) co_return std::nullopt;
        co_return it->second;
    }
    awaitable<std::unique_ptr<http::ByteSource>> open_stream(std::string sid) override {
        const auto it = streams.find(sid);
        if (it == streams.end()) co_return nullptr;
        co_return it->second();
    }
    // Pairings and pins as plain lists: the HTTP layer's part is routing and
    // validation, which these let the tests observe.
    nlohmann::json peers() const override { return {{"peers", paired}}; }
    nlohmann::json add_peer(const http::PeerSpec& spec) override {
        if (spec.peer_id.size() < 8) throw std::invalid_argument("bad peer id");
        nlohmann::json p{{"peer_id", spec.peer_id}, {"role", spec.role}, {"name", spec.name}, {"address", spec.address}};
        paired.push_back(p);
        return p;
    }
    awaitable<void> saved() override { co_return; }
    bool remove_peer(std::string_view peer_id) override {
        return std::erase_if(paired, [&](const nlohmann::json& p) { return p["peer_id"] == peer_id; }) > 0;
    }
    nlohmann::json pins() const override { return {{"pins", pinned}}; }
    awaitable<nlohmann::json> pin(resolver::Query, std::string sid) override {
        pinned.push_back(sid);
        co_return nlohmann::json{{"pinned", {sid}}};
    }
    awaitable<bool> unpin(std::string sid) override {
        co_return std::erase_if(pinned, [&](const nlohmann::json& p) { return p == sid; }) > 0;
    }
    std::vector<nlohmann::json> paired, pinned;
    resolver::Resolver& resolver() override { return resolver_; }
    bool scan_running() const { return scan_->running; }

private:
    struct ScanState {
        bool running = false;
        std::string phase = "idle";
        std::uint64_t files_done = 0, files_total = 0, fp_done = 0, tracks = 3;
    };
    // Holds the state, not the backend, so a scan may outlive the backend.
    static awaitable<void> run_scan(asio::any_io_executor ex, std::shared_ptr<ScanState> sc,
                                    std::chrono::milliseconds step_time, std::uint64_t files) {
        asio::steady_timer t(ex);
        const auto step = [&]() -> awaitable<void> {
            t.expires_after(step_time);
            co_await t.async_wait(use_awaitable);
        };
        co_await step();
        sc->files_total = files;
        sc->phase = "metadata";
        for (sc->files_done = 0; sc->files_done < files; ++sc->files_done) co_await step();
        sc->tracks = files;
        sc->phase = "fingerprints";
        for (sc->fp_done = 0; sc->fp_done < files; ++sc->fp_done) co_await step();
        sc->phase = "idle";
        sc->running = false;
    }

    asio::io_context& io_;
    resolver::Resolver resolver_;
    std::shared_ptr<ScanState> scan_ = std::make_shared<ScanState>();
};

// A real Server on its own io thread. The backend is built by `make` on the
// io_context so that its resolver lives there.
class ServerHarness {
public:
    ServerHarness(std::function<std::unique_ptr<TestBackend>(asio::io_context&)> make, http::ServerOptions options = {})
        : backend_(make(io_)) {
        if (options.listen.port() == 0 && options.listen.address().is_unspecified() && options.token.empty())
            options.listen = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
        server_ = std::make_unique<http::Server>(io_, *backend_, std::move(options));
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~ServerHarness() { shutdown(); }
    ServerHarness(const ServerHarness&) = delete;
    ServerHarness& operator=(const ServerHarness&) = delete;

    // Stops the server, lets the io_context run dry, and reports whether it did
    // so within `limit` (a clean shutdown leaves no work behind).
    bool shutdown(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        if (!thread_.joinable()) return true;
        server_->stop();
        // The backend's resolver may hold timers for queries; give them no say.
        asio::post(io_, [this] { backend_.reset(); });
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!io_.stopped() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const bool clean = io_.stopped();
        io_.stop();
        thread_.join();
        return clean;
    }

    // Runs f on the io thread and waits for it (for state the io thread owns).
    template <class F>
    auto on_io(F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        asio::post(io_, [&task] { task(); });
        return result.get();
    }

    TestBackend& backend() { return *backend_; }
    std::uint16_t port() const { return server_->local_endpoint().port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    client::Client client(std::string token = {}) const { return client::Client(url(), std::move(token)); }

private:
    asio::io_context io_;
    std::unique_ptr<TestBackend> backend_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

} // namespace earshot::test
