// One daemon per data folder. Two earshotd processes over one index and one
// chunk cache would each believe they own the LMDB writer, the cache's LRU
// and the peer roster; the second one to start refuses instead.
#pragma once

#include "daemon/core/file_io.hpp"

#include <filesystem>

namespace earshot::core {

// Holds an exclusive flock(2) on DIR/lock for its lifetime. The kernel drops
// the lock when the process dies, so kill -9 or a power cut leaves nothing
// stale behind; the file keeps the holder's pid for the error message only.
class DirLock {
public:
    // Throws std::runtime_error naming the holder when another process has
    // the folder, std::system_error when the lock file cannot be opened.
    explicit DirLock(const std::filesystem::path& dir);

private:
    Fd fd_;
};

} // namespace earshot::core
