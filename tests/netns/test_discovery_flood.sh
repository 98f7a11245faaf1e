#!/usr/bin/env bash
# LAN discovery under attack, on a private segment. alice (two addresses, 198.18.0.1 and
# .11) and bob trust each other; mallory (198.18.0.3 and .31 to .34) trusts no one and
# runs no kith.
#  1. mallory records alice's beacons while bob is away, then, once bob runs, replays them
#     from her own address: bob must not dial her (a TCP listener on mallory's side,
#     where alice's beacon says alice listens, counts connections).
#  2. mallory floods UDP port 5484 of both nodes from five IPv4 addresses and from her
#     IPv6 link-local one to ff02::5484, thousands of datagrams a second (random junk,
#     well-formed beacons of random tags, and alice's beacons replayed), while alice
#     comes back: alice and bob must still find each other and sync within 20 s, and
#     nobody dials mallory.
#  3. bob's replay table is kept in the home, owner-only.
#  4. bob restarts, alone; mallory replays alice's beacons recorded during step 2 from
#     alice's own address (forged): bob must not take them for alice, since he accepted
#     them, or newer ones, before the restart.
# Before beacon version 2 (tags without the address, one rate limit for all senders, a
# replay cache in memory), step 1 made bob dial mallory, step 2 starved discovery and
# step 4 made bob take mallory's datagrams for alice.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
netns_setup 3
ip -n "${NS_PREFIX}h1" addr add 198.18.0.11/24 dev eth0
for a in 31 32 33 34; do ip -n "${NS_PREFIX}h3" addr add "198.18.0.$a/24" dev eth0; done
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
for n in alice bob; do node $n init --name $n >/dev/null; done
id_alice=$(node alice id | head -1)
id_bob=$(node bob id | head -1)
node alice peer add bob "$id_bob" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node alice add person --name "Flood Survivor" --set note=MARKER-FLOOD --share bob >/dev/null

cat >"$TMP/mallory.py" <<'PY'
import os, random, socket, struct, sys, time
mode, tmp = sys.argv[1], sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 and mode != "flood" else "captured"
PORT = 5484
if mode == "listen":
    # Where alice's beacon says she listens (TCP 5484), on mallory's addresses.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", PORT))
    srv.listen(16)
    while True:
        c, a = srv.accept()
        with open(f"{tmp}/dialled", "a") as f:
            f.write(f"connection from {a[0]}\n")
        c.close()
elif mode == "capture":
    # alice's datagrams to the discovery port: she announces at start (and every 30 s).
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", PORT))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton("239.255.84.84") + socket.inet_aton("198.18.0.3"))
    IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux; Python < 3.12 lacks the name
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)  # to learn each one's destination
    s.settimeout(0.5)
    got, end = [], time.time() + 40
    while time.time() < end and not (got and time.time() > first + 1):
        try:
            d, anc, _, a = s.recvmsg(2000, 256)
        except socket.timeout:
            continue
        dst = "?"
        for level, kind, data in anc:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                dst = socket.inet_ntoa(data[8:12])  # ipi_addr: the header's destination
        if a[0] in ("198.18.0.1", "198.18.0.11"):
            if not got:
                first = time.time()
            got.append((a[0], dst, d))
    with open(f"{tmp}/{name}", "w") as f:
        for a, dst, d in got:
            f.write(f"{a} {dst} {d.hex()}\n")
    print(f"captured {len(got)} beacons of alice")
elif mode == "spoof":
    # alice's recorded datagrams, sent to bob from alice's address, forged: a raw IPv4
    # packet (the kernel fills in the checksum and the id), UDP checksum 0 (none).
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for _ in range(3):
        for l in open(f"{tmp}/{name}"):
            a, _, d = l.split()
            d = bytes.fromhex(d)
            udp = struct.pack(">HHHH", PORT, PORT, 8 + len(d), 0) + d
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton(a), socket.inet_aton("198.18.0.2"))
            raw.sendto(ip + udp, ("198.18.0.2", 0))
        time.sleep(0.3)
else:
    captured = [bytes.fromhex(l.split()[-1]) for l in open(f"{tmp}/captured") if l.strip()]
    socks = []
    for a in (["198.18.0.3"] if mode == "replay" else
              ["198.18.0.3", "198.18.0.31", "198.18.0.32", "198.18.0.33", "198.18.0.34"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind((a, 0))
        socks.append(s)
    targets = [("198.18.0.2", PORT), ("198.18.0.255", PORT)]
    if mode == "replay":
        for _ in range(3):
            for d in captured:
                for t in targets:
                    socks[0].sendto(d, t)
            time.sleep(0.3)
        sys.exit(0)
    targets.append(("198.18.0.1", PORT))
    # IPv6 too: the nodes also beacon to ff02::5484 from their link-local addresses.
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("eth0"))
    to6 = ("ff02::5484", PORT, 0, socket.if_nametoindex("eth0"))
    rnd = random.Random(7)

    def fake():  # well-formed, in the window: costs a receiver one hash per key
        tags = sorted(os.urandom(8) for _ in range(128))
        return (bytes([captured[0][0]]) + os.urandom(16) + struct.pack(">QH", int(time.time()), 5484)
                + bytes([128]) + b"".join(tags))
    pool = [os.urandom(rnd.randrange(1, 1200)) for _ in range(64)] + [fake() for _ in range(64)]
    sent, start, end = 0, time.time(), time.time() + float(sys.argv[3])
    while time.time() < end and not os.path.exists(f"{tmp}/stop"):
        for _ in range(100):
            r = rnd.random()
            d = rnd.choice(captured) if r < 0.2 else rnd.choice(pool)
            try:
                if rnd.random() < 0.2:
                    s6.sendto(d, to6)
                else:
                    rnd.choice(socks).sendto(d, rnd.choice(targets))
                sent += 1
            except OSError:
                pass
        time.sleep(0.005)
    print(f"flood: {sent} datagrams in {time.time() - start:.1f} s, "
          f"{sent / (time.time() - start):.0f} a second")
PY
mallory() { on 3 python3 "$TMP/mallory.py" "$@"; }
on_bg 3 "$TMP/listener.log" python3 "$TMP/mallory.py" listen "$TMP"
# serve HOST NAME [LOG]: runs NAME's daemon on HOST, logging to LOG (default NAME).
serve() {
    on_bg "$1" "$TMP/${3:-$2}.log" "$KITH" --home "$TMP/$2" serve --listen 0.0.0.0:5484 \
        --log-level debug
}

# 1. Replay from another address.
on_bg 3 "$TMP/capture.log" python3 "$TMP/mallory.py" capture "$TMP"
capture_pid=${NS_PIDS[-1]}
sleep 1
serve 1 alice
alice_pid=${NS_PIDS[-1]}
checks=$((checks + 1))
wait "$capture_pid" || fail "mallory could not listen"
cat "$TMP/capture.log"
kill "$alice_pid"
wait "$alice_pid" 2>/dev/null
checks=$((checks + 1))
[ "$(grep -c . "$TMP/captured")" -ge 2 ] || fail "mallory captured no beacon of alice"
# One set per address, each sent from it to broadcast and to multicast (left to routing,
# both broadcasts would come from .1).
for a in 198.18.0.1 198.18.0.11; do
    for dst in 198.18.0.255 239.255.84.84; do
        checks=$((checks + 1))
        grep -q "^$a $dst " "$TMP/captured" || fail "alice sent no beacon from $a to $dst"
    done
done
serve 2 bob
sleep 1
ok "mallory replays them to bob from 198.18.0.3" mallory replay "$TMP"
sleep 3
lacks "bob did not take mallory for alice" "$TMP/bob.log" "found alice"
checks=$((checks + 1))
[ ! -s "$TMP/dialled" ] || fail "bob dialled mallory: $(cat "$TMP/dialled")"

# 2. Flood while alice comes back (and mallory records her beacons again).
on_bg 3 "$TMP/flood.log" python3 "$TMP/mallory.py" flood "$TMP" 45
on_bg 3 "$TMP/capture2.log" python3 "$TMP/mallory.py" capture "$TMP" captured2
capture_pid=${NS_PIDS[-1]}
sleep 2
start=$(date +%s%N)
serve 1 alice
synced=0
# 20 s: before either node's first 30-s announcement, so only the announcements at start
# (and 1 and 3 s later) can have got through.
for _ in $(seq 400); do
    if node bob show "Flood Survivor" 2>/dev/null | grep -qF MARKER-FLOOD; then
        synced=1
        break
    fi
    sleep 0.05
done
checks=$((checks + 1))
if [ "$synced" = 1 ]; then
    echo "alice and bob synced $((($(date +%s%N) - start) / 1000000)) ms after alice started, under the flood"
else
    fail "alice's record did not reach bob under the flood"
fi
for i in 1 2; do
    echo "host $i: datagrams the kernel dropped for want of buffer space:" \
        "$(on "$i" nstat -az UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/ {print $2}')"
done
cat "$TMP/alice.log" "$TMP/bob.log" >"$TMP/ab.log"
contains "they found each other on the LAN" "$TMP/ab.log" "on the LAN at"
lacks "nobody took mallory's address for a peer" "$TMP/ab.log" "on the LAN at 198.18.0.3"
# Stop the flood and report its rate, which must have been well over the old limit.
touch "$TMP/stop"
for _ in $(seq 200); do grep -q "^flood:" "$TMP/flood.log" && break; sleep 0.25; done
cat "$TMP/flood.log"
rate=$(sed -n 's/.* \([0-9]*\) a second/\1/p' "$TMP/flood.log")
checks=$((checks + 1))
[ "${rate:-0}" -ge 2000 ] || fail "the flood reached only ${rate:-0} datagrams a second"
checks=$((checks + 1))
[ ! -s "$TMP/dialled" ] || fail "a node dialled mallory: $(cat "$TMP/dialled")"

checks=$((checks + 1))
wait "$capture_pid" || fail "mallory could not listen"

# 3. The replay table survives bob: one record per peer heard, mode 0600.
for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
NS_PIDS=()
checks=$((checks + 1))
if [ -f "$TMP/bob/beacons.seen" ]; then
    same "replay table size" "$(($(stat -c %s "$TMP/bob/beacons.seen") % 24))" "1"
    same "replay table mode" "$(stat -c %a "$TMP/bob/beacons.seen")" "600"
else
    fail "bob kept no replay table"
fi
# 4. bob alone, restarted; mallory forges alice's address.
checks=$((checks + 1))
[ "$(grep -c '^198.18.0.1 ' "$TMP/captured2")" -ge 1 ] || fail "mallory recorded nothing from 198.18.0.1"
serve 2 bob bob2
sleep 1
ok "mallory replays from alice's address" mallory spoof "$TMP" captured2
sleep 2
lacks "bob, restarted, did not take the replays for alice" "$TMP/bob2.log" "found alice"

if [ "$failures" -gt 0 ]; then
    for f in capture alice bob flood bob2; do
        echo "--- $f.log" >&2
        tail -20 "$TMP/$f.log" >&2
    done
fi
finish
