// earshot-test-dht: a private mainline DHT (BEP 5, BEP 44) of N libtorrent
// sessions on 127.0.0.1, for tests. Nothing reaches the internet: no node
// has bootstrap ("router") nodes, whose default list names public routers;
// instead, once all listen, each node is handed every other one
// (add_dht_node), so they ping each other and every routing table fills at
// once.
//
//   earshot-test-dht [--nodes N] [--timeout SECONDS] [--min-routing K] [--log-packets FILE]
//
// Once every node's routing table holds at least K nodes it prints one line,
//   ready 127.0.0.1:P0 127.0.0.1:P1 ...
// and serves until SIGTERM, SIGINT, its parent's death or (when stdin is a
// pipe, socket or terminal) EOF on stdin. With --log-packets, every DHT
// packet any node receives is appended to FILE as one line,
//   in <remote ip:port> <local ip:port> <hex bytes>
// so a test can search what its own sessions sent into the DHT. If
// libtorrent had to drop alerts, a line "dropped <number of alert types>"
// says packets may be missing. Progress and errors go to stderr; exit 1 when the network does
// not form within the timeout, 2 for bad arguments.
#include "daemon/dht/engine_settings.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace lt = libtorrent;
using Clock = std::chrono::steady_clock;

struct Options {
    int nodes = 20;
    std::chrono::seconds timeout{20};
    int min_routing = 8; // capped at nodes - 1
    std::string log_packets;
};

int parse_int(std::string_view flag, std::string_view text, int lo, int hi) {
    int v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
        throw std::invalid_argument(std::string(flag) + ": expected an integer in " + std::to_string(lo) + ".." +
                                    std::to_string(hi) + ", got '" + std::string(text) + "'");
    return v;
}

Options parse_options(int argc, char** argv) {
    Options o;
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto flag = args[i];
        if (flag == "--help") {
            std::cout << "usage: earshot-test-dht [--nodes N] [--timeout SECONDS] [--min-routing K] [--log-packets FILE]\n";
            std::exit(0);
        }
        if (i + 1 >= args.size()) throw std::invalid_argument(std::string(flag) + ": missing value (or unknown flag)");
        const auto value = args[++i];
        if (flag == "--nodes") o.nodes = parse_int(flag, value, 2, 500);
        else if (flag == "--timeout") o.timeout = std::chrono::seconds(parse_int(flag, value, 1, 3600));
        else if (flag == "--min-routing") o.min_routing = parse_int(flag, value, 1, 1000);
        else if (flag == "--log-packets") o.log_packets = value;
        else throw std::invalid_argument("unknown flag " + std::string(flag));
    }
    o.min_routing = std::min(o.min_routing, o.nodes - 1);
    return o;
}

// One node's settings: the daemon's engine's, on loopback.
lt::settings_pack node_settings(bool log_packets) {
    // A literal address: "0.0.0.0" or an interface name would also listen
    // on the machine's real interfaces. Port 0: the OS picks a free one
    // (libtorrent binds TCP first, then UDP on the same number). No
    // bootstrap nodes: libtorrent never puts a bootstrap node into its
    // routing table (it spares the public routers), so with node 0 as every
    // node's bootstrap node no table ever held node 0, and each learned only
    // of the nodes node 0 happened to know: tables stayed at 0-2 nodes. The
    // nodes are introduced to each other instead (add_dht_node).
    auto s = earshot::dht::engine_settings({"127.0.0.1:0", "", true, false});
    s.set_bool(lt::settings_pack::enable_ip_notifier, false);
    auto mask = lt::alert_category::error | lt::alert_category::status | lt::alert_category::dht;
    // dht_log carries dht_pkt_alert (and a lot of text): only when asked.
    if (log_packets) mask |= lt::alert_category::dht_log;
    s.set_int(lt::settings_pack::alert_mask, mask);
    // A lookup by a test makes every node receive a few packets at once;
    // a larger queue keeps libtorrent from dropping dht_pkt_alerts between
    // two polls of the main loop.
    s.set_int(lt::settings_pack::alert_queue_size, 100'000);
    return s;
}

std::string to_string(const lt::udp::endpoint& ep) { return ep.address().to_string() + ":" + std::to_string(ep.port()); }

struct Node {
    std::unique_ptr<lt::session> session;
    std::optional<lt::udp::endpoint> udp; // where it listens, once it does
    int routing_nodes = 0;                // from its last dht_stats_alert
};

std::unique_ptr<lt::session> start_node(bool log_packets) {
    return std::make_unique<lt::session>(lt::session_params(node_settings(log_packets)));
}

void append_hex(std::string& out, lt::span<char const> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
}

class Swarm {
public:
    Swarm(const Options& o) : options_(o) {
        if (!o.log_packets.empty()) {
            log_.open(o.log_packets, std::ios::out | std::ios::app);
            if (!log_) throw std::runtime_error("cannot open " + o.log_packets);
        }
    }

    // Pops and handles every node's alerts; throws on a node that cannot listen.
    void pump() {
        std::vector<lt::alert*> alerts;
        for (auto& node : nodes_) {
            node.session->pop_alerts(&alerts);
            for (lt::alert* a : alerts) handle(node, a);
        }
        if (log_.is_open()) log_.flush(); // a test reads the file while we run
    }

    bool log_packets() const { return !options_.log_packets.empty(); }

    // All sessions, then each told of every other one: a full mesh.
    // add_dht_node makes an ordinary node: pinged, and in the routing table
    // once it answers. Being pinged is not enough to get into the pinged
    // node's table (telling each node only of those started before it left
    // the first nodes with 6-7 after 12 s), hence both ways. Handing the list
    // over as session_params::dht_state.nodes instead made no node send a
    // single packet within 5 s (libtorrent 2.0.8).
    void start(Clock::time_point deadline) {
        for (int i = 0; i < options_.nodes; ++i) nodes_.push_back(Node{start_node(log_packets()), {}, 0});
        for (auto& node : nodes_) wait_listening(node, deadline);
        for (auto& node : nodes_)
            for (const auto& other : nodes_)
                if (&other != &node) node.session->add_dht_node({other.udp->address().to_string(), other.udp->port()});
    }

    void post_stats() {
        for (auto& node : nodes_) node.session->post_dht_stats();
    }

    bool formed() const {
        return std::all_of(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.routing_nodes >= options_.min_routing; });
    }

    std::string routing_summary() const {
        std::string s;
        for (const auto& n : nodes_) s += (s.empty() ? "" : " ") + std::to_string(n.routing_nodes);
        return s;
    }

    std::string ready_line() const {
        std::string s = "ready";
        for (const auto& n : nodes_) s += " " + to_string(*n.udp);
        return s;
    }

    // All sessions shut down together: ~session blocks until its own
    // shutdown is done, so destroying them one by one would add up.
    void stop() {
        std::vector<lt::session_proxy> proxies;
        for (auto& n : nodes_) proxies.push_back(n.session->abort());
        nodes_.clear();
    }

private:
    void wait_listening(Node& node, Clock::time_point deadline) {
        while (!node.udp) {
            if (Clock::now() > deadline) throw std::runtime_error("a node did not start listening in time");
            node.session->wait_for_alert(std::chrono::milliseconds(50));
            pump();
        }
    }

    void handle(Node& node, lt::alert* a) {
        if (const auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
            // utp is the UDP socket (the DHT shares it with uTP).
            if (l->socket_type == lt::socket_type_t::utp) node.udp = lt::udp::endpoint(l->address, static_cast<unsigned short>(l->port));
        } else if (const auto* f = lt::alert_cast<lt::listen_failed_alert>(a)) {
            throw std::runtime_error("listen failed: " + f->message());
        } else if (const auto* st = lt::alert_cast<lt::dht_stats_alert>(a)) {
            int n = 0;
            for (const auto& bucket : st->routing_table) n += bucket.num_nodes;
            node.routing_nodes = n;
        } else if (const auto* p = lt::alert_cast<lt::dht_pkt_alert>(a)) {
            // Only what arrives: what a node receives is what others sent it,
            // and outgoing packets would only say what we ourselves answered.
            if (p->direction != lt::dht_pkt_alert::incoming || !log_.is_open()) return;
            std::string line = "in " + to_string(p->node) + " " + (node.udp ? to_string(*node.udp) : "?") + " ";
            append_hex(line, p->pkt_buf());
            line += '\n';
            log_ << line;
        } else if (const auto* d = lt::alert_cast<lt::alerts_dropped_alert>(a)) {
            std::cerr << "earshot-test-dht: libtorrent dropped alerts: " << d->message() << "\n";
            if (log_.is_open()) log_ << "dropped " << d->dropped_alerts.count() << "\n";
        }
    }

    Options options_;
    std::vector<Node> nodes_;
    std::ofstream log_;
};

// Signals arrive through a signalfd, read in the main loop: no handler, so no
// global flag. They are blocked before the first session exists, so every
// libtorrent thread inherits the mask and none of them is killed instead.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { ::close(fd_); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

Fd blocked_signals_fd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) throw std::runtime_error("sigprocmask failed");
    const int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error("signalfd failed");
    return Fd(fd);
}

// EOF on stdin means "the test is gone" only where stdin is a channel to
// someone: test::Process gives children /dev/null, which is always at EOF.
bool stdin_is_a_channel() {
    struct stat st{};
    if (::fstat(STDIN_FILENO, &st) != 0) return false;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || ::isatty(STDIN_FILENO);
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "earshot-test-dht: " << e.what() << "\n";
        return 2;
    }
    try {
        const Fd signal_fd = blocked_signals_fd();
        // A test that aborts (an ASan report, a failed REQUIRE in a forked
        // helper) never runs PrivateDht's destructor: die with the parent
        // rather than serve forever. The parent may already be gone.
        const pid_t parent = ::getppid();
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) return 1;
        const bool watch_stdin = stdin_is_a_channel();

        const auto started = Clock::now();
        const auto deadline = started + options.timeout;
        Swarm swarm(options);
        swarm.start(deadline);
        std::cerr << "earshot-test-dht: " << options.nodes << " nodes listening after "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() << " ms\n";

        bool ready = false;
        auto next_stats = Clock::now();
        for (;;) {
            std::array<pollfd, 2> fds{pollfd{signal_fd.get(), POLLIN, 0}, pollfd{watch_stdin ? STDIN_FILENO : -1, POLLIN, 0}};
            ::poll(fds.data(), fds.size(), 20);
            if (fds[0].revents & POLLIN) break;
            if (fds[1].revents & (POLLIN | POLLHUP)) {
                char buf[256];
                if (::read(STDIN_FILENO, buf, sizeof buf) <= 0) break;
            }
            swarm.pump();
            if (ready) continue;
            if (swarm.formed()) {
                ready = true;
                std::cerr << "earshot-test-dht: ready after "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
                          << " ms; routing table sizes: " << swarm.routing_summary() << "\n";
                std::cout << swarm.ready_line() << std::endl; // endl: the test is waiting for this line
            } else if (Clock::now() > deadline) {
                std::cerr << "earshot-test-dht: timeout after " << options.timeout.count()
                          << " s: routing tables did not reach " << options.min_routing
                          << " nodes each; sizes: " << swarm.routing_summary() << "\n";
                return 1;
            } else if (Clock::now() >= next_stats) {
                swarm.post_stats();
                next_stats = Clock::now() + std::chrono::milliseconds(100);
            }
        }
        swarm.pump();
        swarm.stop();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "earshot-test-dht: " << e.what() << "\n";
        return 1;
    }
}
