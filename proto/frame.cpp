#include "proto/frame.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace earshot::proto {
namespace {
// A peer may make us hold this much before it has sent the bytes (one per
// link): a chunk message and then some.
constexpr std::size_t reserve_limit = 128 * 1024;
} // namespace

std::array<std::uint8_t, frame_header_size> frame_header(MessageType type, std::size_t payload_size) {
    if (payload_size > max_payload_size)
        throw std::length_error("frame payload of " + std::to_string(payload_size) +
                                " bytes exceeds the maximum of " + std::to_string(max_payload_size));
    const auto n = static_cast<std::uint32_t>(payload_size);
    return {frame_version,
            static_cast<std::uint8_t>(type),
            static_cast<std::uint8_t>(n),
            static_cast<std::uint8_t>(n >> 8),
            static_cast<std::uint8_t>(n >> 16),
            static_cast<std::uint8_t>(n >> 24)};
}

Bytes encode_frame(MessageType type, ByteView payload) {
    const auto header = frame_header(type, payload.size());
    // Sized, then copied into (GCC 12 at -O3 misreads two inserts as an overflow).
    Bytes out(header.size() + payload.size());
    std::copy(header.begin(), header.end(), out.begin());
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(header.size()));
    return out;
}

void FrameReader::check_header() {
    // The version byte is checked alone, as soon as it arrives: a peer speaking
    // another framing is told so even if it never sends a full header.
    if (header_fill_ >= 1 && header_[0] != frame_version)
        failure_ = "unsupported frame version " + std::to_string(header_[0]) + " (expected " +
                   std::to_string(frame_version) + ")";
    else if (header_fill_ == frame_header_size) {
        ByteReader r(ByteView(header_).subspan(2));
        const std::uint32_t length = r.u32le();
        if (length > max_payload_size)
            failure_ = "frame payload length " + std::to_string(length) + " exceeds the maximum of " +
                       std::to_string(max_payload_size);
        else {
            // No reserve(): six bytes from a peer must not pin a megabyte;
            // the payload grows only as its bytes actually arrive.
            payload_length_ = length;
            complete_ = length == 0;
        }
    }
    if (failure_) throw ProtocolError(*failure_);
}

std::size_t FrameReader::feed(ByteView data) {
    if (failure_) throw ProtocolError(*failure_);
    std::size_t used = 0;
    while (used < data.size() && !complete_) {
        if (header_fill_ < frame_header_size) {
            header_[header_fill_++] = data[used++];
            check_header();
            continue;
        }
        const std::size_t take = std::min(payload_length_ - payload_.size(), data.size() - used);
        // Room for the whole payload once its bytes start to arrive, if it is
        // chunk-sized: a chunk spans two transport messages, and growing the
        // vector on the second would copy the first again. Larger payloads
        // (a leaf layer) still grow only as their bytes arrive.
        if (payload_.empty() && payload_length_ <= reserve_limit) payload_.reserve(payload_length_);
        payload_.insert(payload_.end(), data.begin() + static_cast<std::ptrdiff_t>(used),
                        data.begin() + static_cast<std::ptrdiff_t>(used + take));
        used += take;
        complete_ = payload_.size() == payload_length_;
    }
    return used;
}

std::optional<Frame> FrameReader::next() {
    if (failure_) throw ProtocolError(*failure_);
    if (!complete_) return std::nullopt;
    Frame f{static_cast<MessageType>(header_[1]), std::move(payload_)};
    payload_ = Bytes{};
    header_fill_ = 0;
    payload_length_ = 0;
    complete_ = false;
    return f;
}

} // namespace earshot::proto
