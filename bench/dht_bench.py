#!/usr/bin/python3
"""DHT figures on a private DHT of local libtorrent nodes (earshot-test-dht), each beside a reference
measured in the same run:

  find by id     a fresh laptop pairs the home daemon by peer id alone, after home has published for it;
                 time from the pairing to the link (median of ROUNDS). Reference: the same pairing with
                 the address given (dial + handshake, no lookup).
  port change    the laptop stops and comes back on another peer port; time until both ends are linked
                 again. Reference: the same restart on the same port.
  traffic        DHT packets and bytes one daemon sends per hour (its libtorrent counters over WINDOW
                 seconds, scaled) with 10 and 100 paired peers that are offline (the worst case: they are
                 looked up, not linked), over a library of a few tracks and of TRACKS tracks. Reference:
                 the same daemon with no paired peer.

Usage: bench/dht_bench.py [BUILD=build] [--nodes 50] [--rounds 7] [--window 120] [--tracks 10000] [--skip-traffic]
Needs /usr/bin/python3 with PyNaCl (python3-nacl) for the offline peers' keys.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request

import nacl.signing

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def peer_id(key: bytes) -> str:
    """proto/PEER_ID.md: base32, four groups of 13 with a Luhn mod 32 check each, eight groups of seven."""
    bits = "".join(f"{b:08b}" for b in key) + "0000"
    text = "".join(ALPHABET[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))
    out = ""
    for g in range(4):
        group = text[13 * g:13 * g + 13]
        total, factor = 0, 2
        for ch in reversed(group):
            p = ALPHABET.index(ch) * factor
            total += p // 32 + p % 32
            factor = 1 if factor == 2 else 2
        out += group + ALPHABET[(32 - total % 32) % 32]
    return "-".join(out[i:i + 7] for i in range(0, 56, 7))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, exe, data, name, bootstrap, extra=(), peer_port=None):
        self.data, self.name = data, name
        os.makedirs(data, exist_ok=True)
        self.http = free_port()
        self.peer_port = peer_port or free_port()
        args = [exe, "--data", data, "--http", f"127.0.0.1:{self.http}", "--listen", f"127.0.0.1:{self.peer_port}",
                "--name", name, "--no-discovery", "--no-port-mapping", "--dht-allow-local",
                "--dht-listen", "127.0.0.1:0", "--log-level", "info", *extra]
        for b in bootstrap:
            args += ["--dht-bootstrap", b]
        self.log = open(os.path.join(data, "earshotd.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.http}"
        wait(lambda: self.get("/api/v1/health") is not None, 30, f"{name} did not start")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return json.loads(r.read() or b"null")
        except Exception:
            return None

    def post(self, path, form):
        req = urllib.request.Request(self.url + path, data=urllib.parse.urlencode(form).encode())
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def status(self):
        return self.get("/api/v1/status") or {}

    def id(self):
        return self.status()["peer_id"]

    def pair(self, pid, name, address=None):
        form = {"peer_id": pid, "role": "device", "name": name}
        if address:
            form["address"] = address
        self.post("/api/v1/peers", form)

    def online(self, name):
        for p in (self.get("/api/v1/peers") or {}).get("peers", []):
            if p["name"] == name:
                return p["online"]
        return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise SystemExit("timed out: " + what)


def make_library(folder, n):
    """n tagged tracks as tiny WAV files with a RIFF INFO chunk (artist, title): the index is what
    counts here, not the audio."""
    os.makedirs(folder, exist_ok=True)
    import struct
    def chunk(tag, body):
        return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")
    for i in range(n):
        path = os.path.join(folder, f"{i // 1000:03d}", f"{i:06d}.wav")
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        samples = struct.pack("<" + "h" * 800, *[(i * 37 + k * 11) % 2000 - 1000 for k in range(800)])
        fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
        info = b"INFO" + chunk(b"IART", f"Artist {i % 997}\0".encode()) + chunk(b"INAM", f"Track {i}\0".encode())
        body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"LIST", info) + chunk(b"data", samples)
        with open(path, "wb") as f:
            f.write(chunk(b"RIFF", body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--window", type=int, default=120)
    ap.add_argument("--tracks", type=int, default=10000)
    ap.add_argument("--skip-traffic", action="store_true")
    a = ap.parse_args()
    exe = os.path.join(a.build, "daemon", "earshotd")
    swarm_exe = os.path.join(a.build, "tests", "support", "earshot-test-dht")
    work = tempfile.mkdtemp(prefix="earshot-dht-bench-")
    swarm = subprocess.Popen([swarm_exe, "--nodes", str(a.nodes), "--timeout", "60"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    daemons = []
    try:
        line = swarm.stdout.readline().split()
        assert line and line[0] == "ready", "earshot-test-dht did not come up"
        nodes = line[1:]
        boot = nodes[:2]

        home = Daemon(exe, os.path.join(work, "home"), "home", boot)
        daemons.append(home)
        home_id = home.id()
        wait(lambda: home.status()["dht"]["nodes"] > 0, 30, "home joined the DHT")

        # (a) find by id, beside pairing with the address given
        found, direct = [], []
        for r in range(a.rounds):
            for by_id in (True, False):
                lap = Daemon(exe, os.path.join(work, f"laptop-{r}-{by_id}"), f"laptop{r}{int(by_id)}", boot)
                wait(lambda: lap.status()["dht"]["nodes"] > 0, 30, "laptop joined the DHT")
                stored = home.status()["dht"]["presence"]["puts_stored"]
                home.pair(lap.id(), lap.name)
                # home has published for this laptop (or, for the reference, at least paired it)
                wait(lambda: home.status()["dht"]["presence"]["puts_stored"] > stored, 30, "home's put")
                t0 = time.monotonic()
                lap.pair(home_id, "home", None if by_id else f"127.0.0.1:{home.peer_port}")
                wait(lambda: lap.online("home"), 60, "laptop linked to home")
                (found if by_id else direct).append(time.monotonic() - t0)
                lap.stop()
        med = statistics.median
        print(f"private DHT: {a.nodes} nodes")
        print(f"find by id and link: median {med(found) * 1000:.0f} ms (min {min(found) * 1000:.0f}, max {max(found) * 1000:.0f}; {len(found)} rounds)"
              f"   reference, address given: median {med(direct) * 1000:.0f} ms")

        # (b) a port change, beside a restart on the same port
        lap_dir = os.path.join(work, "mover")
        lap = Daemon(exe, lap_dir, "mover", boot)
        home.pair(lap.id(), "mover")
        lap.pair(home_id, "home")
        wait(lambda: lap.online("home") and home.online("mover"), 60, "mover linked")
        moved, same = [], []
        for r in range(3):
            for change in (True, False):
                port = lap.peer_port
                lap.stop()
                wait(lambda: not home.online("mover"), 60, "home saw the mover go")
                lap = Daemon(exe, lap_dir, "mover", boot, peer_port=None if change else port)
                t0 = time.monotonic()
                wait(lambda: lap.online("home") and home.online("mover"), 120, "mover linked again")
                (moved if change else same).append(time.monotonic() - t0)
        daemons.append(lap)
        print(f"link again after a port change: median {med(moved):.1f} s ({', '.join(f'{x:.1f}' for x in moved)})"
              f"   reference, same port: median {med(same):.1f} s")

        # (c) traffic per hour with 0 / 10 / 100 offline paired peers, small and large library
        for d in daemons:
            d.stop()
        daemons.clear()
        if a.skip_traffic:
            return
        keys = [peer_id(bytes(nacl.signing.SigningKey.generate().verify_key)) for _ in range(100)]
        big = os.path.join(work, "big-library")
        make_library(big, a.tracks)
        small = os.path.join(work, "small-library")
        make_library(small, 10)
        # An upper bound: the window starts 5 s after the pairings, so it holds each peer's first
        # lookups and their quick retries, which a daemon running for hours makes only once.
        print(f"DHT traffic sent by one daemon, per hour (the {a.window} s after pairing, scaled: an upper bound):")
        for lib, label in ((small, "10 tracks"), (big, f"{a.tracks} tracks")):
            for n in (0, 10, 100):
                d = Daemon(exe, os.path.join(work, f"traffic-{label}-{n}".replace(" ", "")), "t", boot,
                           extra=["--library", lib, "--no-fingerprints", "--no-watch"])
                daemons.append(d)
                wait(lambda: d.status().get("scan", {}).get("scans_completed", 0) >= 1 and not d.status()["scan"]["running"],
                     600, "scan")
                tracks = d.status().get("tracks", 0)
                for k in keys[:n]:
                    d.pair(k, "offline-" + k[:7])
                time.sleep(5)  # the first puts and lookups: counted, they happen every hour too
                s0 = d.status()["dht"]
                time.sleep(a.window)
                s1 = d.status()["dht"]
                scale = 3600 / a.window
                pk = (s1["packets_out"] - s0["packets_out"]) * scale
                by = (s1["bytes_out"] - s0["bytes_out"]) * scale
                ops = s1["presence"]["puts"] + s1["presence"]["lookups"] - s0["presence"]["puts"] - s0["presence"]["lookups"]
                per_op = (s1["packets_out"] - s0["packets_out"]) / ops if ops else 0
                print(f"  {label:>13} ({tracks} indexed), {n:3d} paired: {pk:9.0f} packets/h  {by / 1e6:7.2f} MB/h"
                      f"   (in the window: {ops} puts and lookups, {per_op:.1f} packets sent each)")
                d.stop()
                daemons.remove(d)
    finally:
        for d in daemons:
            try:
                d.stop()
            except Exception:
                pass
        swarm.terminate()
        swarm.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
