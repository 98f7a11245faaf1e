#!/usr/bin/env bash
# Records: add, edit, show, list, search, log, rm, share; errors change nothing.
. "$(dirname "$0")/lib.sh"

k init --name alice >/dev/null
k --home "$TMP/bob" init --name bob >/dev/null
k peer add bob "$(k --home "$TMP/bob" id | head -1)" --group sales >/dev/null

ok "add person" k add person --name "Ada Lovelace" --set emails=ada@example.com \
    --set emails=ada@work.example --set influence=4 --set attitude=+1 \
    --private pain_points="budget cuts" --set title=CTO
ada=$(head -1 "$TMP/out")
same "add prints the id alone" "$(echo "$ada" | grep -cE '^[0-9a-f]{32}$')" "1"
ok "add org" k add org --name "Analytical Engines" --set tags=client --set tags=uk
ok "show by name" k show "ada lovelace"
contains "show name" "$TMP/out" "Ada Lovelace"
contains "show private marker" "$TMP/out" "[private]"
contains "show attitude sign" "$TMP/out" "+1"
ok "show by prefix" k show "${ada:0:4}"
refuses "prefix too short" k show "${ada:0:3}"
ok "show --json" k show "Ada Lovelace" --json
python3 - "$TMP/out" <<'PY' || fail "show --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "Ada Lovelace", d
assert d["emails"] == ["ada@example.com", "ada@work.example"], d
assert d["influence"] == 4 and d["attitude"] == 1, d
assert d["private_fields"] == ["pain_points"], d
assert d["kind"] == "person"
PY

# Relations and reports_to take REFs and show names.
ok "edit relations" k edit "Ada Lovelace" --set reports_to="Analytical Engines" \
    --add relations="employer:Analytical Engines" --add emails=third@example.com
ok "show relations" k show "Ada Lovelace"
contains "reports_to shows name" "$TMP/out" "Analytical Engines ("
contains "relations shows type" "$TMP/out" "employer: Analytical Engines"
contains "add appended" "$TMP/out" "third@example.com"
ok "json relations" k show "Ada Lovelace" --json
contains "relations as objects" "$TMP/out" '"type": "employer"'

# Every refused change leaves the store exactly as it was.
k export json >"$TMP/before.json"
refuses "influence 9" k edit "Ada Lovelace" --set influence=9
contains "influence range named" "$TMP/err" "between 0 and 5"
refuses "attitude 3" k edit "Ada Lovelace" --set attitude=3
refuses "bad email" k edit "Ada Lovelace" --set emails=not-an-email
refuses "bad date" k edit "Ada Lovelace" --set last_interaction=2023-02-30
refuses "unknown field" k edit "Ada Lovelace" --set favourite_colour=blue
refuses "add on scalar" k edit "Ada Lovelace" --add title=Boss
refuses "unknown REF" k edit "Nobody" --set title=x
refuses "unresolvable reports_to" k edit "Ada Lovelace" --set title=ok --set reports_to=nobody
refuses "bad buying role" k edit "Ada Lovelace" --set buying_role=king
contains "buying role lists choices" "$TMP/err" "champion"
refuses "missing name" k add person --set title=x
refuses "bad kind" k add robot --name R2
refuses "share with unknown peer" k add person --name X --share carol
refuses "nothing to edit" k edit "Ada Lovelace"
k export json >"$TMP/after.json"
cmp -s "$TMP/before.json" "$TMP/after.json" || fail "a refused command changed the store"

ok "unset" k edit "Ada Lovelace" --unset title --set buying_role=champion --set last_interaction=2026-11-02
ok "show" k show "Ada Lovelace"
lacks "title gone" "$TMP/out" "CTO"
contains "buying role" "$TMP/out" "champion"

# Ambiguous names list the candidates.
ok "second Ada" k add person --name "Ada Lovelace"
refuses "ambiguous" k show "Ada Lovelace"
contains "candidates listed" "$TMP/err" "${ada:0:8}"

# List and search (case and accents folded).
ok "add accented" k add person --name "Øyvind Ødegård" --set note="Met at the fair
second line about Fjord Capital"
ok "list" k list
same "list count" "$(wc -l <"$TMP/out")" "4"
ok "list orgs" k list --kind org
same "org count" "$(wc -l <"$TMP/out")" "1"
ok "search accents" k search odegard
contains "search finds Ødegård" "$TMP/out" "Ødegård"
ok "search note" k search "FJORD capital"
contains "search in note" "$TMP/out" "Ødegård"
ok "search email list item" k search WORK.EXAMPLE
contains "search in list" "$TMP/out" "Ada Lovelace"
ok "search nothing" k search zzzzzz
same "no match prints nothing" "$(cat "$TMP/out")" ""
ok "list --json" k list --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==4' "$TMP/out" ||
    fail "list --json"
ok "search --json" k search odegard --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["name"]=="Øyvind Ødegård"' \
    "$TMP/out" || fail "search --json"

# Sharing.
ok "share" k share "${ada}" --with bob --read-only
ok "show shared" k show "$ada"
contains "audience bob reader" "$TMP/out" "bob (reader)"
ok "share with group" k share "$ada" --with @sales
ok "show shared" k show "$ada"
contains "the group and its member" "$TMP/out" "@sales (editor): bob"
ok "unshare bob" k unshare "$ada" --with bob
refuses "unshare again" k unshare "$ada" --with bob
ok "unshare group" k unshare "$ada" --with @sales
ok "show unshared" k show "$ada"
contains "nobody" "$TMP/out" "nobody"
ok "share with empty group" k share "$ada" --with @board
contains "empty group note" "$TMP/err" "no members yet"
k --home "$TMP/carol" init --name carol >/dev/null
ok "add carol to board" k peer add carol "$(k --home "$TMP/carol" id | head -1)" --group board
ok "show after group grew" k show "$ada"
contains "carol included via group" "$TMP/out" "@board (editor): carol"

# History.
ok "log" k log "$ada"
contains "log created" "$TMP/out" "created person"
# Values, old and new (failure 7 of issue 10: it listed field names only).
contains "log private" "$TMP/out" 'pain_points (private): (unset) -> "budget cuts"'
contains "log unset" "$TMP/out" 'title: "CTO" -> (unset)'
ok "log json" k log "$ada" --json
python3 - "$TMP/out" <<'PY' || fail "log --json is not the history with values"
import json, sys
log = json.load(open(sys.argv[1]))
assert log[0]["created"] == "person" and log[0]["effective"], log[0]
changes = {c["field"]: c for e in log for c in e["changes"]}
assert changes["pain_points"]["after"] == "budget cuts", changes
assert any(e["private"] for e in log if any(c["field"] == "pain_points" for c in e["changes"]))
assert any(c["field"] == "title" and c["before"] == "CTO" and c["after"] is None
           for e in log for c in e["changes"]), log
PY

# Delete, then undo (failure 4 of issue 10: rm could not be undone, log found nothing).
ok "rm" k rm "$ada"
contains "rm says how to undo" "$TMP/out" "kith restore"
ok "list after rm" k list
lacks "deleted not listed" "$TMP/out" "${ada:0:8}"
refuses "edit deleted" k edit "$ada" --set title=x
contains "edit deleted says so" "$TMP/err" "is deleted"
ok "show deleted" k show "$ada"
contains "show marks deleted" "$TMP/out" "deleted"
contains "private note kept" "$TMP/out" "budget cuts"
ok "log deleted" k log "$ada"
contains "log shows deletion" "$TMP/out" "deleted"
ok "list --deleted" k list --deleted
contains "trash lists it" "$TMP/out" "${ada:0:8}"
ok "restore" k restore "$ada"
contains "restored" "$TMP/out" "Restored"
ok "list after restore" k list
contains "back in the list" "$TMP/out" "${ada:0:8}"
ok "restore twice" k restore "$ada"
contains "nothing to restore" "$TMP/out" "not deleted"
ok "list --deleted empty" k list --deleted
lacks "trash empty" "$TMP/out" "${ada:0:8}"
ok "rm again" k rm "$ada" --yes
finish
