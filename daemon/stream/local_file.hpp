// Serves a sid from a file on this machine.
#pragma once

#include "daemon/http/backend.hpp"

#include <string>

namespace earshot::stream {

class LocalFile final : public http::ByteSource {
public:
    // Opens the file; throws std::system_error if it cannot be read.
    LocalFile(const std::string& path, std::string mimetype);
    ~LocalFile() override;
    LocalFile(const LocalFile&) = delete;
    LocalFile& operator=(const LocalFile&) = delete;

    std::uint64_t size() const override { return size_; }
    std::string mimetype() const override { return mimetype_; }
    awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override;

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string mimetype_;
};

} // namespace earshot::stream
