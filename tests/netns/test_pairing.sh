#!/usr/bin/env bash
# Pairing over a private LAN segment: the right code pairs both sides; a wrong code
# fails on both and adds no one.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
netns_setup 3
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
for n in alice bob carol; do node $n init --name $n >/dev/null; done

# Right code. alice puts the new peer in sales, where a record already waits for members.
deal=$(node alice add org --name "Sales Deal" --share @sales 2>/dev/null | head -1)
on_bg 1 "$TMP/host.out" "$KITH" --home "$TMP/alice" pair --yes --timeout 30 --group sales
host_pid=${NS_PIDS[-1]}
code=""
for _ in $(seq 100); do
    code=$(head -1 "$TMP/host.out" 2>/dev/null)
    [ -n "$code" ] && break
    sleep 0.05
done
same "the code is the first line" "$(echo "$code" | grep -cE '^[0-9]{1,2}(-[a-z]+){3}$')" "1"
ok "bob joins with the code" on 2 "$KITH" --home "$TMP/bob" pair "$code" --yes --timeout 20
contains "bob saw alice" "$TMP/out" 'The other side is "alice"'
checks=$((checks + 1))
wait "$host_pid" || fail "the host did not finish successfully"
contains "alice saw bob" "$TMP/host.out" 'The other side is "bob"'
ok "alice's peers" node alice peer list --json
contains "alice has bob" "$TMP/out" '"name": "bob"'
same "alice has bob's real key" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["node_id"])' "$TMP/out")" "$(node bob id | head -1)"
ok "bob's peers" node bob peer list --json
contains "bob has alice" "$TMP/out" '"name": "alice"'
same "bob in alice's group" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["groups"])' <(node alice peer list --json))" "['sales']"
ok "the group's record" node alice show "$deal"
contains "bob got the group's record" "$TMP/out" "@sales (editor): bob"

# Wrong code: fails on both sides, nobody is added.
on_bg 1 "$TMP/host2.out" "$KITH" --home "$TMP/alice" pair --yes --timeout 15
host_pid=${NS_PIDS[-1]}
code=""
for _ in $(seq 100); do
    code=$(head -1 "$TMP/host2.out" 2>/dev/null)
    [ -n "$code" ] && break
    sleep 0.05
done
channel=${code%%-*}
words=${code#*-}
w1=${words%%-*}
wrong="$channel-$( [ "$w1" = apple ] && echo river || echo apple )-${words#*-}"
refuses "carol with a wrong code" on 3 "$KITH" --home "$TMP/carol" pair "$wrong" --yes --timeout 20
contains "joiner told the code is wrong" "$TMP/err" "does not match"
sleep 0.5
contains "host saw the wrong attempt" "$TMP/host2.out" "wrong code"
kill "$host_pid" 2>/dev/null
wait "$host_pid" 2>/dev/null
ok "carol's peers" node carol peer list --json
same "carol added nobody" "$(tr -d ' \n' <"$TMP/out")" "[]"
ok "alice's peers" node alice peer list --json
lacks "alice did not add carol" "$TMP/out" '"name": "carol"'
refuses "malformed code" node carol pair "not-a-code"

# The unit tests of net/pairrun that open the network (tests/unit/test_pairrun.c) skip
# outside a namespace of our own; here they run, every one of them.
pairrun="$(dirname "$KITH")/tests/test_pairrun"
if [ -x "$pairrun" ]; then
    ok "test_pairrun inside a namespace" on 1 "$pairrun"
    cat "$TMP/out" "$TMP/err" >"$TMP/pairrun.txt"
    lacks "none of its tests skipped" "$TMP/pairrun.txt" "SKIPPED"
fi
finish
