// Live updates: inotify watches on every folder under the libraries, read on
// the daemon's io_context. Events are collected for a short quiet period and
// then handed to the scanner as a scoped rescan of the folders they touched,
// so a copy of a whole album becomes one small scan, not hundreds.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/index/scanner.hpp"
#include "proto/asio.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

namespace earshot::index {

struct WatchedTree; // watcher.cpp

class Watcher {
public:
    // A folder that appears later (an album copied in) is walked on
    // `blocking`: a deep tree on a slow mount does not stall the io thread.
    Watcher(asio::io_context& io, Scanner& scanner, core::Blocking& blocking, std::vector<std::string> roots,
            std::chrono::milliseconds quiet = std::chrono::milliseconds(1000));
    ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    void start();
    void stop();
    std::size_t watch_count() const { return folders_.size(); }

private:
    awaitable<void> read_events();
    void dispatch(std::span<const char> events);
    awaitable<void> flush_after_quiet();
    // Watches every folder under dir (start-up, before the loop serves anyone).
    void add_tree(const std::string& dir);
    // The same for a folder that appeared, on the pool; rescans it once watched.
    awaitable<void> add_new_tree(std::string dir);
    void adopt(WatchedTree&& tree);
    void touched(std::string dir);

    Scanner& scanner_;
    core::Blocking& blocking_;
    std::vector<std::string> roots_;
    std::chrono::milliseconds quiet_;
    asio::posix::stream_descriptor fd_;
    asio::steady_timer timer_;
    std::unordered_map<int, std::string> folders_; // watch descriptor -> folder
    std::set<std::string> dirty_;
    bool full_rescan_ = false, flush_scheduled_ = false, warned_limit_ = false;
};

} // namespace earshot::index
