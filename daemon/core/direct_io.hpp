// Positional reads and writes that bypass the page cache (O_DIRECT), for
// files the daemon caches itself. Why: the chunk cache already is a cache,
// so buffered I/O keeps a second copy of every chunk in the page cache,
// evicting the user's own files from it, and pays a copy into freshly
// allocated page-cache pages per chunk (on some virtual machines a page the
// guest has not touched lately costs a host fault on first touch: 2.3 ms/MB,
// more than the decryption; see docs/toolchain-notes.md).
//
// O_DIRECT wants the buffer, the offset and the length aligned to the
// device's logical block; 4 KiB covers every device in use. Callers hand in
// ordinary buffers: each transfer goes through an aligned bounce buffer from
// a small reusable set (one memcpy at memory speed, and no page is faulted
// in afresh per transfer). Transfers that do not fit the alignment (the last,
// short chunk of a file), and filesystems that refuse O_DIRECT (EINVAL),
// use the buffered descriptor instead: the caller keeps both open.
#pragma once

#include "daemon/core/file_io.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <vector>

#include <sys/uio.h>

namespace earshot::core {

inline constexpr std::size_t direct_alignment = 4096;

// Whether a transfer of `length` bytes at `offset` may go through O_DIRECT.
inline bool direct_fits(std::uint64_t offset, std::size_t length) {
    return length > 0 && offset % direct_alignment == 0 && length % direct_alignment == 0;
}

// Aligned buffers of one size, handed out and taken back. Keeps at most
// `keep` idle ones; more are made when many transfers run at once.
class DirectBuffers {
    struct Free {
        void operator()(std::uint8_t* p) const { ::operator delete(p, std::align_val_t{direct_alignment}); }
    };
    using Buffer = std::unique_ptr<std::uint8_t, Free>;

public:
    explicit DirectBuffers(std::size_t size, std::size_t keep = 16) : size_(size), keep_(keep) {}

    class Lease {
    public:
        Lease(DirectBuffers& owner, Buffer buffer) : owner_(&owner), buffer_(std::move(buffer)) {}
        ~Lease() {
            if (buffer_) owner_->give_back(std::move(buffer_));
        }
        Lease(Lease&&) = default;
        Lease& operator=(Lease&&) = delete;
        std::span<std::uint8_t> bytes() const { return {buffer_.get(), owner_->size_}; }

    private:
        DirectBuffers* owner_;
        Buffer buffer_;
    };

    Lease lease() {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                auto b = std::move(idle_.back());
                idle_.pop_back();
                return {*this, std::move(b)};
            }
        }
        return {*this, Buffer(static_cast<std::uint8_t*>(::operator new(size_, std::align_val_t{direct_alignment})))};
    }
    std::size_t size() const { return size_; }

private:
    void give_back(Buffer b) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < keep_) idle_.push_back(std::move(b));
    }

    std::size_t size_, keep_;
    std::mutex mutex_;
    std::vector<Buffer> idle_;
};

namespace detail {
// The aligned buffers behind one vectored transfer, one per piece.
struct Staged {
    explicit Staged(std::size_t pieces) {
        leases.reserve(pieces);
        iov.reserve(pieces);
    }
    std::uint8_t* add(DirectBuffers& buffers, std::size_t size) {
        const auto& lease = leases.emplace_back(buffers.lease());
        iov.push_back({lease.bytes().data(), size});
        total += size;
        return lease.bytes().data();
    }
    // errno = EIO for a short transfer, so the caller's message says something.
    bool whole(ssize_t n) const {
        if (n >= 0 && static_cast<std::size_t>(n) != total) errno = EIO;
        return n >= 0 && static_cast<std::size_t>(n) == total;
    }
    std::vector<DirectBuffers::Lease> leases;
    std::vector<iovec> iov;
    std::size_t total = 0;
};
} // namespace detail

// Writes `pieces` back to back from `at` through `direct_fd` (opened with
// O_DIRECT) with one system call: a direct write costs a round trip to the
// device whatever its length. Each piece fits direct_fits() and
// buffers.size(). False on error or a short write (errno set; the caller
// writes the pieces buffered to learn what the disk thinks; EINVAL: the
// filesystem refuses O_DIRECT).
inline bool write_direct(int direct_fd, DirectBuffers& buffers, std::span<const std::span<const std::uint8_t>> pieces,
                         std::uint64_t at) {
    detail::Staged staged(pieces.size());
    for (const auto& piece : pieces) std::memcpy(staged.add(buffers, piece.size()), piece.data(), piece.size());
    ssize_t n;
    do n = ::pwritev(direct_fd, staged.iov.data(), static_cast<int>(staged.iov.size()), static_cast<off_t>(at));
    while (n < 0 && errno == EINTR);
    return staged.whole(n);
}

// Reads `pieces` back to back from `at`, as write_direct.
inline bool read_direct(int direct_fd, DirectBuffers& buffers, std::span<const std::span<std::uint8_t>> pieces,
                        std::uint64_t at) {
    detail::Staged staged(pieces.size());
    for (const auto& piece : pieces) staged.add(buffers, piece.size());
    ssize_t n;
    do n = ::preadv(direct_fd, staged.iov.data(), static_cast<int>(staged.iov.size()), static_cast<off_t>(at));
    while (n < 0 && errno == EINTR);
    if (!staged.whole(n)) return false;
    for (std::size_t i = 0; i < pieces.size(); ++i) std::memcpy(pieces[i].data(), staged.iov[i].iov_base, pieces[i].size());
    return true;
}

} // namespace earshot::core
