#!/usr/bin/env bash
# LAN discovery on a private segment: three trusted nodes with no configured addresses
# find each other and sync by audience; a fourth, untrusted node learns nothing; the
# capture of the LAN holds no public key, node ID or name, and no two beacons are equal.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
netns_setup 4
names=(none alice bob carol mallory)
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
for i in 1 2 3 4; do node "${names[$i]}" init --name "${names[$i]}" >/dev/null; done
for n in alice bob carol mallory; do eval "id_$n=\$(node $n id | head -1)"; done
# alice, bob and carol trust each other; mallory trusts alice, but nobody trusts mallory.
for a in alice bob carol; do
    for b in alice bob carol; do
        [ "$a" = "$b" ] || eval "node $a peer add $b \"\$id_$b\" >/dev/null"
    done
done
node mallory peer add alice "$id_alice" >/dev/null

both=$(node alice add person --name "Shared With Both" --set note=MARKER-BOTH --share bob \
    --share carol --private politics=MARKER-PRIVATE | head -1)
node alice add person --name "Bob Only" --set note=MARKER-BOB --share bob >/dev/null
node alice add person --name "Alice Alone" --set note=MARKER-ALONE >/dev/null

capture "$TMP/lan.pcap"
start=$(date +%s%N)
for i in 1 2 3 4; do
    on_bg "$i" "$TMP/${names[$i]}.log" "$KITH" --home "$TMP/${names[$i]}" serve \
        --listen 0.0.0.0:5484 --log-level debug
done

# wait_for NODE REF TEXT: up to 15 s.
wait_for() {
    checks=$((checks + 1))
    for _ in $(seq 300); do
        node "$1" show "$2" 2>/dev/null | grep -qF -- "$3" && return 0
        sleep 0.05
    done
    fail "'$3' did not reach $1"
    return 1
}
wait_for bob "Shared With Both" MARKER-BOTH && {
    first=$((($(date +%s%N) - start) / 1000000))
    echo "first sync between two nodes on the test LAN: $first ms after the daemons started"
}
wait_for bob "Bob Only" MARKER-BOB
wait_for carol "Shared With Both" MARKER-BOTH
sleep 2 # give any wrong transfer time to happen

ok "carol's records" node carol list
lacks "carol never gets bob's record" "$TMP/out" "Bob Only"
lacks "carol never gets alice's own" "$TMP/out" "Alice Alone"
ok "bob's records" node bob list
lacks "bob never gets alice's own" "$TMP/out" "Alice Alone"
ok "bob's copy" node bob show "Shared With Both"
lacks "private field stays home" "$TMP/out" "MARKER-PRIVATE"
ok "mallory's records" node mallory list
same "mallory received nothing" "$(grep -c . "$TMP/out" || true)" "0"
# Whichever side heard the other first dialled: alice found bob, or bob found alice.
cat "$TMP/alice.log" "$TMP/bob.log" >"$TMP/ab.log"
contains "alice and bob found each other on the LAN" "$TMP/ab.log" "on the LAN at 198.18.0."
lacks "mallory cannot recognise alice's beacons" "$TMP/mallory.log" "found alice"
# Even told where alice is, mallory is refused at the handshake.
node mallory peer rm alice >/dev/null
node mallory peer add alice "$id_alice" --addr 198.18.0.1:5484 >/dev/null
refuses "mallory's direct attempt" on 4 "$KITH" --home "$TMP/mallory" sync alice --timeout 5
contains "alice refused mallory" "$TMP/alice.log" "not a trusted peer"
ok "peer list shows last address" node alice peer list
contains "last seen address" "$TMP/out" "198.18.0."
ok "status shows online" node alice status
contains "bob online" "$TMP/out" "online"

# An edit now travels by push to both other nodes.
ok "edit while running" node alice edit "$both" --set title=PUSHED-TITLE
wait_for bob "Shared With Both" PUSHED-TITLE
wait_for carol "Shared With Both" PUSHED-TITLE

for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
NS_PIDS=()

# The capture: nothing that identifies anyone, and beacons that cannot be linked.
python3 - "$TMP/lan.pcap" "$TMP" alice bob carol mallory <<'PY' || fail "the LAN capture leaks or links"
import struct, sys, subprocess, binascii, base64
pcap, tmp, names = sys.argv[1], sys.argv[2], sys.argv[3:]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
off, frames = 24, []
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
    frames.append(data[off + 16:off + 16 + incl])
    off += 16 + incl
blob = b"".join(frames)
secrets = []
for n in names:
    j = subprocess.run(["bash", "-c", f'"$KITH" --home {tmp}/{n} id --json'],
                       capture_output=True, text=True, check=True).stdout
    import json
    d = json.loads(j)
    pk = bytes.fromhex(d["public_key"])
    secrets += [pk, d["node_id"].encode(), d["node_id"].replace("-", "").encode(),
                d["public_key"].encode(), base64.b64encode(pk)[:40], n.encode() + b"\x00"]
    # The X25519 form of the key, as Noise would carry it if it leaked.
for s in secrets:
    assert s not in blob, f"found identifying bytes {s[:16]!r} in the capture"
for marker in (b"MARKER", b"Shared With Both", b"Bob Only", b"PUSHED-TITLE"):
    assert marker not in blob, f"record text {marker!r} in the capture"
beacons = []
for f in frames:
    # Ethernet (14) + IPv4 (ihl) + UDP (8) to port 5484.
    if len(f) > 42 and f[12:14] == b"\x08\x00" and f[23] == 17:
        ihl = (f[14] & 15) * 4
        dport = struct.unpack(">H", f[14 + ihl + 2:14 + ihl + 4])[0]
        if dport == 5484:
            beacons.append(f[14 + ihl + 8:])
    if len(f) > 62 and f[12:14] == b"\x86\xdd" and f[20] == 17:
        dport = struct.unpack(">H", f[54 + 2:54 + 4])[0]
        if dport == 5484:
            beacons.append(f[62:])
assert len(beacons) >= 4, f"only {len(beacons)} beacons captured"
# The same datagram is sent to broadcast and to multicast; distinct sends must differ.
nonces = {}
for b in beacons:
    nonces.setdefault(b[1:17], set()).add(b)
for n, copies in nonces.items():
    assert len(copies) == 1, "one nonce, two different beacons"
assert len(nonces) >= 4, "beacons repeat their nonce"
print(f"capture: {len(frames)} frames, {len(beacons)} beacon datagrams, {len(nonces)} distinct")
PY
finish
