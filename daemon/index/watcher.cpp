#include "daemon/index/watcher.hpp"

#include "daemon/index/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace earshot::index {
namespace {

constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;

int make_inotify() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
    return fd;
}

} // namespace

// What a walk watched: any thread may walk (inotify_add_watch is a plain
// system call); only the io thread records the result in folders_.
struct WatchedTree {
    std::vector<std::pair<int, std::string>> watches; // descriptor, folder
    bool limit_reached = false;
};

namespace {

// Follows symlinked folders like the scanner does; (device, inode) stops loops.
WatchedTree watch_tree(int inotify_fd, const std::string& dir) {
    WatchedTree out;
    std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
    std::vector<std::string> stack{dir};
    while (!stack.empty()) {
        std::string current = std::move(stack.back());
        stack.pop_back();
        struct stat st;
        if (::stat(current.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (!seen.emplace(st.st_dev, st.st_ino).second) continue;
        const int wd = ::inotify_add_watch(inotify_fd, current.c_str(), watch_mask);
        if (wd >= 0) out.watches.emplace_back(wd, current);
        else if (errno == ENOSPC) out.limit_reached = true;
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(current.c_str()), &::closedir);
        if (!d) continue;
        while (const dirent* e = ::readdir(d.get())) {
            const std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            if (e->d_type == DT_DIR || e->d_type == DT_LNK || e->d_type == DT_UNKNOWN)
                stack.push_back(join_path(current, name));
        }
    }
    return out;
}

// A duplicate of the inotify descriptor for a walk on the pool: should the
// watcher stop meanwhile, the walk adds watches to an instance nobody reads,
// which goes away with this, never to a descriptor number reused since.
class DupFd {
public:
    explicit DupFd(int fd) : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)) {}
    ~DupFd() {
        if (fd_ >= 0) ::close(fd_);
    }
    DupFd(DupFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    DupFd(const DupFd&) = delete;
    DupFd& operator=(const DupFd&) = delete;
    DupFd& operator=(DupFd&&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

} // namespace

Watcher::Watcher(asio::io_context& io, Scanner& scanner, core::Blocking& blocking, std::vector<std::string> roots,
                 std::chrono::milliseconds quiet)
    : scanner_(scanner), blocking_(blocking), roots_(std::move(roots)), quiet_(quiet), fd_(io, make_inotify()),
      timer_(io) {}

Watcher::~Watcher() { stop(); }

void Watcher::start() {
    for (const auto& root : roots_) add_tree(root);
    spdlog::info("watching {} folders for changes", folders_.size());
    asio::co_spawn(fd_.get_executor(), read_events(), asio::detached);
}

void Watcher::stop() {
    boost::system::error_code ec;
    fd_.close(ec);
    timer_.cancel();
}

void Watcher::adopt(WatchedTree&& tree) {
    for (auto& [wd, dir] : tree.watches) folders_[wd] = std::move(dir);
    if (tree.limit_reached && !warned_limit_) {
        warned_limit_ = true;
        spdlog::warn("inotify watch limit reached at {} folders; raise fs.inotify.max_user_watches "
                     "or rescan with `earshot scan` to pick up changes elsewhere", folders_.size());
    }
}

void Watcher::add_tree(const std::string& dir) { adopt(watch_tree(fd_.native_handle(), dir)); }

awaitable<void> Watcher::add_new_tree(std::string dir) {
    DupFd fd(fd_.native_handle());
    if (fd.get() < 0) co_return;
    auto walk = [fd = std::move(fd), dir] { return watch_tree(fd.get(), dir); };
    auto tree = co_await blocking_.run(std::move(walk));
    if (!fd_.is_open()) co_return;
    adopt(std::move(tree));
    // Files that arrived before their folder was watched are found by this
    // scan, which starts once the folder is quiet.
    touched(std::move(dir));
}

void Watcher::touched(std::string dir) {
    dirty_.insert(std::move(dir));
    if (!flush_scheduled_) {
        flush_scheduled_ = true;
        asio::co_spawn(timer_.get_executor(), flush_after_quiet(), asio::detached);
    } else {
        // More events: push the flush back until the folder is quiet.
        timer_.expires_after(quiet_);
    }
}

awaitable<void> Watcher::flush_after_quiet() {
    timer_.expires_after(quiet_);
    for (;;) {
        const auto deadline = timer_.expiry();
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        if (!fd_.is_open()) co_return;
        if (timer_.expiry() == deadline) break; // not pushed back meanwhile
    }
    flush_scheduled_ = false;
    if (full_rescan_) {
        full_rescan_ = false;
        dirty_.clear();
        scanner_.request();
        co_return;
    }
    // A folder inside another dirty folder is covered by the outer scan.
    std::vector<std::string> scopes;
    for (const auto& d : dirty_)
        if (scopes.empty() || !path_within(d, scopes.back())) scopes.push_back(d);
    dirty_.clear();
    spdlog::debug("changes in {} folders; rescanning them", scopes.size());
    scanner_.request(std::move(scopes));
}

awaitable<void> Watcher::read_events() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
        boost::system::error_code ec;
        const auto n = co_await fd_.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (ec) co_return; // closed on shutdown
        dispatch(std::span<const char>(buf.data(), n));
    }
}

void Watcher::dispatch(std::span<const char> events) {
    for (std::size_t off = 0; off + sizeof(inotify_event) <= events.size();) {
        inotify_event ev;
        std::memcpy(&ev, events.data() + off, sizeof ev);
        const char* name_start = events.data() + off + sizeof ev;
        const std::string_view name(name_start, ev.len ? ::strnlen(name_start, ev.len) : 0);
        off += sizeof ev + ev.len;
        if (ev.mask & IN_Q_OVERFLOW) {
            // Events were lost: only a full rescan is certain to catch up.
            full_rescan_ = true;
            touched({});
            continue;
        }
        auto it = folders_.find(ev.wd);
        if (it == folders_.end()) continue;
        const std::string folder = it->second;
        if (ev.mask & IN_IGNORED) {
            folders_.erase(it);
            continue;
        }
        // The folder itself went away; its parent's event covers the content.
        if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) continue;
        if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
            asio::co_spawn(fd_.get_executor(), add_new_tree(join_path(folder, name)), asio::detached);
            continue;
        }
        touched(folder);
    }
}

} // namespace earshot::index
