// What the HTTP layer needs from the rest of the daemon, one narrow interface
// per module. The HTTP code knows nothing about LMDB, scanning or peers; the
// daemon's services implement them (library, peers, streams).
#pragma once

#include "proto/asio.hpp"
#include "resolver/pipeline.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::http {

// The bytes behind a sid. A local file now; a verified multi-peer download
// later. Reads may suspend (remote chunks) and may be issued at any offset.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual std::uint64_t size() const = 0;
    virtual std::string mimetype() const = 0;
    // Fills up to out.size() bytes starting at offset; returns how many were
    // read (0 only at end of data). Throws std::system_error on I/O failure.
    virtual awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
};

// A pairing request (POST /api/v1/peers).
struct PeerSpec {
    std::string peer_id;
    std::string role; // "device" or "friend"
    std::string name;
    std::string address; // "host:port", may be empty
    std::optional<std::vector<std::string>> shared; // friends: folders they may see; nullopt = all
};

// Each HTTP module depends on the narrow interfaces it uses, so its tests
// fake a few methods rather than the whole daemon, and a new module adds an
// interface of its own instead of growing one for everybody.

// The query pipeline and the library's name (the Playdar API, native search).
class ResolverAccess {
public:
    virtual ~ResolverAccess() = default;
    // Name of this library as shown in results' "source".
    virtual std::string name() const = 0;
    // The query pipeline; lives on the same io_context as the HTTP server.
    virtual resolver::Resolver& resolver() = 0;
};

// The index as the native API shows and drives it.
class LibraryControl {
public:
    virtual ~LibraryControl() = default;
    // Body of GET /api/v1/status (tracks, name, version, peer_id, scan{...}).
    virtual nlohmann::json status() const = 0;
    // Starts a rescan of every library folder; false if one is already running.
    virtual bool request_scan() = 0;
    // Files that could not be indexed: [{path, reason, size, mtime}]. A walk
    // of the whole index: awaited, so it runs off the io thread.
    virtual awaitable<nlohmann::json> failures() = 0;
    // Details of one track by sid (all tags, audio properties, recording, fingerprint state);
    // nullopt for an unknown sid. Stats the file: awaited.
    virtual awaitable<std::optional<nlohmann::json>> track_details(std::string sid) = 0;
};

// Pairings with own devices and friends.
class PeerControl {
public:
    virtual ~PeerControl() = default;
    // Own devices and friends: {"peers": [...]} with live state.
    virtual nlohmann::json peers() const = 0;
    // Adds or updates a pairing; throws std::invalid_argument (a 400) for a
    // bad id, role, address or folder.
    virtual nlohmann::json add_peer(const PeerSpec&) = 0;
    // False for a peer that was not paired.
    virtual bool remove_peer(std::string_view peer_id) = 0;
    // Once the pairings changed so far are on the disk (the API answers
    // after it); throws std::system_error if the disk refused them.
    virtual awaitable<void> saved() = 0;
};

// Pinned remote tracks.
class PinControl {
public:
    virtual ~PinControl() = default;
    // Pinned remote tracks with their download progress: {"pins": [...]}.
    virtual nlohmann::json pins() const = 0;
    // Pins the tracks a query finds (or one sid): complete verified copies
    // kept past cache eviction. Returns what was pinned.
    virtual awaitable<nlohmann::json> pin(resolver::Query q, std::string sid) = 0;
    // False if it was not pinned. Awaitable: it changes files.
    virtual awaitable<bool> unpin(std::string sid) = 0;
};

// The bytes behind sids (/sid/).
class StreamSource {
public:
    virtual ~StreamSource() = default;
    // Opens the stream behind a sid; nullptr for an unknown sid.
    // May wait for a peer (a remote sid whose size is not known yet).
    virtual awaitable<std::unique_ptr<ByteSource>> open_stream(std::string sid) = 0;
};

// The daemon's event channel as /api/v1/events streams it (not part of
// Backend: the events module is plugged in by whoever has a channel).
struct EventMessage {
    std::uint64_t id = 0;       // increasing; a client resumes after the last it saw
    std::string kind;           // "link_up", "scan_progress", ...
    std::int64_t unix_ms = 0;
    nlohmann::json data;
};
struct EventMessages {
    std::uint64_t missed = 0;   // events after `after` no longer held
    std::vector<EventMessage> events;
};
class EventSource {
public:
    virtual ~EventSource() = default;
    // What came after event `after` (0: everything still held), waiting up
    // to `wait` for the first; empty when nothing came.
    virtual awaitable<EventMessages> events_after(std::uint64_t after, std::chrono::milliseconds wait) = 0;
};

// The pipeline under the library's name, for daemons whose resolver is
// owned apart from any one service.
class NamedResolver final : public ResolverAccess {
public:
    NamedResolver(std::string name, resolver::Resolver& resolver) : name_(std::move(name)), resolver_(resolver) {}
    std::string name() const override { return name_; }
    resolver::Resolver& resolver() override { return resolver_; }

private:
    std::string name_;
    resolver::Resolver& resolver_;
};

// Everything the daemon's standard modules need, one part from each service
// that implements it. Modules never take the whole, only their own parts.
struct StandardParts {
    ResolverAccess& search;
    LibraryControl& library;
    PeerControl& peers;
    PinControl& pins;
    StreamSource& streams;
};

// All the parts in one object: what tests fake.
class Backend : public ResolverAccess,
                public LibraryControl,
                public PeerControl,
                public PinControl,
                public StreamSource {
public:
    StandardParts parts() { return {*this, *this, *this, *this, *this}; }
};

} // namespace earshot::http
