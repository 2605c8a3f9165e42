// A private mainline DHT for tests: earshot-test-dht (tests/support/dht)
// running as a child process, N libtorrent nodes on 127.0.0.1 that know
// each other and nothing else. Sessions under test bootstrap from it; the
// nodes log every packet they receive, so a test can check what its own
// sessions (or daemons) revealed to the DHT.
#pragma once

#include "proto/bytes.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace earshot::test {

class PrivateDht {
public:
    struct Packet {
        std::string remote; // who sent it, "ip:port"
        std::string local;  // the node that received it
        proto::Bytes bytes; // the UDP payload (a bencoded KRPC message)
    };

    // Starts `nodes` nodes and waits until each one's routing table is
    // filled; throws std::runtime_error with the tool's output if that does
    // not happen within `timeout`.
    explicit PrivateDht(int nodes = 20, std::chrono::seconds timeout = std::chrono::seconds(20));
    ~PrivateDht() = default; // the Process member stops the tool (SIGTERM)
    PrivateDht(const PrivateDht&) = delete;
    PrivateDht& operator=(const PrivateDht&) = delete;

    // "127.0.0.1:P" of every node.
    const std::vector<std::string>& nodes() const { return nodes_; }
    // `count` nodes from the `first` as "h:p,h:p,...": libtorrent's
    // dht_bootstrap_nodes format, and what a --dht-bootstrap flag takes.
    // Few by default: libtorrent never puts a bootstrap node into its
    // routing table, so a session given all 20 nodes here still had an
    // empty table 10 s later (its lookups worked, through the bootstrap
    // nodes), while one given 2 had learned the others within a second.
    std::string bootstrap(std::size_t count = 2, std::size_t first = 0) const;
    // How long the tool took from start to its ready line.
    std::chrono::milliseconds time_to_ready() const { return time_to_ready_; }

    // Every packet the nodes have received so far (the log is re-read on
    // each call; a line still being written is left for the next).
    std::vector<Packet> packets() const;
    // Whether any received packet contains `needle` anywhere in its bytes.
    bool received(proto::ByteView needle) const;
    // How often libtorrent's alert queue overflowed in the tool: if not 0,
    // packets() may miss some, and an "X was never sent" check proves nothing.
    std::size_t dropped() const;
    // Stops the tool now (SIGTERM) and returns its exit code: 0 unless it
    // crashed or, in a sanitizer build, reported an error or a leak.
    int stop() { return process_.terminate(); }
    // The tool's stderr/stdout so far, for a failure message.
    std::string tool_output() const { return process_.log_text(); }

private:
    TempDir dir_;
    Process process_;
    std::vector<std::string> nodes_;
    std::chrono::milliseconds time_to_ready_{};
};

} // namespace earshot::test
