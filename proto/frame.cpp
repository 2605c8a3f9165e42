#include "proto/frame.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace earshot::proto {

Bytes encode_frame(MessageType type, ByteView payload) {
    if (payload.size() > max_payload_size)
        throw std::length_error("frame payload of " + std::to_string(payload.size()) +
                                " bytes exceeds the maximum of " + std::to_string(max_payload_size));
    ByteWriter w;
    w.u8(frame_version);
    w.u8(static_cast<std::uint8_t>(type));
    w.u32le(static_cast<std::uint32_t>(payload.size()));
    w.raw(payload);
    return std::move(w).take();
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
