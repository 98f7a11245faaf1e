#!/usr/bin/env bash
# kith init / id / peer: identity creation, node IDs, passphrases, permissions.
. "$(dirname "$0")/lib.sh"

ok "init" k init --name alice
contains "init names the home" "$TMP/out" "$KITH_HOME"
refuses "init twice" k init --name again
contains "init twice says why" "$TMP/err" "already holds a kith node"

ok "id" k id
id=$(head -1 "$TMP/out")
same "id is 8 groups of 7" "$(echo "$id" | grep -cE '^([0-9A-Z]{7}-){7}[0-9A-Z]{7}$')" "1"
ok "id --json" k id --json
contains "json node_id" "$TMP/out" "\"node_id\": \"$id\""
contains "json name" "$TMP/out" '"name": "alice"'
contains "json fingerprint" "$TMP/out" '"fingerprint"'
contains "json public_key" "$TMP/out" '"public_key"'

same "home is 0700" "$(stat -c %a "$KITH_HOME")" "700"
same "key is 0600" "$(stat -c %a "$KITH_HOME/identity.key")" "600"
same "db is 0600" "$(stat -c %a "$KITH_HOME/kith.db")" "600"

# A second node to pair with.
ok "init bob" k --home "$TMP/bob" init --name bob
bob=$(k --home "$TMP/bob" id | head -1)

# Every single changed character and every adjacent swap of the node ID is refused.
plain=${bob//-/}
alphabet=0123456789ABCDEFGHJKMNPQRSTVWXYZ
bad=0
for pos in 0 7 13 25 40 55; do
    c=${plain:pos:1}
    for sub in A 7 Z; do
        [ "$sub" = "$c" ] && continue
        typo="${plain:0:pos}$sub${plain:pos+1}"
        k peer add typo "$typo" >/dev/null 2>&1 && bad=$((bad + 1))
    done
    if [ $pos -lt 55 ] && [ "${plain:pos:1}" != "${plain:pos+1:1}" ]; then
        swapped="${plain:0:pos}${plain:pos+1:1}${plain:pos:1}${plain:pos+2}"
        k peer add typo "$swapped" >/dev/null 2>&1 && bad=$((bad + 1))
    fi
done
same "typos in node IDs refused" "$bad" "0"
refuses "garbage node ID" k peer add bob not-a-node-id
refuses "own ID" k peer add me "$id"
contains "own ID says why" "$TMP/err" "own ID"

ok "peer add" k peer add bob "$bob" --group sales --addr 127.0.0.1:5484
ok "peer add lower case, no dashes" k --home "$TMP/bob" peer add alice "$(echo "${id//-/}" | tr A-Z a-z)"
refuses "same name twice" k peer add bob "$bob"
refuses "same key twice" k peer add bobby "$bob"
refuses "bad peer name" k peer add "@bob" "$bob"
refuses "bad address" k peer add carol "$bob" --addr "host:99999"
ok "peer list" k peer list
contains "peer list shows bob" "$TMP/out" "bob"
contains "peer list shows group" "$TMP/out" "sales"
ok "peer list --json" k peer list --json
contains "peer json name" "$TMP/out" '"name": "bob"'
contains "peer json groups" "$TMP/out" '"sales"'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["node_id"]' "$TMP/out" ||
    fail "peer list --json is not valid JSON"
refuses "peer rm unknown" k peer rm nobody
ok "peer rm" k peer rm bob
ok "peer list empty" k peer list
contains "no peers" "$TMP/out" "No peers"

# Passphrase-protected node: needed to open, wrong one refused, id works without it.
export KITH_PASSPHRASE="correct horse"
ok "init with passphrase" k --home "$TMP/locked" init --name carol --passphrase
unset KITH_PASSPHRASE
ok "id without passphrase" k --home "$TMP/locked" id
refuses "list without passphrase" k --home "$TMP/locked" list </dev/null
KITH_PASSPHRASE=wrong refuses "wrong passphrase" k --home "$TMP/locked" list
contains "wrong passphrase says so" "$TMP/err" "wrong passphrase"
KITH_PASSPHRASE="correct horse" ok "right passphrase" k --home "$TMP/locked" list
if grep -q "carol" "$TMP/locked/identity.key"; then fail "name in key file"; fi

refuses "no node" k --home "$TMP/nothing" list
contains "no node says init" "$TMP/err" "kith init"
refuses "unknown command" k frobnicate
refuses "unknown option" k list --frob

# --help works for every command and documents its options.
for c in init id peer add edit show list search log rm share unshare import export serve sync status pair send receive help; do
    ok "$c --help" k "$c" --help
    contains "$c --help has usage" "$TMP/out" "usage: kith $c"
done
ok "kith --help" k --help
ok "help fields" k help fields
contains "fields list influence" "$TMP/out" "influence"
finish
