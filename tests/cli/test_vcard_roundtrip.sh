#!/usr/bin/env bash
# Faithful vCards through the store (issue 11): every card of tests/vectors/vcard-corpus/
# imported, exported as vCard 4.0 and 3.0, holds the same properties as the file did
# (TYPE parameters, groups, N/ORG/ADR structure, PHOTO, unknown properties); importing
# the export again adds no record and no op.
. "$(dirname "$0")/lib.sh"
k init --name alice >/dev/null
CORPUS="$KITH_TEST_DIR/vectors/vcard-corpus"

n_ops() {
    k export json | python3 -c 'import json,sys; print(sum(len(r["ops"]) for r in json.load(sys.stdin)))'
}

n_cards=0
for f in "$CORPUS"/*.vcf; do
    ok "import $(basename "$f")" k import vcard "$f"
    lacks "$(basename "$f"): nothing skipped" "$TMP/err" "skipped"
    n_cards=$((n_cards + $(grep -c '^BEGIN:VCARD' "$f")))
done
same "one record per card" "$(k list | wc -l)" "$n_cards"
ok "export 4.0" k export vcard -o "$TMP/out4.vcf"
ok "export 3.0" k export vcard --v3 -o "$TMP/out3.vcf"

# Properties compared as unfolded lines: group, property and parameter names upper-cased,
# parameters in any order. Left out: VERSION, PRODID, REV; the N with no component and
# KIND:org/X-ABSHOWAS:COMPANY that kith writes in one version only. The UID the file gave
# comes back as X-VCARD-UID beside kith's own UID:urn:kith:ID (node/match.h).
for v in 4 3; do
    python3 "$KITH_TEST_DIR/tools/vcard_compare.py" "$CORPUS" "$TMP/out$v.vcf" >"$TMP/cmp$v" 2>&1 ||
        { fail "vCard $v.0 export differs from the corpus:"; sed 's/^/    /' "$TMP/cmp$v" >&2; }
done

# The comparison must be able to fail: a TYPE parameter lost is seen.
sed 's/^TEL;type=CELL;type=VOICE;type=pref:/TEL:/' "$TMP/out4.vcf" >"$TMP/lost.vcf"
if python3 "$KITH_TEST_DIR/tools/vcard_compare.py" "$CORPUS" "$TMP/lost.vcf" >/dev/null 2>&1; then
    fail "the comparison does not see a lost TYPE parameter"
fi

# Importing the export again changes nothing: no record, no op, no value.
ops0=$(n_ops)
k export json | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    for k in ("ops", "created", "updated"):
        r.pop(k)
    print(json.dumps(r, sort_keys=True))' | sort >"$TMP/recs0"
for v in 4 3; do
    ok "re-import the $v.0 export" k import vcard "$TMP/out$v.vcf"
    contains "$v.0: nothing new" "$TMP/out" "Imported 0 new records"
    contains "$v.0: all unchanged" "$TMP/out" "0 updated, $n_cards unchanged"
done
for f in "$CORPUS"/*.vcf; do
    ok "re-import $(basename "$f")" k import vcard "$f"
    contains "$(basename "$f"): nothing new" "$TMP/out" "Imported 0 new records"
done
same "record count unchanged" "$(k list | wc -l)" "$n_cards"
same "no new op" "$(n_ops)" "$ops0"
k export json | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    for k in ("ops", "created", "updated"):
        r.pop(k)
    print(json.dumps(r, sort_keys=True))' | sort >"$TMP/recs1"
cmp -s "$TMP/recs0" "$TMP/recs1" || fail "a record changed on re-import"

# An edit in kith wins over the kept line: the old TYPE=CELL number is not exported.
ok "remove a phone" k edit "Johnny Appleseed" --remove phones="+1 (408) 555-0100"
ok "add a phone" k edit "Johnny Appleseed" --add phones="+1 (408) 555-0111"
ok "export after the edit" k export vcard "Johnny Appleseed" -o "$TMP/edited.vcf"
lacks "stale kept line gone" "$TMP/edited.vcf" "555-0100"
contains "new number" "$TMP/edited.vcf" "TEL:+1 (408) 555-0111"
contains "other kept lines still there" "$TMP/edited.vcf" "TEL;type=WORK;type=VOICE:+1 (408) 555-0199"
# A card whose kept lines would not fit one op keeps what fits and reports the rest; the
# other cards of the file are imported all the same.
python3 - "$TMP/big.vcf" <<'PY'
import sys
lines = ["BEGIN:VCARD", "VERSION:3.0", "FN:Blob Person", "EMAIL:blob@example.com"]
lines += ["X-BLOB%d;ENCODING=b:" % i + "A" * 15000 for i in range(4)]
lines += ["END:VCARD", "BEGIN:VCARD", "VERSION:3.0", "FN:After Blob", "END:VCARD"]
open(sys.argv[1], "w").write("\r\n".join(lines) + "\r\n")
PY
refuses "import with blobs reports" k import vcard "$TMP/big.vcf"
contains "blob card imported" "$TMP/out" "Imported 2 new records"
contains "blob reported" "$TMP/err" "line 7: X-BLOB2 skipped: too long to keep"
ok "show blob card" k show "Blob Person" --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["vcard_extra"]) == 2, r["vcard_extra"]' "$TMP/out" ||
    fail "two kept lines of 15000 bytes"
# A kept line that repeats a private value stays private: re-importing a card with
# TEL;TYPE=CELL of a phone number kept privately must not share the number.
ok "private phone" k add person --name "Pat Private" --set emails=pat@private.example --private phones="+1 555 9999"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Pat Private\r\nEMAIL:pat@private.example\r\nTEL;TYPE=CELL:+1 555 9999\r\nEND:VCARD\r\n' >"$TMP/pat.vcf"
ok "import over the private phone" k import vcard "$TMP/pat.vcf"
ok "export without private" k export json --no-private -o "$TMP/pat.json"
lacks "the private number is not shared" "$TMP/pat.json" "555 9999"
ok "show the card" k export vcard "Pat Private" --all -o "$TMP/pat-out.vcf"
contains "the user still sees the kept line" "$TMP/pat-out.vcf" "TEL;TYPE=CELL:+1 555 9999"
finish
