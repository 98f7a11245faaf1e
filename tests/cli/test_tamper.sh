#!/usr/bin/env bash
# The rows that decide who gets what are tamper-evident (proto/STORE.md). Each case edits
# alice's kith.db directly with sqlite3, as someone who can write the home but not read
# identity.key could, then runs her real daemon and a real peer: nothing she cannot vouch
# for leaves, `kith doctor` names the row, and `kith doctor --repair` puts it right.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed" >&2; exit 1; }

mk alice
mk bob
mk carol
mk eve
key() { node "$1" id --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])'; }
key_bob=$(key bob)
key_carol=$(key carol)
key_eve=$(key eve)
db="$TMP/alice/kith.db"
sql() { sqlite3 "$db" "$@"; }
# sync_alice NAME: NAME syncs once with alice's daemon (its port changes with each start).
sync_alice() {
    node "$1" peer edit alice --addr "127.0.0.1:$port_alice" >/dev/null && node "$1" sync alice "${@:2}"
}
# sent_nothing WHAT NAME: NAME syncs with alice and is sent no op (what it would refuse
# still crossed the wire), or the sync does not complete at all.
sent_nothing() {
    checks=$((checks + 1))
    sync_alice "$2" --json >"$TMP/sync.json" 2>"$TMP/err"
    python3 - "$TMP/sync.json" <<'PY' || fail "$1: alice sent $2 ops"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(0)  # the sync did not complete: alice sent nothing
assert d["received_ops"] == 0 and d["rejected_ops"] == 0, d
PY
}
# serve_refused WHAT: alice's daemon must refuse to start on her store, and say why.
serve_refused() {
    checks=$((checks + 1))
    "$KITH" --home "$TMP/alice" serve --listen 127.0.0.1:0 --no-discovery >"$TMP/serve.log" 2>&1 &
    local spid=$!
    for _ in $(seq 50); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $spid 2>/dev/null; then
        fail "$1: the daemon started on a tampered store"
        kill $spid
    fi
    wait $spid 2>/dev/null
    contains "$1: the daemon says why" "$TMP/serve.log" "changed outside kith"
}

node alice peer add bob "$id_bob" >/dev/null
node alice peer add carol "$id_carol" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node carol peer add alice "$id_alice" >/dev/null
node eve peer add alice "$id_alice" >/dev/null
deal=$(node alice add person --name "Deal Maker" --set title=CTO \
    --private politics=PRIVATE-MARKER --share bob | head -1)
node alice add person --name "Only Alice" --set note=ALICE-ONLY-MARKER >/dev/null

# A clean home checks.
ok "doctor on a clean home" node alice doctor
contains "clean" "$TMP/out" "No problems found."

# 1. A row that makes eve one of alice's own devices (self = 1): she would get everything.
sql "INSERT INTO peers(name, key, groups, addr, self, added, last_seen, last_addr)
     VALUES('laptop', x'$key_eve', '', '', 1, 0, 0, '')"
refuses "a command on the tampered store" node alice list
contains "says why" "$TMP/err" "changed outside kith"
contains "says what to do" "$TMP/err" "kith doctor"
serve_refused "a peer marked as alice's own device"
refuses "doctor finds it" node alice doctor
contains "doctor names the row" "$TMP/out" "peers 'laptop'"
lacks "doctor does not say all is well" "$TMP/out" "No problems found"
ok "doctor --repair" node alice doctor --repair
contains "the row goes" "$TMP/out" "removed peer laptop"
ok "the store is usable again" node alice list
ok "doctor after the repair" node alice doctor
contains "clean again" "$TMP/out" "No problems found."
serve alice
refuses "eve is no peer of alice's" sync_alice eve
sent_nothing "eve is sent nothing" eve
never_in "eve gets nothing" eve ALICE-ONLY-MARKER
never_in "eve gets nothing private" eve PRIVATE-MARKER
stop alice

# 2. A private op marked shared: it would be sent to bob.
n_private=$(sql "SELECT count(*) FROM ops WHERE private = 1")
[ "$n_private" -ge 1 ] || fail "alice has a private op"
sql "UPDATE ops SET private = 0 WHERE private = 1"
serve alice
sync_alice bob --json >"$TMP/sync.json" 2>"$TMP/err"
checks=$((checks + 1))
python3 - "$TMP/sync.json" <<'PY' || fail "bob was sent a private op"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(0)  # the sync did not complete: alice sent nothing she could not vouch for
assert d["rejected_ops"] == 0, d
PY
never_in "the private value never reaches bob" bob PRIVATE-MARKER
stop alice
contains "alice's log says why" "$TMP/alice.log" "changed outside kith"
refuses "doctor finds the op" node alice doctor
contains "doctor names the op" "$TMP/out" "does not unseal"
ok "doctor --repair" node alice doctor --repair
contains "the mark goes back" "$TMP/out" "put its private mark back"
same "the op is private again" "$(sql "SELECT count(*) FROM ops WHERE private = 1")" "$n_private"
serve alice
ok "bob syncs after the repair" sync_alice bob
ok "bob has the record" node bob show "Deal Maker"
contains "its shared fields" "$TMP/out" "CTO"
never_in "still nothing private" bob PRIVATE-MARKER
stop alice

# 3. An audience row that shares a record with carol.
rec_hex=$(sql "SELECT hex(id) FROM records WHERE deleted = 0" | while read -r r; do
    node alice show "$r" 2>/dev/null | grep -q "Only Alice" && echo "$r"; done | head -1)
[ -n "$rec_hex" ] || fail "found alice's own record"
sql "INSERT INTO audience(rec, member, role) VALUES(x'$rec_hex', x'$key_carol', 1)"
serve alice
sent_nothing "carol is sent nothing" carol
never_in "carol does not get the record" carol ALICE-ONLY-MARKER
stop alice
refuses "doctor finds the audience row" node alice doctor
contains "doctor names it" "$TMP/out" "audience"
ok "doctor --repair" node alice doctor --repair
ok "clean after the repair" node alice doctor

# 4. A peer put back after `peer rm`, with the MAC its row once had.
old_row=$(sql "SELECT quote(name), quote(key), quote(groups), quote(addr), self, added,
               last_seen, quote(last_addr), quote(mac) FROM peers WHERE name = 'carol'" | tr '|' ',')
ok "alice removes carol" node alice peer rm carol --yes
sql "INSERT INTO peers(name, key, groups, addr, self, added, last_seen, last_addr, mac)
     VALUES($old_row)"
refuses "a command on the store" node alice list
contains "says why" "$TMP/err" "changed outside kith"
serve_refused "a peer put back"
refuses "doctor finds the peer list changed" node alice doctor
contains "doctor says so" "$TMP/out" "peer list as a whole does not check"
ok "doctor --repair" node alice doctor --repair
ok "clean after the repair" node alice doctor

# 5. The database put back to an earlier copy of itself.
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$db" "$TMP/old.db"
ok "a new peer" node alice peer add dave "$id_eve"
ok "a new record" node alice add person --name "After The Copy"
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$TMP/old.db" "$db"
refuses "the rolled-back store" node alice list
contains "says it went back" "$TMP/err" "put back from an earlier copy"
refuses "doctor says so" node alice doctor
contains "doctor names it" "$TMP/out" "older than this node last saw it"
ok "doctor --repair accepts it" node alice doctor --repair
ok "then it is usable" node alice list
lacks "the old copy it is" "$TMP/out" "After The Copy"

# 6. The state file removed: kith cannot tell, so it says so.
rm "$TMP/alice/kith.state"
refuses "without kith.state" node alice list
contains "says it is missing" "$TMP/err" "kith.state is missing"
ok "doctor --repair" node alice doctor --repair
ok "usable again" node alice list

finish
