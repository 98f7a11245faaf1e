#!/usr/bin/env bash
# kith merge and kith duplicates end to end (proto/MERGE.md), with a colleague's node that
# holds both records syncing over loopback: it must see B deleted and marked merged into
# A, A with the merged values, and never a private value of B.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"

mk alice
mk bob
serve bob
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" --group sales >/dev/null
node bob peer add alice "$id_alice" >/dev/null
sync_bob() { node alice sync bob >/dev/null || fail "alice could not sync"; }

# Nothing to find in an empty home.
ok "no duplicates" node alice duplicates
contains "says none" "$TMP/out" "No likely duplicates."

a=$(node alice add person --name "Ingrid Ødegård" --set org=Nordlys --set title=Head \
    --set emails=ingrid@nordlys.example --set tags=energy --share bob | head -1)
b=$(node alice add person --name "INGRID odegard" --set org=nordlys --set title=CTO \
    --set emails=Ingrid@Nordlys.example --set emails=ingrid.o@home.example \
    --set tags=board --set department=Grid --share @sales --share bob | head -1)
ok "private note on B" node alice edit "$b" --private politics=PRIVATE-B-SECRET
ok "private phone on B" node alice edit "$b" --private phones="+47 999 PRIVATE"
c=$(node alice add person --name "Carl" --set reports_to="$b" --share bob | head -1)
other=$(node alice add person --name "Ingrid Odegard" --set org="Other Co" | head -1)
org=$(node alice add org --name "Nordlys" | head -1)
sync_bob
wait_for "bob has B" bob "$b" "INGRID odegard"

# duplicates: one pair (same e-mail, and same name at the same organisation), not the
# Ingrid of another organisation; the suggestion keeps the older record.
ok "duplicates" node alice duplicates
contains "the pair" "$TMP/out" "Ingrid Ødegård (${a:0:8}) ~ INGRID odegard (${b:0:8})"
contains "by e-mail" "$TMP/out" "same e-mail (ingrid@nordlys.example)"
contains "by name and org" "$TMP/out" "same name and organisation"
contains "suggestion" "$TMP/out" "kith merge $a $b"
lacks "other organisation" "$TMP/out" "${other:0:8}"
contains "one pair" "$TMP/out" "1 likely duplicate pair."
ok "duplicates json" node alice duplicates --json
python3 - "$TMP/out" "$a" "$b" <<'PY' || fail "duplicates --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1, d
assert d[0]["a"]["id"] == sys.argv[2] and d[0]["b"]["id"] == sys.argv[3], d
assert d[0]["reasons"] == ["email", "name_org"], d
PY

# Refusals write nothing.
ok "alice's export before" node alice export json
cp "$TMP/out" "$TMP/before.json"
refuses "into itself" node alice merge "$a" "$a"
contains "itself" "$TMP/err" "into itself"
refuses "person into org" node alice merge "$org" "$b"
contains "kind" "$TMP/err" "--force"
refuses "bob does not own B" node bob merge "$a" "$b"
contains "not yours" "$TMP/err" "not yours"
refuses "two REFs" node alice merge "$a"
ok "dry run" node alice merge "$a" "$b" --dry-run
contains "would" "$TMP/out" "Would merge INGRID odegard"
contains "dry run said" "$TMP/out" "nothing was written"
ok "alice's export after" node alice export json
cmp -s "$TMP/before.json" "$TMP/out" || fail "a refusal or a dry run changed the store"

# The merge.
ok "merge" node alice merge "$a" "$b" --yes
contains "summary" "$TMP/out" "Merged INGRID odegard (${b:0:8}) into Ingrid Ødegård (${a:0:8})"
contains "added e-mail" "$TMP/out" "added     emails: ingrid.o@home.example"
lacks "no e-mail twice" "$TMP/out" "Ingrid@Nordlys.example"
contains "private stays private" "$TMP/out" "politics: PRIVATE-B-SECRET   [private]"
contains "conflict" "$TMP/out" 'kept      title: "Head"; INGRID odegard had "CTO"'
contains "repointed" "$TMP/out" "repointed Carl (${c:0:8}): reports_to"
contains "share suggestion" "$TMP/out" "kith share $a --with @sales"
lacks "bob already sees A" "$TMP/out" "--with bob"
ok "alice's A" node alice show "$a" --json
python3 - "$TMP/out" <<'PY' || fail "A after the merge"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["emails"] == ["ingrid@nordlys.example", "ingrid.o@home.example"], r
assert sorted(r["tags"]) == ["board", "energy"], r
assert r["title"] == "Head" and r["department"] == "Grid", r
assert r["private"]["politics"] == "PRIVATE-B-SECRET", r
assert "politics" in r["private_fields"] and "phones" in r["private_fields"], r
PY
ok "show B" node alice show "$b"
contains "merged into" "$TMP/out" "merged into Ingrid Ødegård (${a:0:8})"
ok "Carl" node alice show "$c"
contains "Carl reports to A" "$TMP/out" "Ingrid Ødegård (${a:0:8})"
refuses "B is gone" node alice merge "$a" "$b"
ok "no duplicates left" node alice duplicates
contains "none left" "$TMP/out" "No likely duplicates."

# Bob, holding both, sees the merge and none of B's private values.
sync_bob
wait_for "B deleted at bob" bob "$b" "merged into Ingrid Ødegård"
ok "bob's A" node bob show "$a" --json
python3 - "$TMP/out" <<'PY' || fail "A at bob"
import json, sys
r = json.load(open(sys.argv[1]))
assert "ingrid.o@home.example" in r["emails"], r
assert r["department"] == "Grid", r
assert "politics" not in r and "phones" not in r and r["private"] == {}, r
PY
ok "bob's Carl" node bob show "$c" --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["reports_to"]==sys.argv[2], r' \
    "$TMP/out" "$a" || fail "Carl repointed at bob"
never_in "B's private note" bob PRIVATE-B-SECRET
never_in "B's private phone" bob "999 PRIVATE"
ok "bob's log of B" node bob log "$b"
contains "B's old title in its history" "$TMP/out" '"CTO"'

# Restore brings B back; A keeps what it gained.
ok "restore B" node alice restore "$b"
ok "A keeps" node alice show "$a"
contains "kept e-mail" "$TMP/out" "ingrid.o@home.example"
ok "B live" node alice show "$b"
lacks "B not deleted" "$TMP/out" "deleted"

# A read-only A is refused and nothing is written.
ro=$(node bob add person --name "Bob's Own" --set tags=x | head -1)
shared_ro=$(node alice add person --name "Read Only" --share bob --read-only | head -1)
sync_bob
wait_for "bob has the read-only record" bob "$shared_ro" "Read Only"
ok "bob's export before" node bob export json
cp "$TMP/out" "$TMP/bob-before.json"
refuses "read-only A" node bob merge "$shared_ro" "$ro"
contains "read-only" "$TMP/err" "read-only"
ok "bob's export after" node bob export json
cmp -s "$TMP/bob-before.json" "$TMP/out" || fail "a refused merge changed bob's store"

ok "help" "$KITH" merge --help
contains "help says private" "$TMP/out" "private layer"
finish
