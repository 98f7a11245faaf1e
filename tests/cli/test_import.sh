#!/usr/bin/env bash
# Import and export: vCard 2.1/3.0/4.0, LinkedIn (twice, no duplicates), CSV; atomic
# failure; vCard export read back by an independent parser (python3-vobject).
. "$(dirname "$0")/lib.sh"
k init --name alice >/dev/null

printf '%s\r\n' 'BEGIN:VCARD' 'VERSION:2.1' 'N:Ødegård;Ingrid' \
    'FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Ingrid =D8deg=E5rd' \
    'TEL;WORK;VOICE:+47 22 33 44 55' 'TEL;CELL:+47 900 00 000' \
    'NOTE;ENCODING=QUOTED-PRINTABLE:First line=0D=0Asecond =' 'line' \
    'X-SKYPE:ingrid.o' 'END:VCARD' \
    'BEGIN:VCARD' 'VERSION:3.0' 'FN:Grace Hopper' 'N:Hopper;Grace;;;' \
    'ORG:Navy;Computing\, Research' 'EMAIL;TYPE=work:grace@navy.example' \
    'EMAIL;TYPE=home:grace@home.example' 'ADR;TYPE=work:;;1 Main St;Arlington;VA;22201;USA' \
    'NOTE:Uses\, commas\; and\nnewlines' 'CATEGORIES:navy,cobol' 'END:VCARD' \
    'BEGIN:VCARD' 'VERSION:4.0' 'KIND:org' 'FN:Analytical Engines Ltd' \
    'URL:https://engines.example' 'END:VCARD' >"$TMP/cards.vcf"
ok "import vcard" k import vcard "$TMP/cards.vcf"
contains "count" "$TMP/out" "Imported 3 new records"
ok "show 2.1 card" k show "ingrid ødegård"
contains "QP decoded" "$TMP/out" "Ingrid Ødegård"
contains "QP soft break joined" "$TMP/out" "second line"
contains "both phones" "$TMP/out" "+47 900 00 000"
contains "X- kept" "$TMP/out" "ingrid.o"
ok "show 3.0 card" k show "Grace Hopper" --json
python3 - "$TMP/out" <<'PY' || fail "vCard 3.0 fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["emails"] == ["grace@navy.example", "grace@home.example"], d
assert d["org"] == "Navy" and d["department"] == "Computing, Research", d
assert d["note"] == "Uses, commas; and\nnewlines", d
assert d["tags"] == ["navy", "cobol"], d
assert d["addresses"] == ["1 Main St, Arlington, VA, 22201, USA"], d
PY
ok "org kind" k list --kind org
contains "KIND:org" "$TMP/out" "Analytical Engines Ltd"

# With --strict a malformed file imports nothing and names the line (the forgiving
# default is tested in test_import_forgive.sh).
k export json >"$TMP/before.json"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fine Person\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\n' >"$TMP/bad.vcf"
refuses "truncated vcard" k import vcard --strict "$TMP/bad.vcf"
contains "line named" "$TMP/err" "line"
contains "nothing imported" "$TMP/err" "nothing imported"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad Mail\r\nEMAIL:not an email\r\nEND:VCARD\r\n' >"$TMP/bad2.vcf"
refuses "invalid value" k import vcard --strict "$TMP/bad2.vcf"
contains "value error names its line" "$TMP/err" "line 4: emails: not an e-mail address"
refuses "missing file" k import vcard "$TMP/none.vcf"
refuses "unknown format" k import outlook "$TMP/cards.vcf"
k export json >"$TMP/after.json"
cmp -s "$TMP/before.json" "$TMP/after.json" || fail "a failed import changed the store"

# LinkedIn: preamble, BOM, CRLF; a second import updates and never duplicates.
{
    printf '\xef\xbb\xbfNotes:\r\n'
    printf '"When exporting your connection data, you may notice that some of the email addresses are missing."\r\n\r\n'
    printf 'First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n'
    printf 'Maja,Lind,https://www.linkedin.com/in/majalind,maja@fjord.example,Fjordline,Architect,15 Mar 2023\r\n'
    printf '"Tomas","Berg, Jr.",https://www.linkedin.com/in/tberg,,"Fjordline, AS",CFO,01 Feb 2024\r\n'
} >"$TMP/Connections.csv"
ok "import linkedin" k import linkedin "$TMP/Connections.csv"
contains "two new" "$TMP/out" "Imported 2 new"
sed -i 's/Architect/Chief Architect/' "$TMP/Connections.csv"
ok "import linkedin again" k import linkedin "$TMP/Connections.csv"
contains "none new, one updated" "$TMP/out" "Imported 0 new records"
contains "updated count" "$TMP/out" "1 updated, 1 unchanged"
ok "list" k list
same "no duplicates" "$(grep -c 'Maja Lind' "$TMP/out")" "1"
contains "title updated" "$TMP/out" "Chief Architect"
ok "connected on kept" k show "Maja Lind" --json
contains "ISO date" "$TMP/out" '"x-connected-on": "2023-03-15"'
# A re-import respects privacy: a field kept private here is updated privately, and a
# shared list gains items without copying the private ones (issue 10, failure 8).
ok "private title" k edit "Maja Lind" --private title=PRIVATE-TITLE
ok "private address" k edit "Tomas Berg, Jr." --private emails=PRIVATE-MAIL@berg.example
sed -i 's/Chief Architect/Lead Architect/; s#tberg,,#tberg,tomas@berg.example,#' "$TMP/Connections.csv"
ok "import linkedin a third time" k import linkedin "$TMP/Connections.csv"
ok "maja" k show "Maja Lind" --json
python3 - "$TMP/out" <<'PY' || fail "re-import of a private field"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["title"] == "Chief Architect" and r["private"]["title"] == "Lead Architect", r
PY
ok "tomas" k show "Tomas Berg, Jr." --json
python3 - "$TMP/out" <<'PY' || fail "re-import of a list with private items"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["private"]["emails"] == ["PRIVATE-MAIL@berg.example", "tomas@berg.example"], r
assert "emails" not in r or "PRIVATE-MAIL@berg.example" not in r["emails"] or r["private_fields"], r
PY
ok "plain export of maja" k export vcard "Maja Lind"
contains "shared title exported" "$TMP/out" "TITLE:Chief Architect"
lacks "private title not exported" "$TMP/out" "Lead Architect"
ok "full export of maja" k export vcard "Maja Lind" --all
contains "private title with --all" "$TMP/out" "TITLE:Lead Architect"
same "one title with --all" "$(grep -c '^TITLE' "$TMP/out")" "1"
ok "log of the update" k log "Tomas Berg, Jr." --json
python3 - "$TMP/out" <<'PY' || fail "the update went to the shared record"
import json, sys
for op in json.load(open(sys.argv[1])):
    for c in op["changes"]:
        if c["field"] == "emails":
            assert op["private"], op
PY

# Generic CSV (Google's new header) with sharing.
k --home "$TMP/bob" init --name bob >/dev/null
k peer add bob "$(k --home "$TMP/bob" id | head -1)" >/dev/null
printf 'First Name,Last Name,Organization Name,E-mail 1 - Value,Labels\nLena,Dahl,Globex,lena@globex.example,Clients ::: * myContacts\n' >"$TMP/google.csv"
ok "import csv shared" k import csv "$TMP/google.csv" --share bob
ok "show csv" k show "Lena Dahl"
contains "shared on import" "$TMP/out" "bob (editor)"
contains "label as tag" "$TMP/out" "Clients"

# vCard export: intelligence and private fields only with --all; read back by vobject.
k edit "Grace Hopper" --set influence=5 --set pain_points="legacy COBOL" \
    --private politics="secret" >/dev/null
ok "export vcard" k export vcard "Grace Hopper" -o "$TMP/out.vcf"
lacks "no intelligence" "$TMP/out.vcf" "legacy COBOL"
lacks "no private" "$TMP/out.vcf" "secret"
same "export file 0600" "$(stat -c %a "$TMP/out.vcf")" "600"
ok "export vcard --all" k export vcard "Grace Hopper" --all
contains "intelligence with --all" "$TMP/out" "X-KITH-PAIN-POINTS:legacy COBOL"
if /usr/bin/python3 -c 'import vobject' 2>/dev/null; then
    for v in "" --v3; do
        k export vcard $v >"$TMP/all.vcf"
        ok "vobject reads export $v" /usr/bin/python3 "$KITH_TEST_DIR/tools/vcard_readback.py" "$TMP/all.vcf"
        cp "$TMP/out" "$TMP/readback.json"
        k export json >"$TMP/kith.json"
        /usr/bin/python3 - "$TMP/readback.json" "$TMP/kith.json" <<'PY' || fail "vCard export $v not read back losslessly"
import json, sys
back = {c["fn"]: c for c in json.load(open(sys.argv[1]))}
recs = json.load(open(sys.argv[2]))
assert len(back) == len(recs), (len(back), len(recs))
for r in recs:
    c = back[r["name"]]
    # A plain export holds the shared record only: compare the fields without a private
    # value (the top-level value of a private-only field is the private one).
    for k in r["private_fields"]:
        r.pop(k, None)
    assert c["emails"] == r.get("emails", []), (c, r)
    assert c["tels"] == r.get("phones", []), (c, r)
    assert c["urls"] == r.get("urls", []), (c, r)
    assert c["categories"] == r.get("tags", []), (c, r)
    assert c["adr"] == r.get("addresses", []), (c, r)
    assert c["note"] == r.get("note"), (c, r)
    assert c["title"] == r.get("title"), (c, r)
    if "org" in r:
        assert c["org"][0][0] == r["org"], (c, r)
    if "given" in r or "family" in r:
        assert c["n"]["given"] == r.get("given", "") and c["n"]["family"] == r.get("family", ""), (c, r)
PY
    done
else
    fail "python3-vobject is not installed: the independent vCard check did not run"
fi
ok "export json" k export json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==6, len(d)' "$TMP/out" ||
    fail "export json count"
finish
