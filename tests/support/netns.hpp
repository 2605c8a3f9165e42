// Two network namespaces joined by one impaired link, for running daemons
// "on two machines" with real delay and loss between them. Needs root.
//
// The link is a veth pair shaped with `tc netem` where the kernel has netem.
// Kernels built without sch_netem (some CI kernels are) get a pair of TUN
// devices instead, with this process forwarding packets between them and
// applying the same delay, jitter and loss itself: the daemons still talk
// plain TCP through their kernels, so retransmission and congestion control
// see a real lossy, slow path either way. The namespaces have no route
// anywhere but each other, so nothing run inside them can reach the outside.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace earshot::test {

// The machine cannot do this (not root, no `ip netns`, neither netem nor
// TUN): tests skip rather than fail.
struct NetnsUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Impairment {
    std::chrono::milliseconds delay{40};  // each direction
    std::chrono::milliseconds jitter{10}; // uniform +-jitter on top of delay
    double loss = 0.02;                   // per packet, each direction
};

class NetnsPair {
public:
    enum Side { a = 0, b = 1 };

    // Creates namespaces "earshot-<pid>-<n>-a"/"-b" and the link. Throws
    // NetnsUnavailable when the machine cannot, std::runtime_error on other
    // failures (after cleaning up what it made). EARSHOT_NETNS_LINK=netem or
    // =tun forces one kind of link.
    explicit NetnsPair(Impairment impairment = {});
    ~NetnsPair();
    NetnsPair(const NetnsPair&) = delete;
    NetnsPair& operator=(const NetnsPair&) = delete;

    const std::string& name(Side s) const;
    // The side's address on the link, e.g. "10.231.17.1".
    std::string address(Side s) const;
    // "veth + tc netem" or "tun + userspace delay/loss".
    std::string link_kind() const;
    const Impairment& impairment() const;

    // `ip netns exec <ns> argv...`: argv run inside the side's namespace.
    std::vector<std::string> exec(Side s, const std::vector<std::string>& argv) const;
    // Takes side `s`'s end of the link administratively down or up (`ip link
    // set ... down/up`): packets in either direction are lost meanwhile, and
    // connections over it survive unless something else ends them.
    void set_link_up(Side s, bool up);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// A slow HTTP reader, like a player fetching as it plays: GET `path` from
// 127.0.0.1:`port` inside namespace `ns` at about `bytes_per_second`, with
// a small socket buffer so the server really is held back. Runs on its own
// thread (only that thread enters the namespace). (curl --limit-rate is not
// used: curl 7.88 lets bursts of megabytes through it.)
class SlowDownload {
public:
    SlowDownload(const std::string& ns, unsigned short port, std::string path, std::size_t bytes_per_second);
    ~SlowDownload();
    SlowDownload(const SlowDownload&) = delete;
    SlowDownload& operator=(const SlowDownload&) = delete;

    std::size_t received() const;   // body bytes so far
    // Waits for the end of the body; false on timeout. Then status() (0 if no
    // response came), body(), error() (empty if the body arrived whole).
    bool wait(std::chrono::seconds timeout);
    int status() const;
    const std::string& body() const;
    const std::string& error() const;

    struct State;

private:
    std::shared_ptr<State> state_;
};

} // namespace earshot::test
