#!/usr/bin/env python3
"""Independent reference for earshot's DHT presence records (proto/DHT.md),
written from the spec, not from the C++ code. BLAKE2b and SHA-1 come from
hashlib; the Ed25519 → X25519 conversion and X25519 itself are computed here
in plain integer arithmetic (RFC 7748) and checked against libsodium through
PyNaCl, which also supplies Ed25519 signing and XChaCha20-Poly1305.

  presence_reference.py           prints the test vectors of DHT.md §8
  presence_reference.py --check F exits 0 if the vector block of F (DHT.md)
                                  is exactly what this script computes, 1 if
                                  not, 77 (skipped) if PyNaCl is missing
"""
import hashlib
import struct
import sys

try:
    import nacl.bindings as nb
except ImportError:
    print("SKIP: PyNaCl is missing (Debian: apt-get install python3-nacl)")
    sys.exit(77)

PERSONAL = b"earshot:dht:v1\0\0"
AD_CONTEXT = b"earshot-presence/1"
EPOCH_SECONDS = 3600
PLAINTEXT_SIZE = 512
KINDS = {"direct": 1, "mapped": 2, "observed": 3, "lan": 4}


def kdf(key: bytes, label: bytes, *data: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=32, key=key, person=PERSONAL)
    h.update(label + b"\0")
    for d in data:
        h.update(d)
    return h.digest()


# --- X25519 from Ed25519, RFC 7748 and RFC 8032 ---------------------------
P = 2 ** 255 - 19


def x25519(scalar: bytes, u: bytes) -> bytes:
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def ed25519_seed_to_x25519(seed: bytes) -> bytes:
    return hashlib.sha512(seed).digest()[:32]  # x25519() clamps it


def ed25519_pk_to_x25519(pk: bytes) -> bytes:
    y = int.from_bytes(pk, "little") & ((1 << 255) - 1)
    return ((1 + y) * pow(1 - y, P - 2, P) % P).to_bytes(32, "little")


def public_key(seed: bytes) -> bytes:
    return nb.crypto_sign_seed_keypair(seed)[0]


def pair_secret(own_seed: bytes, peer: bytes) -> bytes:
    own = public_key(own_seed)
    dh = x25519(ed25519_seed_to_x25519(own_seed), ed25519_pk_to_x25519(peer))
    # The same through libsodium's conversions, as the C++ code does it.
    sk = nb.crypto_sign_seed_keypair(own_seed)[1]
    assert dh == nb.crypto_scalarmult(nb.crypto_sign_ed25519_sk_to_curve25519(sk),
                                      nb.crypto_sign_ed25519_pk_to_curve25519(peer))
    assert dh != bytes(32) and own != peer
    return kdf(dh, b"pair", min(own, peer), max(own, peer))


def item_keys(pair: bytes, publisher: bytes, reader: bytes, epoch: int) -> dict:
    context = publisher + reader + struct.pack("<Q", epoch)
    k = {"signing seed": kdf(pair, b"signing seed", context), "salt": kdf(pair, b"salt", context),
         "aead key": kdf(pair, b"aead key", context)}
    k["item key"] = public_key(k["signing seed"])
    k["target"] = hashlib.sha1(k["item key"] + k["salt"]).digest()
    k["associated data"] = AD_CONTEXT + context
    return k


def plaintext(published: int, endpoints, relays) -> bytes:
    out = bytes([1]) + struct.pack("<Q", published) + bytes([len(endpoints)])
    for kind, address, port in endpoints:
        out += bytes([KINDS[kind], 4 if len(address) == 4 else 6]) + address + struct.pack("<H", port)
    out += bytes([len(relays)]) + b"".join(relays)
    return out + bytes(PLAINTEXT_SIZE - len(out))


def bencode(b: bytes) -> bytes:
    return str(len(b)).encode() + b":" + b


def signing_payload(salt: bytes, seq: int, encoded_value: bytes) -> bytes:
    head = b"4:salt" + bencode(salt) if salt else b""
    return head + b"3:seqi" + str(seq).encode() + b"e1:v" + encoded_value


# --- The vectors of DHT.md §8 ---------------------------------------------
SEED_A = bytes(range(0, 32))
SEED_B = bytes(range(32, 64))
SEED_C = bytes(range(64, 96))
PUBLISHED = 1767226834  # 2026-01-01T00:20:34Z
ENDPOINTS = [("direct", bytes([203, 0, 113, 7]), 60211),
             ("mapped", bytes([198, 51, 100, 23]), 41000),
             ("observed", bytes([203, 0, 113, 9]), 52000),
             ("lan", bytes([192, 168, 1, 23]), 60211),
             ("direct", bytes.fromhex("20010db8000000000000000000000007"), 60211)]
NONCE = bytes(range(0x80, 0x98))


def vectors():
    a, b, c = public_key(SEED_A), public_key(SEED_B), public_key(SEED_C)
    pair = pair_secret(SEED_A, b)
    assert pair == pair_secret(SEED_B, a)
    epoch = PUBLISHED // EPOCH_SECONDS
    k = item_keys(pair, a, b, epoch)
    plain = plaintext(PUBLISHED, ENDPOINTS, [c])
    sealed = NONCE + nb.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, k["associated data"], NONCE, k["aead key"])
    payload = signing_payload(k["salt"], PUBLISHED, bencode(sealed))
    signature = nb.crypto_sign(payload, nb.crypto_sign_seed_keypair(k["signing seed"])[1])[:64]
    back = item_keys(pair, b, a, epoch)
    return [("seed A", SEED_A.hex()), ("public key A", a.hex()), ("seed B", SEED_B.hex()), ("public key B", b.hex()),
            ("relay C", c.hex()), ("pair secret", pair.hex()), ("epoch", str(epoch)),
            ("signing seed", k["signing seed"].hex()), ("item key", k["item key"].hex()), ("salt", k["salt"].hex()),
            ("aead key", k["aead key"].hex()), ("target", k["target"].hex()),
            ("associated data", k["associated data"].hex()), ("plaintext", plain.hex()), ("nonce", NONCE.hex()),
            ("sealed value", sealed.hex()), ("seq", str(PUBLISHED)), ("signature", signature.hex()),
            ("item key B to A", back["item key"].hex()), ("salt B to A", back["salt"].hex()),
            ("target B to A", back["target"].hex())]


def block(entries) -> str:
    """The text of DHT.md §8's vector block: name, then the value in lines of
    at most 64 characters, continuation lines indented to the value column."""
    width = 18
    lines = []
    for name, value in entries:
        parts = [value[i:i + 64] for i in range(0, len(value), 64)] or [""]
        lines.append(name.ljust(width) + parts[0])
        lines += [" " * width + p for p in parts[1:]]
    return "\n".join(lines) + "\n"


def block_in(doc: str) -> str:
    start = doc.index("Test vectors")
    fence = doc.index("```\n", start) + 4
    return doc[fence:doc.index("```", fence)]


if __name__ == "__main__":
    text = block(vectors())
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2], encoding="utf-8") as f:
            shown = block_in(f.read())
        if shown != text:
            print("DHT.md's vector block differs from the reference; the reference computes:\n" + text)
            sys.exit(1)
        print(f"presence reference: the {len(vectors())} vectors of {sys.argv[2]} match")
        sys.exit(0)
    sys.stdout.write(text)
