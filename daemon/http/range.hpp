// HTTP Range (RFC 9110 §14) for one representation of known size.
#pragma once

#include <cstdint>
#include <string_view>

namespace earshot::http {

struct ByteRange {
    std::uint64_t first = 0, last = 0; // inclusive
    std::uint64_t length() const { return last - first + 1; }
};

struct RangeRequest {
    enum class Kind {
        whole,         // no Range, or one we ignore (unknown unit, bad syntax): 200 with everything
        partial,       // 206 with `range`
        unsatisfiable, // 416 with "Content-Range: bytes */size"
    };
    Kind kind = Kind::whole;
    ByteRange range;
};

// Parses a Range header value against a representation of `size` bytes.
// "bytes=a-b", "bytes=a-" and "bytes=-n" (the last n bytes) are honoured; `b`
// past the end is clipped to the end. A multi-range request is answered with
// one part that spans from the lowest to the highest requested byte of its
// satisfiable ranges: every requested byte is in it, Content-Range says where,
// and no client has to parse multipart/byteranges (RFC 9110 §14.6 allows
// coalescing). Malformed values and other units are ignored (whole body), as
// §14.2 allows; more than 32 ranges are treated as malformed.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

} // namespace earshot::http
