#include "tests/support/netns.hpp"

#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>
#include <filesystem>
#include <random>
#include <thread>
#include <utility>

namespace earshot::test {
namespace {

using Clock = std::chrono::steady_clock;

// Runs a command; the combined error text on failure, empty on success.
std::string run_checked(const std::vector<std::string>& argv) {
    const auto r = run_program(argv);
    if (r.exit_code == 0) return {};
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return cmd + ": exit " + std::to_string(r.exit_code) + ": " + r.err + r.out;
}

void must(const std::vector<std::string>& argv) {
    if (auto err = run_checked(argv); !err.empty()) throw std::runtime_error(err);
}

// Namespaces left behind by test processes that died without cleaning up
// (a CTest timeout kills with SIGKILL): named after a pid that is gone.
void remove_orphans() {
    const auto list = run_program({"ip", "netns", "list"});
    std::size_t at = 0;
    while (at < list.out.size()) {
        auto end = list.out.find('\n', at);
        if (end == std::string::npos) end = list.out.size();
        const auto line = list.out.substr(at, end - at);
        at = end + 1;
        const auto name = line.substr(0, line.find(' '));
        if (name.rfind("earshot-", 0) != 0) continue;
        const auto pid = name.substr(8, name.find('-', 8) - 8);
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (!std::filesystem::exists("/proc/" + pid)) run_program({"ip", "netns", "del", name});
    }
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// A TUN device (layer 3, no packet-info header) in this process's namespace;
// it disappears when the descriptor closes, wherever it was moved meanwhile.
Fd open_tun(const std::string& name) {
    Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) throw NetnsUnavailable(std::string("cannot open /dev/net/tun: ") + std::strerror(errno));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0)
        throw NetnsUnavailable("cannot create TUN device " + name + ": " + std::strerror(errno));
    return fd;
}

// The userspace stand-in for netem: forwards IP packets between two TUN
// devices, dropping some and holding the rest for delay +- jitter. Each
// direction stays in order (netem with jitter may reorder; TCP copes with
// either, and in-order keeps the emulated path a plain slow wire).
class Wire {
public:
    Wire(Fd a, Fd b, Impairment imp) : fds_{std::move(a), std::move(b)}, imp_(imp) {
        thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    }
    ~Wire() {
        thread_.request_stop();
        thread_.join();
    }
    Wire(const Wire&) = delete;
    Wire& operator=(const Wire&) = delete;

private:
    struct Packet {
        Clock::time_point due;
        std::vector<std::uint8_t> bytes;
    };
    // netem's default queue limit: a link that is fed faster than it drains
    // drops instead of buffering without bound.
    static constexpr std::size_t queue_limit = 1000;

    void run(const std::stop_token& stop) {
        std::mt19937_64 rng(std::random_device{}());
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        std::uniform_int_distribution<long long> jitter(-imp_.jitter.count() * 1000, imp_.jitter.count() * 1000);
        std::array<std::deque<Packet>, 2> queues; // queues[i]: read from fds_[i], to be written to the other
        std::array<Clock::time_point, 2> last_due{};
        std::vector<std::uint8_t> buf(65536);
        while (!stop.stop_requested()) {
            const auto now = Clock::now();
            // Deliver what is due.
            for (int i = 0; i < 2; ++i) {
                auto& q = queues[static_cast<std::size_t>(i)];
                while (!q.empty() && q.front().due <= now) {
                    // EIO while the other end is down: the packet is lost, as on a cut cable.
                    [[maybe_unused]] const auto n = ::write(fds_[1 - i].get(), q.front().bytes.data(), q.front().bytes.size());
                    q.pop_front();
                }
            }
            // Sleep until the next packet is due or one arrives; short enough
            // to notice the stop request promptly.
            auto wait = std::chrono::milliseconds(20);
            for (const auto& q : queues)
                if (!q.empty())
                    wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(q.front().due - Clock::now()));
            std::array<pollfd, 2> p{pollfd{fds_[0].get(), POLLIN, 0}, pollfd{fds_[1].get(), POLLIN, 0}};
            if (::poll(p.data(), p.size(), static_cast<int>(std::max<long long>(0, wait.count()))) < 0 && errno != EINTR)
                return;
            for (std::size_t i = 0; i < 2; ++i) {
                for (;;) {
                    const auto n = ::read(fds_[i].get(), buf.data(), buf.size());
                    if (n <= 0) break; // EAGAIN: drained
                    if (unit(rng) < imp_.loss || queues[i].size() >= queue_limit) continue;
                    auto due = Clock::now() + std::chrono::duration_cast<Clock::duration>(imp_.delay) +
                               std::chrono::microseconds(jitter(rng));
                    due = std::max(due, last_due[i]);
                    last_due[i] = due;
                    queues[i].push_back({due, {buf.begin(), buf.begin() + n}});
                }
            }
        }
    }

    std::array<Fd, 2> fds_;
    Impairment imp_;
    std::jthread thread_;
};

} // namespace

struct NetnsPair::Impl {
    Impairment imp;
    std::array<std::string, 2> ns;
    std::array<std::string, 2> dev;
    std::array<bool, 2> ns_made{false, false};
    bool veth_made = false;
    std::string subnet; // "10.231.N"
    std::string kind;
    std::unique_ptr<Wire> wire;

    ~Impl() {
        wire.reset(); // closes the TUN descriptors: the devices go with them
        if (veth_made) run_program({"ip", "-n", ns[0], "link", "del", dev[0]});
        for (int i = 0; i < 2; ++i)
            if (ns_made[static_cast<std::size_t>(i)]) run_program({"ip", "netns", "del", ns[static_cast<std::size_t>(i)]});
    }

    void configure_addresses() {
        for (std::size_t i = 0; i < 2; ++i) {
            must({"ip", "-n", ns[i], "addr", "add", subnet + "." + std::to_string(i + 1) + "/24", "dev", dev[i]});
            must({"ip", "-n", ns[i], "link", "set", dev[i], "up"});
        }
    }

    // veth + netem; false (and nothing left behind) if the kernel has no netem.
    bool try_netem(std::string& why) {
        must({"ip", "link", "add", dev[0], "netns", ns[0], "type", "veth", "peer", "name", dev[1], "netns", ns[1]});
        veth_made = true;
        const auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count()) + "ms"; };
        std::string loss = std::to_string(imp.loss * 100);
        for (std::size_t i = 0; i < 2; ++i) {
            why = run_checked({"ip", "netns", "exec", ns[i], "tc", "qdisc", "add", "dev", dev[i], "root", "netem",
                               "delay", ms(imp.delay), ms(imp.jitter), "loss", loss + "%"});
            if (!why.empty()) {
                run_program({"ip", "-n", ns[0], "link", "del", dev[0]}); // takes its peer along
                veth_made = false;
                return false;
            }
        }
        configure_addresses();
        kind = "veth + tc netem";
        return true;
    }

    void make_tun_wire() {
        std::array<Fd, 2> fds;
        for (std::size_t i = 0; i < 2; ++i) {
            fds[i] = open_tun(dev[i]);
            // The descriptor keeps working after the device moves namespace.
            must({"ip", "link", "set", dev[i], "netns", ns[i]});
        }
        configure_addresses();
        wire = std::make_unique<Wire>(std::move(fds[0]), std::move(fds[1]), imp);
        kind = "tun + userspace delay/loss";
    }
};

NetnsPair::NetnsPair(Impairment impairment) : impl_(std::make_unique<Impl>()) {
    if (::geteuid() != 0) throw NetnsUnavailable("not root");
    try {
        if (run_program({"ip", "-V"}).exit_code != 0) throw NetnsUnavailable("`ip -V` failed (iproute2 broken?)");
    } catch (const NetnsUnavailable&) {
        throw;
    } catch (const std::exception& e) {
        throw NetnsUnavailable(std::string("no `ip` command (install iproute2): ") + e.what());
    }
    impl_->imp = impairment;
    remove_orphans();
    // Unique per process and per pair within it; the subnet only has to be
    // unique for readability, since each namespace has its own routing table.
    static std::atomic<int> counter{0};
    const int n = counter++;
    const auto pid = std::to_string(::getpid());
    impl_->subnet = "10.231." + std::to_string((::getpid() + n) % 250 + 1);
    for (std::size_t i = 0; i < 2; ++i) {
        const char side = i == 0 ? 'a' : 'b';
        impl_->ns[i] = "earshot-" + pid + "-" + std::to_string(n) + "-" + side;
        impl_->dev[i] = "es" + pid + "x" + std::to_string(n) + side; // IFNAMSIZ: at most 15 characters
        if (impl_->dev[i].size() > 15) impl_->dev[i] = impl_->dev[i].substr(impl_->dev[i].size() - 15);
        if (auto err = run_checked({"ip", "netns", "add", impl_->ns[i]}); !err.empty()) throw NetnsUnavailable(err);
        impl_->ns_made[i] = true;
        must({"ip", "-n", impl_->ns[i], "link", "set", "lo", "up"});
    }
    const char* forced = std::getenv("EARSHOT_NETNS_LINK");
    const std::string force = forced ? forced : "";
    std::string why_not_netem;
    if (force == "tun" || !impl_->try_netem(why_not_netem)) {
        if (force == "netem") throw NetnsUnavailable("no netem: " + why_not_netem);
        impl_->make_tun_wire();
    }
}

NetnsPair::~NetnsPair() = default;

const std::string& NetnsPair::name(Side s) const { return impl_->ns[s]; }
std::string NetnsPair::address(Side s) const { return impl_->subnet + "." + std::to_string(s + 1); }
std::string NetnsPair::link_kind() const { return impl_->kind; }
const Impairment& NetnsPair::impairment() const { return impl_->imp; }

std::vector<std::string> NetnsPair::exec(Side s, const std::vector<std::string>& argv) const {
    std::vector<std::string> out{"ip", "netns", "exec", impl_->ns[s]};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

void NetnsPair::set_link_up(Side s, bool up) {
    must({"ip", "-n", impl_->ns[s], "link", "set", impl_->dev[s], up ? "up" : "down"});
}

struct SlowDownload::State {
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    std::atomic<std::size_t> received{0};
    int status = 0;
    std::string body, error;
    std::jthread thread;
};

namespace {

// The body of one GET, read slowly. Throws with the reason on failure.
void slow_get(const std::string& ns, unsigned short port, const std::string& path, std::size_t rate,
              SlowDownload::State& st, const std::stop_token& stop) {
    {
        Fd nsfd(::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
        if (nsfd.get() < 0 || ::setns(nsfd.get(), CLONE_NEWNET) != 0)
            throw std::runtime_error("cannot enter namespace " + ns + ": " + std::strerror(errno));
    }
    Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int small = 32 * 1024;
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // Wake up now and then even if nothing arrives, to notice a stop request.
    const timeval tick{0, 200'000};
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        throw std::runtime_error("send failed");

    std::string head;
    std::optional<std::size_t> length;
    const auto started = Clock::now();
    std::size_t body_bytes = 0;
    std::vector<char> buf(8192);
    for (;;) {
        if (stop.stop_requested()) throw std::runtime_error("stopped");
        const auto n = ::recv(sock.get(), buf.data(), buf.size(), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
        if (n == 0) break;
        std::string_view data(buf.data(), static_cast<std::size_t>(n));
        if (!length) {
            head.append(data);
            const auto end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            std::string lower = head.substr(0, end);
            for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const auto sp = lower.find(' ');
            {
                std::lock_guard lock(st.mutex);
                st.status = sp == std::string::npos ? 0 : std::atoi(lower.c_str() + sp + 1);
            }
            const auto cl = lower.find("\r\ncontent-length:");
            if (cl == std::string::npos) throw std::runtime_error("no Content-Length in: " + head.substr(0, end));
            length = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
            data = std::string_view(head).substr(end + 4);
            std::lock_guard lock(st.mutex);
            st.body.append(data);
        } else {
            std::lock_guard lock(st.mutex);
            st.body.append(data);
        }
        body_bytes += data.size();
        st.received = body_bytes;
        if (body_bytes >= *length) break;
        // Hold the pace: sleep until this many bytes are due.
        const auto due = started + std::chrono::microseconds(body_bytes * 1'000'000 / rate);
        std::this_thread::sleep_until(due);
    }
    if (!length) throw std::runtime_error("the connection closed before the response headers");
    if (body_bytes < *length)
        throw std::runtime_error("the body ended after " + std::to_string(body_bytes) + " of " +
                                 std::to_string(*length) + " bytes");
}

} // namespace

SlowDownload::SlowDownload(const std::string& ns, unsigned short port, std::string path, std::size_t bytes_per_second)
    : state_(std::make_shared<State>()) {
    state_->thread = std::jthread([st = state_.get(), ns, port, path = std::move(path), bytes_per_second](std::stop_token stop) {
        std::string error;
        try {
            slow_get(ns, port, path, bytes_per_second, *st, stop);
        } catch (const std::exception& e) {
            error = e.what();
        }
        std::lock_guard lock(st->mutex);
        st->error = std::move(error);
        st->finished = true;
        st->finished_cv.notify_all();
    });
}

SlowDownload::~SlowDownload() {
    state_->thread.request_stop();
    state_->thread.join();
}

std::size_t SlowDownload::received() const { return state_->received; }

bool SlowDownload::wait(std::chrono::seconds timeout) {
    std::unique_lock lock(state_->mutex);
    return state_->finished_cv.wait_for(lock, timeout, [&] { return state_->finished; });
}

int SlowDownload::status() const {
    std::lock_guard lock(state_->mutex);
    return state_->status;
}
const std::string& SlowDownload::body() const { return state_->body; }
const std::string& SlowDownload::error() const { return state_->error; }

} // namespace earshot::test
