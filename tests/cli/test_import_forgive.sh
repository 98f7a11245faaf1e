#!/usr/bin/env bash
# Forgiving import (issue 11): one bad value in a large file skips that value only,
# reported with its line; a broken card is skipped whole; the counts and the exit
# status say so; --strict keeps all or nothing; hard limits still refuse the file.
. "$(dirname "$0")/lib.sh"
k init --name alice >/dev/null

# status EXPECTED DESCRIPTION COMMAND...: the command must exit with EXPECTED.
status() {
    local want=$1 what=$2
    shift 2
    checks=$((checks + 1))
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    [ "$got" -eq "$want" ] || { fail "$what: '$*' exited $got, want $want"; sed 's/^/    /' "$TMP/err" >&2; }
}

# 50 cards of 5 lines; card 25 (lines 121-125) has a bad e-mail on line 124, card 30
# (lines 146-150) a windows-1252 NOTE on line 149; then a card cut short at line 251.
python3 - "$TMP/fifty.vcf" <<'PY'
import sys
out = b""
for i in range(1, 51):
    out += b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %d\r\n" % i
    if i == 25:
        out += b"EMAIL:not an email\r\n"
    elif i == 30:
        out += b"NOTE:caf\xe9 cr\xe8me\r\n"
    else:
        out += b"EMAIL:p%d@example.com\r\n" % i
    out += b"END:VCARD\r\n"
out += b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut Short\r\n"
open(sys.argv[1], "wb").write(out)
PY

k export json >"$TMP/before.json"
status 1 "strict refuses" k import vcard --strict "$TMP/fifty.vcf"
contains "strict names the first problem" "$TMP/err" "line 149: invalid UTF-8"
contains "strict imports nothing" "$TMP/err" "nothing imported"
k export json >"$TMP/after.json"
cmp -s "$TMP/before.json" "$TMP/after.json" || fail "a strict import that failed changed the store"

status 1 "forgiving imports the rest" k import vcard "$TMP/fifty.vcf"
contains "50 imported" "$TMP/out" "Imported 50 new records"
contains "bad e-mail reported with its line" "$TMP/err" "line 124: emails skipped: 'not an email': emails: not an e-mail address"
contains "bad UTF-8 reported with its line" "$TMP/err" "line 149: NOTE skipped: invalid UTF-8"
contains "cut card reported" "$TMP/err" "line 251: card skipped: BEGIN:VCARD without END:VCARD"
contains "counts" "$TMP/err" "50 cards imported; skipped 2 values and 1 card"
ok "card 25 kept" k show "Person 25" --json
python3 - "$TMP/out" <<'PY' || fail "card 25 lost more than its bad value"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "Person 25" and "emails" not in d, d
PY
ok "card 26 whole" k show "Person 26"
contains "neighbour intact" "$TMP/out" "p26@example.com"
refuses "cut card not imported" k show "Cut Short"

# A clean file exits 0; an over-long value is "too long", not "not valid UTF-8".
printf 'BEGIN:VCARD\r\nFN:Clean\r\nEND:VCARD\r\n' >"$TMP/clean.vcf"
status 0 "clean file" k import vcard "$TMP/clean.vcf"
lacks "nothing to report" "$TMP/err" "skipped"
python3 - "$TMP/long.vcf" <<'PY'
import sys
open(sys.argv[1], "w").write("BEGIN:VCARD\r\nFN:Long Note\r\nNOTE:" + "x" * 20000 + "\r\nTITLE:Kept\r\nEND:VCARD\r\n")
PY
status 1 "over-long value skipped" k import vcard "$TMP/long.vcf"
contains "too long, with the limit" "$TMP/err" "line 3: note skipped: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': note: too long (more than 16384 bytes)"
lacks "not called an encoding problem" "$TMP/err" "UTF-8"
ok "rest of the card kept" k show "Long Note"
contains "title kept" "$TMP/out" "Kept"
status 1 "strict over-long" k import vcard --strict "$TMP/long.vcf"
contains "strict says too long" "$TMP/err" "too long (more than 16384 bytes)"

# A value quoted in a report is escaped and cut short.
printf 'BEGIN:VCARD\r\nFN:Esc\r\nEMAIL:\033[31mred\\\\nline\r\nEND:VCARD\r\n' >"$TMP/esc.vcf"
status 1 "escaped excerpt" k import vcard "$TMP/esc.vcf"
lacks "no raw escape byte" "$TMP/err" $'\033'
contains "escape shown" "$TMP/err" '\x1b[31mred'

# Hard limits still refuse the whole file, forgiving or not.
python3 - "$TMP/longline.vcf" <<'PY'
import sys
open(sys.argv[1], "w").write("BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B\r\nNOTE:" + "y" * (1 << 20) + "\r\nEND:VCARD\r\n")
PY
status 1 "line over the limit" k import vcard "$TMP/longline.vcf"
contains "says the limit" "$TMP/err" "line 6: unfolded line longer than 1048576 bytes; nothing imported"
refuses "nothing of it imported" k show "A"
printf 'not a vcard\r\n' >"$TMP/notvcard.vcf"
status 1 "no vCard at all" k import vcard "$TMP/notvcard.vcf"
contains "no vCard" "$TMP/err" "no vCard found; nothing imported"

# CSV: a bad value is skipped with its row's line, a row without a name as a whole;
# --strict refuses.
printf 'First Name,Last Name,E-mail 1 - Value,Notes\nGood,Row,good@example.com,\nBad,Mail,nope,\n,,,only a note\nLast,Row,,\n' >"$TMP/c.csv"
status 1 "csv forgiving" k import csv "$TMP/c.csv"
contains "csv three imported" "$TMP/out" "Imported 3 new records"
contains "csv value reported" "$TMP/err" "line 3: emails skipped: 'nope'"
contains "csv row without a name" "$TMP/err" "line 4: card skipped: no name, given or family name, organisation or e-mail"
contains "csv counts" "$TMP/err" "3 cards imported; skipped 1 value and 1 card"
ok "row after the nameless one" k show "Last Row"
status 1 "csv strict" k import csv --strict "$TMP/c.csv"
contains "csv strict nothing" "$TMP/err" "nothing imported"

status 2 "usage error" k import vcard
status 2 "strict is not for json" k import json --strict "$TMP/before.json"
finish
