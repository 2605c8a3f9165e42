#!/usr/bin/env python3
"""Independent reference for earshot content ids (proto/CONTENT_ID.md), written
against Python's hashlib so the C++ implementation is checked against code
that shares nothing with it. Prints the test vectors of the spec."""
import hashlib
import struct
import sys

CHUNK = 64 * 1024


def h(personal: bytes, *parts: bytes) -> bytes:
    b = hashlib.blake2b(digest_size=32, person=personal)
    for p in parts:
        b.update(p)
    return b.digest()


LEAF, NODE, ROOT = b"earshot:leaf:v1\0", b"earshot:node:v1\0", b"earshot:root:v1\0"


def content_id(data: bytes):
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    leaves = [h(LEAF, c) for c in chunks]
    width = 1
    while width < len(leaves):
        width *= 2
    level = leaves + [bytes(32)] * (width - len(leaves))
    while len(level) > 1:
        level = [h(NODE, level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return h(ROOT, struct.pack("<Q", len(data)), level[0]), leaves


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


VECTORS = [("empty", b""), ("abc", b"abc"), ("one chunk", pattern(CHUNK)),
           ("chunk plus one", pattern(CHUNK + 1)), ("three chunks and a bit", pattern(3 * CHUNK + 100)),
           ("five chunks", pattern(5 * CHUNK))]

if __name__ == "__main__":
    for name, data in VECTORS:
        root, leaves = content_id(data)
        print(f"{name}\t{len(data)}\t{len(leaves)}\t{root.hex()}\t{leaves[0].hex()}\t{leaves[-1].hex()}")
    sys.exit(0)
