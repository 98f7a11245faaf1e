#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_beacon.c (tests/fuzz/corpus/beacon/) from
proto/BEACON.md alone, version 2: tags bind the sender's source address.

The receiver in the fuzz target is bob (seed 20..3f); sender i (0..19) has the seed
i, 0x80, then 0x5a ^ 13j for bytes j = 2..31. Beacons are made at FUZZ_NOW from
198.18.0.1 (one also from 198.18.0.2, the fuzz target's other address). Deterministic:
nonces and padding come from a fixed-seed random generator.

    python3 tests/tools/beacon_corpus.py tests/fuzz/corpus/beacon
"""
import hashlib
import os
import random
import sys

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

P = 2**255 - 19
FUZZ_NOW = 1700000000
PORT = 5484
rng = random.Random(2)


def mapped(a, b, c, d):
    return bytes(10) + b"\xff\xff" + bytes([a, b, c, d])


SRC = mapped(198, 18, 0, 1)
OTHER = mapped(198, 18, 0, 2)


def identity(seed):
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return ed.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw), hashlib.sha512(seed).digest()[:32]


def ed_to_x(ed):
    y = int.from_bytes(ed, "little") & (2**255 - 1)
    return ((1 + y) * pow(1 - y, P - 2, P) % P).to_bytes(32, "little")


def key(s, r_ed):  # K(S -> R) from the sender's side
    s_ed, s_x = s
    dh = x25519.X25519PrivateKey.from_private_bytes(s_x).exchange(
        x25519.X25519PublicKey.from_public_bytes(ed_to_x(r_ed)))
    return hashlib.blake2b(b"kith beacon v1" + s_ed + r_ed, key=dh, digest_size=32).digest()


def sender(i):
    seed = bytearray((0x5A ^ (j * 13)) & 0xFF for j in range(32))
    seed[0], seed[1] = i, 0x80
    return identity(bytes(seed))


def rand(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def beacons(s, peers, t=FUZZ_NOW, src=SRC, port=PORT):
    n = len(peers)
    d = max(1, -(-n // 128))
    out, nxt = [], 0
    for i in range(d):
        k = n // d + (i < n % d)
        c = max(8, -(-k // 8) * 8)
        h = bytes([2]) + rand(16) + t.to_bytes(8, "big") + port.to_bytes(2, "big")
        tags = [hashlib.blake2b(h + src, key=key(s, p), digest_size=32).digest()[:8]
                for p in peers[nxt:nxt + k]]
        tags += [rand(8) for _ in range(c - k)]
        out.append(h + bytes([c]) + b"".join(sorted(tags)))
        nxt += k
    return out


def others(n):
    return [identity(bytes([0xD0, k & 0xFF, k >> 8]) + bytes(29))[0] for k in range(n)]


def main(outdir):
    bob = identity(bytes(range(0x20, 0x40)))[0]
    s3, s19 = sender(3), sender(19)
    stranger = identity(bytes([0xEE]) * 32)
    files = {}
    files["real_1_peers"] = beacons(s3, [bob])[0]
    real10 = beacons(s3, others(9)[:4] + [bob] + others(9)[4:])[0]
    files["real_10_peers"] = real10
    files["real_10_peers_other_address"] = beacons(s3, others(5) + [bob], src=OTHER)[0]
    files["real_100_peers"] = beacons(s19, others(99) + [bob])[0]
    p0, p1 = beacons(s19, others(150) + [bob] + others(200)[150:199])
    files["real_200_peers_part0"], files["real_200_peers_part1"] = p0, p1
    files["from_stranger_10_peers"] = beacons(stranger, others(9) + [bob])[0]
    files["stale_10_peers"] = beacons(s3, others(9) + [bob], t=FUZZ_NOW - 3600)[0]

    def flip(b, i, bit=1):
        b = bytearray(b)
        b[i] ^= bit
        return bytes(b)

    files["tampered_nonce"] = flip(real10, 5)
    files["tampered_time"] = flip(real10, 24)
    files["tampered_port"] = flip(real10, 26)
    mine = hashlib.blake2b(real10[:27] + SRC, key=key(s3, bob), digest_size=32).digest()[:8]
    at = [real10[28 + 8 * i:36 + 8 * i] for i in range(real10[27])].index(mine)
    files["tampered_tag"] = flip(real10, 28 + 8 * at + 7)  # bob's tag, order kept
    files["trailing_byte"] = real10 + b"\x00"
    files["truncated_header"] = real10[:20]
    files["truncated_tags"] = real10[:-3]
    tags = real10[28:]
    files["unsorted_tags"] = real10[:28] + tags[8:16] + tags[:8] + tags[16:]
    files["port_0"] = real10[:25] + b"\x00\x00" + real10[27:]
    files["count_not_multiple_of_8"] = real10[:27] + bytes([12]) + real10[28:]
    files["count_too_big_for_length"] = real10[:27] + bytes([24]) + real10[28:]
    big = bytes([2]) + rand(16) + FUZZ_NOW.to_bytes(8, "big") + PORT.to_bytes(2, "big") + bytes([136])
    files["count_136"] = big + b"".join(sorted(rand(8) for _ in range(136)))
    files["max_len_zero_tags"] = (bytes([2]) + bytes(16) + FUZZ_NOW.to_bytes(8, "big") +
                                  b"\x00\x01" + bytes([128]) + bytes(1024))
    files["empty"] = b""
    files["version_3"] = bytes([3]) + real10[1:]
    # The replay table's saved form (also fed to kith_beacon_replay_load by the target).
    table = bytes([1])
    for k in range(3):
        table += rand(16) + (FUZZ_NOW + k).to_bytes(8, "big")
    files["replay_table_3"] = table
    files["replay_table_partial"] = table[:-5]
    for name, data in files.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
