#!/usr/bin/env bash
# Importing twice never duplicates (issue 11): exported vCards carry the record id as a
# UID, and an import matches existing records by UID, then by e-mail and LinkedIn URL.
. "$(dirname "$0")/lib.sh"
k init --name alice >/dev/null

# Total ops in the store, and the records listed.
n_ops() {
    k export json | python3 -c 'import json,sys; print(sum(len(r["ops"]) for r in json.load(sys.stdin)))'
}
n_list() {
    k list | wc -l
}

k add person --name "Ada Lovelace" --set given=Ada --set family=Lovelace \
    --set emails=ada@engines.example --set phones="+44 20 7946 0000" --set tags=math \
    --set note="Met at the
Analytical Society" --set addresses="12 St James's Square
London" --set title=Countess --private x-secret=hers >/dev/null
k add person --name "Charles Babbage" --set emails=Charles@Engines.example \
    --private phones="+44 20 7946 0001" --set influence=4 >/dev/null
k add org --name "Engines Ltd" --set urls=https://engines.example >/dev/null
k add person --name "No Mail" --set title=Nobody >/dev/null

# Every exported card has the record's id as its UID, in 4.0 and 3.0.
ok "export 4.0" k export vcard -o "$TMP/a4.vcf"
ok "export 3.0" k export vcard --v3 -o "$TMP/a3.vcf"
ok "export --all" k export vcard --all -o "$TMP/aall.vcf"
ok "id of Ada" k show "Ada Lovelace" --json
ada=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/out")
contains "UID in 4.0" "$TMP/a4.vcf" "UID:urn:kith:$ada"
contains "UID in 3.0" "$TMP/a3.vcf" "UID:urn:kith:$ada"
same "one UID per card" "$(grep -c '^UID:urn:kith:' "$TMP/a4.vcf")" "4"

# Re-importing one's own export changes nothing: no record, no op.
ops0=$(n_ops)
list0=$(n_list)
ok "log before" k log "Ada Lovelace" --json
cp "$TMP/out" "$TMP/log0.json"
for f in a4 a3 aall; do
    ok "re-import $f" k import vcard "$TMP/$f.vcf"
    contains "$f: nothing new" "$TMP/out" "Imported 0 new records"
    contains "$f: all unchanged" "$TMP/out" "0 updated, 4 unchanged, 0 ambiguous, 0 read-only skipped"
done
same "list count unchanged" "$(n_list)" "$list0"
same "no new op" "$(n_ops)" "$ops0"
ok "log after" k log "Ada Lovelace" --json
cmp -s "$TMP/log0.json" "$TMP/out" || fail "kith log shows a new op after a re-import"

# A changed card updates its record through the edit path: lists merge, values change.
sed 's/^TITLE:Countess/TITLE:Mathematician/; s/^EMAIL:ada@engines.example/EMAIL:ADA@engines.example\r\nEMAIL:ada@home.example/' \
    "$TMP/a4.vcf" >"$TMP/changed.vcf"
ok "import changed" k import vcard "$TMP/changed.vcf"
contains "one updated" "$TMP/out" "Imported 0 new records from $TMP/changed.vcf (1 updated, 3 unchanged"
ok "show Ada" k show "Ada Lovelace" --json
python3 - "$TMP/out" <<'PY' || fail "update of a matched record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["emails"] == ["ada@engines.example", "ada@home.example"], r
assert r["title"] == "Mathematician", r
assert r["private"]["x-secret"] == "hers", r
PY
ok "log of the update" k log "Ada Lovelace" --json
python3 - "$TMP/out" <<'PY' || fail "the update is one signed op"
import json, sys
log = json.load(open(sys.argv[1]))
last = log[-1] if log[-1]["hlc"] > log[0]["hlc"] else log[0]
fields = sorted(c["field"] for c in last["changes"])
assert fields == ["emails", "title"], last
PY

# Another node: the first import adds, the second matches (the foreign kith UID is kept in
# x-vcard-uid, so even a card with no e-mail is found again).
export KITH_HOME="$TMP/bob"
k init --name bob >/dev/null
ok "bob imports" k import vcard "$TMP/a4.vcf"
contains "bob: four new" "$TMP/out" "Imported 4 new records"
ops1=$(n_ops)
ok "bob imports again" k import vcard "$TMP/a4.vcf"
contains "bob: nothing new" "$TMP/out" "Imported 0 new records"
contains "bob: all unchanged" "$TMP/out" "4 unchanged"
same "bob: four records" "$(n_list)" "4"
same "bob: no new op" "$(n_ops)" "$ops1"
ok "bob: show No Mail" k show "No Mail" --json
contains "foreign UID kept" "$TMP/out" "\"x-vcard-uid\": \"urn:kith:"
# Bob's own export carries his UID and the original; alice reads it back as hers.
ok "bob exports" k export vcard -o "$TMP/b4.vcf"
export KITH_HOME="$TMP/home"
ok "alice imports bob's export" k import vcard "$TMP/b4.vcf"
contains "alice: nothing new" "$TMP/out" "Imported 0 new records"

# Another program's UID: the same card twice is one record.
printf '%s\r\n' 'BEGIN:VCARD' 'VERSION:3.0' 'FN:Mary Somerville' 'UID:0a1b2c3d-4e5f-ABC' \
    'END:VCARD' >"$TMP/apple.vcf"
ok "foreign uid" k import vcard "$TMP/apple.vcf"
contains "foreign: new" "$TMP/out" "Imported 1 new record"
ok "foreign uid again" k import vcard "$TMP/apple.vcf"
contains "foreign: again nothing new" "$TMP/out" "Imported 0 new records"
ok "list" k list
same "one Mary" "$(grep -c 'Mary Somerville' "$TMP/out")" "1"

# A LinkedIn export beside a vCard of the same person (same e-mail, another case): one
# record, which gains the LinkedIn fields.
printf '%s\r\n' 'First Name,Last Name,URL,Email Address,Company,Position,Connected On' \
    'Charles,Babbage,https://www.linkedin.com/in/cbabbage,charles@engines.example,Engines Ltd,Inventor,01 Feb 2024' \
    >"$TMP/Connections.csv"
list1=$(n_list)
ok "linkedin beside vcard" k import linkedin "$TMP/Connections.csv"
contains "linkedin: one updated" "$TMP/out" "Imported 0 new records from $TMP/Connections.csv (1 updated"
same "linkedin: no new record" "$(n_list)" "$list1"
ok "show Charles" k show "Charles Babbage"
contains "linkedin URL added" "$TMP/out" "linkedin.com/in/cbabbage"
ok "linkedin again" k import linkedin "$TMP/Connections.csv"
contains "linkedin again: unchanged" "$TMP/out" "0 updated, 1 unchanged"

# A card reaching two records (Ada's e-mail and Charles's LinkedIn URL) is a new record,
# reported with its line; neither record is touched.
ops2=$(n_ops)
printf '%s\r\n' 'BEGIN:VCARD' 'VERSION:4.0' 'FN:Fine Person' 'EMAIL:fine@x.example' 'END:VCARD' \
    'BEGIN:VCARD' 'VERSION:4.0' 'FN:Ada or Charles' 'EMAIL:ada@home.example' \
    'URL:https://linkedin.com/in/CBabbage/' 'END:VCARD' >"$TMP/both.vcf"
ok "ambiguous card" k import vcard "$TMP/both.vcf"
contains "ambiguous counted" "$TMP/out" "Imported 2 new records from $TMP/both.vcf (0 updated, 0 unchanged, 1 ambiguous"
contains "ambiguous line" "$TMP/err" "line 6: the card matches 2 records"
ok "show Ada" k show "Ada Lovelace" --json
lacks "Ada untouched" "$TMP/out" "cbabbage"
ok "the ambiguous card is its own record" k show "Ada or Charles"

# A record shared with this node read-only is left alone, and reported.
bob_id=$(k --home "$TMP/bob" id | head -1)
k peer add bob "$bob_id" >/dev/null
alice_id=$(k id | head -1)
k --home "$TMP/bob" peer add alice "$alice_id" >/dev/null
k add person --name "Grace Hopper" --set emails=grace@navy.example --share bob --read-only >/dev/null
ok "export for bob" k export json "Grace Hopper" -o "$TMP/grace.json"
export KITH_HOME="$TMP/bob"
ok "bob receives grace" k import json "$TMP/grace.json"
ops3=$(n_ops)
printf '%s\r\n' 'BEGIN:VCARD' 'VERSION:3.0' 'FN:Grace Hopper' 'EMAIL:grace@navy.example' \
    'TITLE:Rear Admiral' 'END:VCARD' >"$TMP/grace.vcf"
ok "bob imports over a read-only record" k import vcard "$TMP/grace.vcf"
contains "read-only counted" "$TMP/out" "Imported 0 new records from $TMP/grace.vcf (0 updated, 0 unchanged, 0 ambiguous, 1 read-only skipped)"
contains "read-only named" "$TMP/err" "Grace Hopper"
same "read-only: no op" "$(n_ops)" "$ops3"
finish
