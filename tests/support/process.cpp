#include "tests/support/process.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <utility>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace earshot::test {
namespace {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::array<Fd, 2> make_pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    return {Fd(p[0]), Fd(p[1])};
}

class SpawnActions {
public:
    SpawnActions() { posix_spawn_file_actions_init(&a_); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&a_); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    posix_spawn_file_actions_t* get() { return &a_; }

private:
    posix_spawn_file_actions_t a_;
};

// SplitMix64: a tiny PRNG whose output is the same on every platform and standard library,
// so "seed 7" is the same melody everywhere.

// Starts argv[0] (looked up in PATH) with stdin from /dev/null and
// stdout+stderr appended to `log` (or discarded).
int spawn(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log) {
    std::vector<std::string> argv_store{program};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    SpawnActions actions;
    const std::string out = log.empty() ? std::string("/dev/null") : log.string();
    posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(actions.get(), STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    if (const int rc = posix_spawnp(&pid, program.c_str(), actions.get(), nullptr, argv.data(), environ); rc != 0)
        throw std::system_error(rc, std::generic_category(), "spawn " + program);
    return pid;
}

} // namespace

Process::Process(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log)
    : log_(log) {
    pid_ = spawn(program, args, log);
}

Process::~Process() {
    if (!reaped_) terminate();
}

bool Process::running() {
    if (reaped_) return false;
    const int rc = ::waitpid(pid_, &status_, WNOHANG);
    if (rc == pid_) reaped_ = true;
    return !reaped_;
}

void Process::kill9() {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
}

void Process::signal(int sig) {
    if (!reaped_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

int Process::terminate(std::chrono::milliseconds timeout) {
    if (reaped_) return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    ::kill(pid_, SIGTERM);
    const int code = wait(timeout);
    if (!reaped_) kill9();
    return code;
}

std::string Process::log_text() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int run(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log) {
    const int pid = spawn(program, args, log);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ProgramOutput run_program(const std::vector<std::string>& argv) {
    if (argv.empty()) throw std::invalid_argument("run_program: empty argv");
    auto out_pipe = make_pipe();
    auto err_pipe = make_pipe();
    SpawnActions actions;
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(actions.get(), out_pipe[1].get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(actions.get(), err_pipe[1].get(), STDERR_FILENO);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    if (const int rc = posix_spawnp(&pid, cargv[0], actions.get(), nullptr, cargv.data(), environ); rc != 0)
        throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
    out_pipe[1].reset();
    err_pipe[1].reset();

    // Drain both pipes together so a chatty child never blocks on a full pipe.
    ProgramOutput result;
    std::array<pollfd, 2> fds = {pollfd{out_pipe[0].get(), POLLIN, 0}, pollfd{err_pipe[0].get(), POLLIN, 0}};
    std::array<std::string*, 2> sinks = {&result.out, &result.err};
    int open = 2;
    char buf[8192];
    while (open > 0) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                fds[i].fd = -1;
                --open;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}


namespace {

// A port the kernel had free for bind(0) a moment ago.
unsigned short unbound_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(err));
    return ntohs(addr.sin_port);
}

} // namespace

unsigned short free_port() {
    static std::mutex mutex;
    static std::vector<int> held; // lock fds, open until the process exits
    std::lock_guard lock(mutex);
    const std::filesystem::path dir = "/tmp/earshot-test-ports";
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
        ::chmod(dir.c_str(), 01777); // any user's tests share the claims, like /tmp
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const unsigned short port = unbound_port();
        const auto file = dir / std::to_string(port);
        // Read-only, and created only when missing: another user's claim
        // file in this sticky folder opens for reading (O_CREAT on it would
        // fail where fs.protected_regular is set), and flock needs no more.
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) fd = ::open(file.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
        // Another OFD, even from this process, conflicts: a port goes out once.
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            held.push_back(fd);
            return port;
        }
        ::close(fd);
    }
    throw std::runtime_error("free_port: no unclaimed port after 1000 tries");
}

} // namespace earshot::test
