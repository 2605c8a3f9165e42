#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"

#include <algorithm>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace earshot::test {

std::string earshotd_path() {
    const char* p = std::getenv("EARSHOTD");
    if (!p || !*p) throw std::runtime_error("EARSHOTD is not set (run the tests through ctest)");
    return p;
}

std::string earshot_cli_path() {
    const char* p = std::getenv("EARSHOT_CLI");
    if (!p || !*p) throw std::runtime_error("EARSHOT_CLI is not set (run the tests through ctest)");
    return p;
}

Daemon::Daemon(const std::filesystem::path& data, std::vector<std::string> args, std::string http_host)
    : data_(data), args_(std::move(args)), port_(free_port()) {
    std::filesystem::create_directories(data_);
    // Every test daemon gets its own loopback peer port and stays off the
    // LAN unless the test asks for discovery itself.
    const auto given = [&](std::string_view flag) { return std::find(args_.begin(), args_.end(), flag) != args_.end(); };
    if (!given("--listen")) {
        peer_port_ = free_port();
        args_.insert(args_.end(), {"--listen", "127.0.0.1:" + std::to_string(peer_port_)});
    }
    if (!given("--discovery-port")) args_.push_back("--no-discovery");
    // Nothing in a test reaches the internet: no public DHT routers, no
    // UPnP on whatever network the machine is on. A test with a DHT of its
    // own names its nodes (--dht-bootstrap) and gets a port of its own.
    if (!given("--dht-bootstrap"))
        args_.push_back("--no-dht");
    else if (!given("--dht-listen"))
        args_.insert(args_.end(), {"--dht-listen", "127.0.0.1:0"});
    if (!given("--no-port-mapping")) args_.push_back("--no-port-mapping");
    args_.insert(args_.begin(), {"--http", http_host + ":" + std::to_string(port_), "--data", data_.string(),
                                 "--log-level", "debug"});
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    spawn();
    wait_ready();
}

void Daemon::spawn() {
    process_ = std::make_unique<Process>(earshotd_path(), args_, data_ / "earshotd.log");
    api_ = std::make_unique<client::Client>(url_);
}

void Daemon::wait_ready(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        try {
            if (api_->get("/api/v1/health").status != 0) return;
        } catch (const std::exception&) {
        }
        if (!process_->running())
            throw std::runtime_error("earshotd exited during start-up:\n" + process_->log_text());
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("earshotd did not answer in time");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

nlohmann::json Daemon::wait_scan_idle(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto s = status();
        if (!s["scan"]["running"].get<bool>() && s["scan"]["scans_completed"].get<int>() >= 1) return s;
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("scan did not finish: " + s.dump());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

std::vector<Event> parse_events(const std::string& body) {
    std::vector<Event> out;
    Event cur;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            if (!cur.kind.empty()) out.push_back(cur);
            cur = {};
        } else if (line.rfind("id: ", 0) == 0) {
            cur.id = std::stoull(line.substr(4));
        } else if (line.rfind("event: ", 0) == 0) {
            cur.kind = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
            cur.data = nlohmann::json::parse(line.substr(6));
        }
    }
    return out;
}

std::vector<Event> Daemon::events(std::uint64_t since) {
    const auto r = api_->get("/api/v1/events?timeout=0&since=" + std::to_string(since));
    if (r.status != 200) throw std::runtime_error("GET /api/v1/events: " + std::to_string(r.status) + " " + r.body);
    return parse_events(r.body);
}

std::uint64_t Daemon::last_event_id() {
    const auto held = events(0);
    return held.empty() ? 0 : held.back().id;
}

void Daemon::kill9_and_restart() {
    process_->kill9();
    spawn();
    wait_ready();
}

nlohmann::json search_all(Daemon& d, const std::string& artist, const std::string& track) {
    auto body = d.api().get_json("/api/v1/search?" + client::query_string({{"artist", artist},
                                                                             {"track", track},
                                                                             {"timeout", "5000"}}));
    const auto qid = body["qid"].get<std::string>();
    eventually([&] {
        body = d.api().get_json("/api/v1/results/" + qid);
        return body["finished"].get<bool>();
    }, std::chrono::seconds(10));
    return body;
}

} // namespace earshot::test
