#pragma once

#include "cli/client.hpp"
#include "tests/support/process.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

namespace earshot::test {

// One Server-Sent Event of GET /api/v1/events.
struct Event {
    std::uint64_t id = 0;
    std::string kind;
    nlohmann::json data;
};
// A text/event-stream body as EventSource reads it (one data line per event here).
std::vector<Event> parse_events(const std::string& body);

// A real earshotd process ($EARSHOTD, set by CTest) on a free loopback port
// with its own data folder; stopped with SIGTERM when destroyed.
class Daemon {
public:
    // `args` come after the ones Daemon sets (--http, --data, --log-level).
    Daemon(const std::filesystem::path& data, std::vector<std::string> args, std::string http_host = "127.0.0.1");

    const std::string& url() const { return url_; }
    // The loopback peer port the Daemon chose (0 if the test passed --listen).
    unsigned short peer_port() const { return peer_port_; }
    std::string peer_address() const { return "127.0.0.1:" + std::to_string(peer_port_); }
    client::Client& api() { return *api_; }
    Process& process() { return *process_; }
    const std::filesystem::path& data() const { return data_; }

    nlohmann::json status() { return api_->get_json("/api/v1/status"); }
    // Waits until the HTTP API answers.
    void wait_ready(std::chrono::seconds timeout = std::chrono::seconds(30));
    // Waits until a scan has completed and none is running.
    nlohmann::json wait_scan_idle(std::chrono::seconds timeout = std::chrono::seconds(120));
    // The events the daemon holds after `since` (GET /api/v1/events?timeout=0).
    std::vector<Event> events(std::uint64_t since = 0);
    // Polls events() until one satisfies `pred`; returns it, or nothing at the deadline.
    template <class Pred>
    std::optional<Event> wait_event(Pred pred, std::uint64_t since = 0,
                                    std::chrono::seconds timeout = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (auto& e : events(since))
                if (pred(e)) return e;
            if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    // The id of the newest event held now (0 if none): later waits pass it as `since`.
    std::uint64_t last_event_id();
    // SIGKILL, then start again on the same port and data folder.
    void kill9_and_restart();
    int stop() { return process_->terminate(); }

private:
    void spawn();
    std::filesystem::path data_;
    std::vector<std::string> args_;
    unsigned short port_;
    unsigned short peer_port_ = 0;
    std::string url_;
    std::unique_ptr<Process> process_;
    std::unique_ptr<client::Client> api_;
};

// A search's results once every source answered (GET /api/v1/search, then
// /api/v1/results/QID until finished, at most 10 s): a local exact match
// solves the query before the peers' answers are in.
nlohmann::json search_all(Daemon& d, const std::string& artist, const std::string& track);

std::string earshotd_path();
std::string earshot_cli_path();

} // namespace earshot::test
