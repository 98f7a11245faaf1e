#!/usr/bin/env bash
# Collaboration that never leaks or loses (issue 10), over real daemons on loopback: three
# colleagues on one record. Alice owns it, bob edits it, carol reads it. Each numbered
# block is one of the issue's failures, seen on the kith before ops version 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"

mk alice
mk bob
mk carol
serve bob
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node alice peer add carol "$id_carol" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node bob peer add carol "$id_carol" >/dev/null
node carol peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node carol peer add alice "$id_alice" >/dev/null
# Everyone syncs through bob's daemon, as colleagues whose laptops come and go would.
sync_all() {
    node alice sync bob >/dev/null || fail "alice could not sync"
    node carol sync bob >/dev/null || fail "carol could not sync"
}

rec=$(node alice add person --name "Ingrid Odegard" --set title=Head \
    --set emails=ingrid@shared.example --share bob | head -1)
ok "carol reads" node alice share "$rec" --with carol --read-only
sync_all

# 1. A private field stays private when edited with --set: privacy is sticky.
ok "private politics" node alice edit "$rec" --private politics=POLITICS-SECRET-1
ok "set on a private field" node alice edit "$rec" --set politics=POLITICS-SECRET-2
contains "says it stayed private" "$TMP/out" "stayed private"
contains "says how to publish" "$TMP/out" "--publish politics"
sync_all
never_in "private politics" bob POLITICS-SECRET
never_in "private politics" carol POLITICS-SECRET
ok "alice sees it" node alice show "$rec"
contains "alice's private value" "$TMP/out" "POLITICS-SECRET-2"
contains "marked private" "$TMP/out" "[private]"

# 2. An editor's shared edit of a field never overwrites the owner's private value.
ok "alice's private note" node alice edit "$rec" --private note=BUDGET-2M
ok "bob's shared note" node bob edit "$rec" --set note=BOB-NOTE
sync_all
ok "alice's view" node alice show "$rec" --json
python3 - "$TMP/out" <<'PY' || fail "private and shared note side by side"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["note"] == "BOB-NOTE", r
assert r["private"]["note"] == "BUDGET-2M", r
assert r["private"]["politics"] == "POLITICS-SECRET-2", r
PY
never_in "private note" bob BUDGET-2M
ok "log with values" node alice log "$rec"
contains "bob's edit, old and new" "$TMP/out" 'note: (unset) -> "BOB-NOTE"'
contains "alice's private edit" "$TMP/out" 'politics (private): "POLITICS-SECRET-1" -> "POLITICS-SECRET-2"'

# 3. Concurrent additions to a list from two nodes are all kept; a remove removes only
#    what its author saw.
ok "alice adds offline" node alice edit "$rec" --add tags=from-alice --add tags=both
ok "bob adds" node bob edit "$rec" --add tags=from-bob --add tags=both
sync_all
for who in alice bob carol; do
    ok "$who's tags" node "$who" show "$rec" --json
    python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tags"]; assert sorted(t)==["both","from-alice","from-bob"], t' \
        "$TMP/out" || fail "concurrent adds at $who"
done
ok "alice removes bob's tag" node alice edit "$rec" --remove tags=from-bob
refuses "removing what is not there" node alice edit "$rec" --remove tags=never-added
contains "says it is not there" "$TMP/err" "not in the"
sync_all
ok "bob's tags" node bob show "$rec" --json
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tags"]; assert sorted(t)==["both","from-alice"], t' \
    "$TMP/out" || fail "remove reached bob"

# 8. Adding an address to a list whose items are private never copies them into a shared op.
ok "private address" node alice edit "$rec" --private emails=PRIVATE-MAIL@ingrid.example
ok "add another" node alice edit "$rec" --add emails=second@ingrid.example
contains "add stayed private" "$TMP/out" "stayed private"
sync_all
never_in "private address" bob PRIVATE-MAIL
never_in "private address" carol PRIVATE-MAIL
ok "publish one item" node alice edit "$rec" --publish emails=second@ingrid.example --yes
sync_all
ok "bob's emails" node bob show "$rec" --json
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["emails"]; assert sorted(e)==["ingrid@shared.example","second@ingrid.example"], e' \
    "$TMP/out" || fail "the published item reached bob, alone"
never_in "still private" bob PRIVATE-MAIL

# Publishing a field is a deliberate step; only the published value crosses.
ok "publish politics" node alice edit "$rec" --publish politics --yes
sync_all
wait_for "published value" bob "$rec" "POLITICS-SECRET-2"
never_in "earlier private value" bob POLITICS-SECRET-1

# A reader keeps private notes on a record it may only read; shared edits are refused.
ok "carol's private note" node carol edit "$rec" --private x-carol=CAROL-NOTE
contains "privately" "$TMP/out" "privately"
refuses "carol's shared edit" node carol edit "$rec" --set title=Intern
contains "read-only" "$TMP/err" "read-only"
contains "suggests a private note" "$TMP/err" "--private"
sync_all
never_in "carol's note" alice CAROL-NOTE
never_in "carol's note" bob CAROL-NOTE

# 4. A deletion is reversible, and peers' private notes outlive it.
ok "alice deletes" node alice rm "$rec" --yes
sync_all
ok "carol's list" node carol list
lacks "gone from carol's list" "$TMP/out" "${rec:0:8}"
ok "carol's trash" node carol list --deleted
contains "in carol's trash" "$TMP/out" "${rec:0:8}"
ok "carol's copy" node carol show "$rec"
contains "marked deleted" "$TMP/out" "deleted"
contains "carol's note survives" "$TMP/out" "CAROL-NOTE"
ok "carol's log" node carol log "$rec"
contains "log shows the deletion" "$TMP/out" "deleted"
refuses "bob cannot restore" node bob restore "$rec"
contains "owner only" "$TMP/err" "only the owner"
ok "alice restores" node alice restore "$rec"
sync_all
ok "carol's list again" node carol list
contains "back at carol" "$TMP/out" "${rec:0:8}"
ok "carol's copy again" node carol show "$rec"
contains "carol's note still there" "$TMP/out" "CAROL-NOTE"

finish
