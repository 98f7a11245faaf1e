#!/usr/bin/env bash
# Sync on loopback: two and three nodes, audiences and relays, editors and readers,
# unshare, concurrent edits, an untrusted node, garbage and half-open connections.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/nodes.sh"

mk alice
mk bob
mk carol
mk mallory
serve bob
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node alice peer add carol "$id_carol" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node bob peer add carol "$id_carol" >/dev/null
node carol peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node carol peer add alice "$id_alice" >/dev/null

both=$(node alice add person --name "Shared With Both" --set title=CTO --share bob --share carol \
    --private politics=PRIVATE-MARKER-1 | head -1)
bobonly=$(node alice add person --name "Bob Only" --set note=BOB-ONLY-MARKER --share bob | head -1)
node alice add person --name "Alice Private" --set note=ALICE-ONLY-MARKER >/dev/null

# One-shot sync, as the contract's JSON.
ok "alice syncs with bob" node alice sync bob --json
python3 - "$TMP/out" <<'PY' || fail "sync --json fields"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("sent_ops", "received_ops", "bytes_out", "bytes_in", "round_trips", "ms"):
    assert k in d, k
assert d["sent_ops"] >= 4 and d["received_ops"] == 0, d
PY
ok "bob has both" node bob list
contains "shared record arrived" "$TMP/out" "Shared With Both"
contains "bob-only arrived" "$TMP/out" "Bob Only"
lacks "unshared record stayed home" "$TMP/out" "Alice Private"
ok "show at bob" node bob show "Shared With Both"
lacks "private field stayed home" "$TMP/out" "PRIVATE-MARKER-1"
contains "owner is alice" "$TMP/out" "owner               alice"

# Relay: carol syncs with bob only; she gets what is shared with her, not bob's record.
ok "carol syncs with bob" node carol sync bob
ok "carol's list" node carol list
contains "relayed record" "$TMP/out" "Shared With Both"
lacks "bob-only never reaches carol" "$TMP/out" "Bob Only"
checks=$((checks + 1))
grep -rqaF BOB-ONLY-MARKER "$TMP/carol" && fail "bob-only text in carol's files"

# An editor's change flows back to the owner.
ok "bob edits" node bob edit "Shared With Both" --set title="Chief Technology Officer"
ok "alice syncs again" node alice sync bob --json
contains "one op back" "$TMP/out" '"received_ops": 1'
wait_for "editor edit reaches owner" alice "Shared With Both" "Chief Technology Officer"

# A reader cannot edit, locally; and the owner's node refuses such ops (unit: test_session).
ok "make carol a reader" node alice share "$both" --with carol --read-only
ok "sync carol via bob" node alice sync bob
ok "carol syncs" node carol sync bob
refuses "reader edit refused locally" node carol edit "Shared With Both" --set title=Intern
contains "read-only message" "$TMP/err" "read-only"

# Live push: with both daemons running, an edit arrives without any sync command.
serve alice
sleep 0.5
ok "alice edits while serving" node alice edit "Shared With Both" --set note=LIVE-PUSH-1
wait_for "live push" bob "Shared With Both" "LIVE-PUSH-1"
ok "status" node alice status
contains "bob online" "$TMP/out" "online"
ok "status --json" node alice status --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["peers"][0]["online"] is True' \
    "$TMP/out" || fail "status --json"

# Unshare: bob learns it at once (the removal is pushed) and gets no further updates.
ok "unshare bob" node alice unshare "$bobonly" --with bob
wait_for "the removal is pushed" bob "Bob Only" "no longer shared with you"
ok "edit after unshare" node alice edit "$bobonly" --set note=AFTER-UNSHARE
sleep 1
ok "bob's copy" node bob show "Bob Only"
lacks "no update after unshare" "$TMP/out" "AFTER-UNSHARE"
refuses "bob's edit is refused" node bob edit "Bob Only" --set note=FROM-BOB
contains "and says why" "$TMP/err" "is no longer shared with you"
stop alice

# Concurrent offline edits: same field converges, different fields all kept.
ok "alice offline edit" node alice edit "Shared With Both" --set title=Alpha --set x-a=from-alice
ok "bob offline edit" node bob edit "Shared With Both" --set title=Beta --set x-b=from-bob
ok "reconcile" node alice sync bob
node alice show "Shared With Both" --json >"$TMP/a.json"
node bob show "Shared With Both" --json >"$TMP/b.json"
python3 - "$TMP/a.json" "$TMP/b.json" <<'PY' || fail "concurrent edits did not converge"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    del d["owner_name"], d["audience"]  # "you" vs a peer name
    del d["shares"]                     # only the owner keeps share specs
    d.pop("politics", None)             # alice's private field
    d["private_fields"] = []
    d.pop("private")                    # the private layer, alice's only
assert a == b, (a, b)
assert a["title"] in ("Alpha", "Beta") and a["x-a"] == "from-alice" and a["x-b"] == "from-bob", a
PY

# An untrusted node is refused and nothing changes.
node mallory peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node mallory add person --name "Mallory Plant" --share bob >/dev/null
node bob export json >"$TMP/bob-before.json"
refuses "untrusted node refused" node mallory sync bob --timeout 5
node bob export json >"$TMP/bob-after.json"
checks=$((checks + 1))
cmp -s "$TMP/bob-before.json" "$TMP/bob-after.json" || fail "untrusted sync changed bob's store"
contains "bob logged the stranger" "$TMP/bob.log" "not a trusted peer"

# Garbage and half-open connections do not disturb the daemon.
python3 - "$port_bob" <<'PY' &
import socket, sys, time, os
port = int(sys.argv[1])
held = []
for i in range(20):                       # half-open: connect, say nothing
    s = socket.create_connection(("127.0.0.1", port)); held.append(s)
g = socket.create_connection(("127.0.0.1", port))
g.sendall(os.urandom(5000))               # garbage
g.close()
t = socket.create_connection(("127.0.0.1", port))
t.sendall(b"\x00\x10" + b"\xff" * 16)     # a frame that is not a handshake
t.close()
time.sleep(3)
PY
garbage=$!
sleep 0.5
ok "honest sync during garbage" node alice sync bob --json
wait "$garbage"
ok "bob still serving" node bob status
contains "bob running" "$TMP/out" "Daemon running"

# SIGTERM: clean exit 0.
kill -TERM "$pid_bob"
checks=$((checks + 1))
wait "$pid_bob" || fail "daemon exit status on SIGTERM was not 0"
contains "stop logged" "$TMP/bob.log" "stopping"
# No record text in any log.
for f in "$TMP"/*.log; do
    checks=$((checks + 1))
    grep -qE 'MARKER|Shared With Both|Chief Technology' "$f" && fail "record text in $f"
done
finish
