#!/usr/bin/env bash
# Unsharing is visible, over real daemons on loopback: a node taken out of a record's
# audience learns it at the next sync, keeps its last copy, marks it, and refuses edits
# that the owner would ignore; nothing the owner does after the removal reaches it. A
# record shared and unshared before the peer synced never reaches it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"

mk alice
mk bob
mk carol
serve bob
serve carol
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" >/dev/null
node alice peer add carol "$id_carol" --addr "127.0.0.1:$port_carol" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node carol peer add alice "$id_alice" >/dev/null

deal=$(node alice add person --name "Deal Maker" --set title=CTO --share bob | head -1)
memo=$(node alice add person --name "Read Me" --share carol --read-only | head -1)
ok "alice syncs with bob" node alice sync bob
ok "alice syncs with carol" node alice sync carol
ok "bob's copy" node bob show "Deal Maker"
contains "bob is an editor" "$TMP/out" "you (editor)"
ok "bob edits while shared" node bob edit "Deal Maker" --set x-bob=WHILE-SHARED
ok "bob's edit reaches alice" node alice sync bob
ok "alice has it" node alice show "$deal"
contains "the edit took" "$TMP/out" "WHILE-SHARED"
refuses "a reader's edit is refused" node carol edit "Read Me" --set note=nope
contains "read-only" "$TMP/err" "read-only"

# Shared and taken back before bob ever synced: it must never reach him.
node alice add person --name "Too Early" --set note=EARLY-MARKER --share bob >/dev/null
node alice unshare "Too Early" --with bob >/dev/null

ok "alice unshares" node alice unshare "$deal" --with bob
ok "alice edits after the unshare" node alice edit "$deal" --set note=AFTER-UNSHARE-MARKER
ok "the next sync" node alice sync bob --json
python3 - "$TMP/out" <<'PY' || fail "sync after the unshare sends one op"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["sent_ops"] == 1 and d["received_ops"] == 0, d   # the removal, and nothing else
PY
ok "bob's show" node bob show "Deal Maker"
contains "bob is told" "$TMP/out" "no longer shared with you (since"
lacks "no longer an editor" "$TMP/out" "you (editor)"
contains "bob keeps his copy" "$TMP/out" "WHILE-SHARED"
lacks "nothing after the removal" "$TMP/out" "AFTER-UNSHARE-MARKER"
ok "bob's list" node bob list
contains "marked in the list" "$TMP/out" "Deal Maker — CTO  [no longer shared with you]"
lacks "the early record never came" "$TMP/out" "Too Early"
ok "bob's json" node bob show "Deal Maker" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["no_longer_shared_since"].endswith("Z"), d' \
    "$TMP/out" || fail "show --json no_longer_shared_since"

# bob's edit is refused with a clear message and status 1, and changes nothing.
node bob log "Deal Maker" >"$TMP/log-before"
checks=$((checks + 1))
node bob edit "Deal Maker" --set title=Intern >"$TMP/out" 2>"$TMP/err"
rc=$?
same "edit exit status" "$rc" "1"
contains "edit refused clearly" "$TMP/err" "'Deal Maker' is no longer shared with you (since"
contains "edits would have no effect" "$TMP/err" "your edits would have no effect"
lacks "no success message" "$TMP/out" "Updated"
node bob log "Deal Maker" >"$TMP/log-after"
checks=$((checks + 1))
cmp -s "$TMP/log-before" "$TMP/log-after" || fail "bob's refused edit changed his history"

# Later syncs are quiet: nothing re-sent either way, nothing refused.
ok "a later sync" node alice sync bob --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["sent_ops"] == 0 and d["received_ops"] == 0, d' \
    "$TMP/out" || fail "a later sync moved ops"
ok "alice edits again" node alice edit "$deal" --set note=LATER-MARKER
ok "and syncs" node alice sync bob
ok "bob's show again" node bob show "Deal Maker"
lacks "still nothing after the removal" "$TMP/out" "LATER-MARKER"
checks=$((checks + 1))
grep -rqaF -e AFTER-UNSHARE-MARKER -e LATER-MARKER -e EARLY-MARKER "$TMP/bob" &&
    fail "text from after the removal in bob's files"
contains "bob refused nothing" "$TMP/bob.log" "synced with"
lacks "no refusals" "$TMP/bob.log" "refused"

# A reader taken out learns it the same way; the edit message says so.
ok "alice unshares carol" node alice unshare "$memo" --with carol
ok "sync carol" node alice sync carol
refuses "the former reader's edit" node carol edit "Read Me" --set note=nope
contains "former reader told" "$TMP/err" "'Read Me' is no longer shared with you (since"

# Shared again: everything flows again and the mark goes.
ok "alice shares again" node alice share "$deal" --with bob
ok "sync" node alice sync bob
ok "bob's show after the re-share" node bob show "Deal Maker"
lacks "mark gone" "$TMP/out" "no longer shared"
contains "caught up" "$TMP/out" "LATER-MARKER"
ok "bob may edit again" node bob edit "Deal Maker" --set x-bob=AGAIN
finish
