#!/usr/bin/env bash
# kith send / receive: sealed envelopes between two nodes.
. "$(dirname "$0")/lib.sh"
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
for n in alice bob carol; do node $n init --name $n >/dev/null; done
id_alice=$(node alice id | head -1)
id_bob=$(node bob id | head -1)
node alice peer add bob "$id_bob" >/dev/null
node bob peer add alice "$id_alice" >/dev/null

node alice add person --name "Grace Hopper" --set title=Admiral --set note=NOTE-MARKER-77 \
    --private politics=PRIVATE-MARKER-88 >/dev/null
ok "send" node alice send "Grace Hopper" --to bob -o "$TMP/env.txt"
same "envelope file 0600" "$(stat -c %a "$TMP/env.txt")" "600"
contains "armor begins" "$TMP/env.txt" "-----BEGIN KITH ENVELOPE-----"
contains "armor ends" "$TMP/env.txt" "-----END KITH ENVELOPE-----"
checks=$((checks + 1))
awk 'length > 76 { bad = 1 } END { exit bad }' "$TMP/env.txt" || fail "armor line over 76 chars"
for secret in Grace Hopper Admiral NOTE-MARKER PRIVATE-MARKER "$id_alice" "$id_bob"; do
    lacks "nothing readable: $secret" "$TMP/env.txt" "$secret"
done

# Pasted into an e-mail, quoted; received from standard input.
{
    echo "Hi Bob, the contact we talked about:"
    echo
    sed 's/^/> /' "$TMP/env.txt"
    echo
    echo "-- Alice"
} >"$TMP/mail.txt"
ok "receive from mail" node bob receive - <"$TMP/mail.txt"
contains "says what it imported" "$TMP/out" "Imported 'Grace Hopper'"
contains "names the sender" "$TMP/out" "from alice"
ok "show" node bob show "Grace Hopper"
contains "field arrived" "$TMP/out" "NOTE-MARKER-77"
lacks "private field never sent" "$TMP/out" "PRIVATE-MARKER-88"
contains "shared as reader" "$TMP/out" "you (reader)"
node bob export json >"$TMP/b1.json"
ok "receive twice" node bob receive "$TMP/env.txt"
contains "nothing new" "$TMP/out" "Already up to date"
node bob export json >"$TMP/b2.json"
checks=$((checks + 1))
cmp -s "$TMP/b1.json" "$TMP/b2.json" || fail "receiving twice changed the store"

# An older envelope never rolls back newer values.
node alice edit "Grace Hopper" --set title="Rear Admiral" >/dev/null
ok "send newer" node alice send "Grace Hopper" --to bob -o "$TMP/env2.txt"
ok "receive newer" node bob receive "$TMP/env2.txt"
ok "replay older" node bob receive "$TMP/env.txt"
ok "show" node bob show "Grace Hopper"
contains "newer value kept" "$TMP/out" "Rear Admiral"

# Wrong recipient, unknown sender, tampering, truncation, garbage: refused, nothing imported.
node carol export json >"$TMP/c1.json"
refuses "wrong recipient" node carol receive "$TMP/env.txt"
contains "not for this node" "$TMP/err" "not sealed for this node"
node carol peer add alice "$id_alice" >/dev/null
node alice peer add carol "$(node carol id | head -1)" >/dev/null
node carol peer rm alice >/dev/null
ok "send to carol" node alice send "Grace Hopper" --to carol -o "$TMP/env3.txt"
refuses "unknown sender" node carol receive "$TMP/env3.txt"
contains "shows fingerprint" "$TMP/err" "fingerprint"
node carol export json >"$TMP/c2.json"
checks=$((checks + 1))
cmp -s "$TMP/c1.json" "$TMP/c2.json" || fail "a refused envelope changed the store"
ok "unknown sender accepted on request" node carol receive "$TMP/env3.txt" --accept-unknown
contains "imported from unknown" "$TMP/out" "unknown node"

sed '3s/^\(.\{20\}\)./\1A/;3s/^\(.\{21\}\)A/\1B/' "$TMP/env.txt" >"$TMP/tampered.txt"
cmp -s "$TMP/env.txt" "$TMP/tampered.txt" && sed -i '3s/^\(.\{20\}\)./\1C/' "$TMP/tampered.txt"
refuses "tampered" node bob receive "$TMP/tampered.txt"
head -4 "$TMP/env.txt" >"$TMP/truncated.txt"
refuses "truncated" node bob receive "$TMP/truncated.txt"
echo "no envelope here" >"$TMP/none.txt"
refuses "no envelope" node bob receive "$TMP/none.txt"
refuses "missing file" node bob receive "$TMP/nothing.txt"
refuses "send to unknown peer" node alice send "Grace Hopper" --to zed
refuses "send without --to" node alice send "Grace Hopper"
finish
