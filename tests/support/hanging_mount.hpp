// A FUSE pass-through of `root/source` at `root/mnt` whose reads of one file
// hang while armed (tests/support/hanging_fs.py): a network mount that
// stalls, for the hung-disk test and the HTTP latency bench.
#pragma once

#include "tests/support/process.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace earshot::test {

struct HangingMount {
    std::filesystem::path source, mount, control;
    std::unique_ptr<Process> fs_process;

    // `script` is tests/support/hanging_fs.py; `name` the file whose reads hang.
    HangingMount(const std::filesystem::path& root, const std::string& name, const std::filesystem::path& script);
    ~HangingMount();
    HangingMount(const HangingMount&) = delete;
    HangingMount& operator=(const HangingMount&) = delete;

    // Whether this machine can mount one at all (/dev/fuse, fusermount3).
    static bool available();
    bool mounted() const;
    void arm() const;          // reads of `name` hang from now on...
    bool hanging() const;      // ...and one is hanging now
    void release() const;      // ...until this
};

} // namespace earshot::test
