// Files only the owner may read (keys, tokens, the peer roster), replaced
// atomically: written to a private temporary, flushed to disk, then renamed
// over the old one, so a crash leaves either the old or the new content and
// the bytes are never readable by anyone else, not even for a moment.
#pragma once

#include <filesystem>
#include <string_view>

namespace earshot::core {

// Throws std::system_error if the file cannot be written.
void write_private_file(const std::filesystem::path& file, std::string_view content);

} // namespace earshot::core
