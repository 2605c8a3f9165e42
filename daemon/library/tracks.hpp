// The one mapping from an indexed track to what the outside sees of it: its
// sid, its recording id, the resolver's candidate, a search result (HTTP),
// a wire result entry (peers) and the full details (/api/v1/tracks). Every
// place that shows a track goes through here, so a field added once shows
// everywhere it should.
#pragma once

#include "daemon/index/store.hpp"
#include "daemon/index/track.hpp"
#include "proto/messages.hpp"
#include "resolver/query.hpp"
#include "resolver/score.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace earshot::library {

// The sid of a track: its content id in hex once hashed; before the content
// pass reaches it, "track-<id>" (playable locally, never sent to peers).
std::string sid_of(const index::Track&);
// The tracks a sid names (several files may hold the same bytes).
std::vector<index::Track> tracks_for_sid(const index::ReadTxn&, std::string_view sid);

// Our recording id, 16 hex digits.
std::string recording_of(const index::Track&);
// The recording id sent to peers: "mb:<MusicBrainz recording id>" when the
// file is tagged with one (the same on every peer), else our own id.
std::string wire_recording_of(const index::Track&);

resolver::Candidate candidate_of(const index::Track&);
resolver::Result result_of(const index::Track&, std::string_view source, double score);
// Only for hashed tracks (peers address content by its id).
proto::ResultEntry entry_of(const index::Track&, double score);
nlohmann::json details_of(const index::Track&, std::string_view source);

} // namespace earshot::library
