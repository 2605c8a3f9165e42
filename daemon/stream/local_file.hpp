// Serves a sid from a file on this machine. Every system call on the file
// (open, fstat, pread) runs on the blocking pool: a file on a mount that hangs
// stalls only the reader of that file.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/file_io.hpp"
#include "daemon/http/backend.hpp"

#include <memory>
#include <string>

namespace earshot::stream {

class LocalFile final : public http::ByteSource {
public:
    // Opens the file; throws std::system_error if it cannot be read.
    static awaitable<std::unique_ptr<LocalFile>> open(core::Blocking& blocking, std::string path, std::string mimetype);

    std::uint64_t size() const override { return size_; }
    std::string mimetype() const override { return mimetype_; }
    awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override;

    LocalFile(core::Blocking& blocking, std::shared_ptr<const core::Fd> fd, std::uint64_t size, std::string mimetype)
        : blocking_(blocking), fd_(std::move(fd)), size_(size), mimetype_(std::move(mimetype)) {}

private:
    core::Blocking& blocking_;
    // Opened on the pool and shared with each read job there.
    std::shared_ptr<const core::Fd> fd_;
    std::uint64_t size_ = 0;
    std::string mimetype_;
};

} // namespace earshot::stream
