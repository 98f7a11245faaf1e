#!/usr/bin/env bash
# Pairing from the web page (proto/WEB.md, "Pairing") over a private LAN segment: alice's
# daemon hosts through POST /api/pair and shows the code; bob joins with `kith pair CODE`;
# the page shows bob's name and fingerprint and adds him only once the user accepts. A
# refused pairing adds no one; a cancelled one voids its code.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
netns_setup 2
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
for n in alice bob carol; do node $n init --name $n >/dev/null; done

on_bg 1 "$TMP/alice.log" "$KITH" --home "$TMP/alice" serve --listen 198.18.0.1:5484 \
    --http 127.0.0.1:5485 --no-discovery
login=""
for _ in $(seq 100); do
    login=$(node alice ui 2>/dev/null | grep -o 'http://[^ ]*') && break
    sleep 0.05
done
[ -n "$login" ] || { fail "alice's daemon gave no login link"; cat "$TMP/alice.log" >&2; finish; }
cookie=$(on 1 curl -s -D - -o /dev/null "$login" | sed -n 's/^Set-Cookie: kith_session=\([0-9a-f]*\).*/\1/p')
csrf=$(on 1 curl -s -b "kith_session=$cookie" http://127.0.0.1:5485/api/session |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
# api METHOD PATH [BODY]: the answer's body into $TMP/body, its status on stdout.
api() {
    on 1 curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -b "kith_session=$cookie" \
        -H "X-Kith-CSRF: $csrf" -H "Origin: http://127.0.0.1:5485" -H "Host: 127.0.0.1:5485" \
        ${3:+-d "$3"} "http://127.0.0.1:5485$2"
}
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$TMP/body" "$1"; }
# until_state STATE: polls GET /api/pair for up to 20 s.
until_state() {
    for _ in $(seq 200); do
        api GET /api/pair >/dev/null
        [ "$(field state)" = "$1" ] && return 0
        sleep 0.1
    done
    echo "    state stayed $(field state): $(field message)" >&2
    return 1
}
t() { checks=$((checks + 1)); if "${@:2}"; then echo "ok   $1"; else fail "$1"; fi; }

same "start hosting: 200" "$(api POST /api/pair '{}')" 200
t "a code is shown" until_state waiting
code=$(field code)
same "the code looks like one" "$(echo "$code" | grep -cE '^[0-9]{1,2}(-[a-z]+){3}$')" 1
same "a second start while one runs: 409" "$(api POST /api/pair '{}')" 409
same "an answer before the code matched: 409" "$(api POST /api/pair/answer '{"accept":true}')" 409
same "without the CSRF header: 403" \
    "$(on 1 curl -s -o /dev/null -w '%{http_code}' -X POST -b "kith_session=$cookie" -d '{}' http://127.0.0.1:5485/api/pair/cancel)" 403

on_bg 2 "$TMP/bob.out" "$KITH" --home "$TMP/bob" pair "$code" --yes --timeout 20
bob_pid=${NS_PIDS[-1]}
t "the code matched: the page asks" until_state confirm
same "it names bob" "$(field peer)" bob
same "with bob's fingerprint" "$(field fingerprint)" "$(node bob id | sed -n 's/^fingerprint: *//p')"
ok "not added before the user says so" node alice peer list --json
same "no peer yet" "$(tr -d ' \n' <"$TMP/out")" "[]"
same "accept: 200" "$(api POST /api/pair/answer '{"accept":true}')" 200
t "added" until_state added
same "as bob" "$(field added_as)" bob
checks=$((checks + 1))
wait "$bob_pid" || fail "bob's kith pair did not succeed"
ok "alice's peers" node alice peer list --json
same "alice has bob's real key" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["node_id"])' "$TMP/out")" "$(node bob id | head -1)"
api GET /api/peers >/dev/null
contains "the page's peer list has bob" "$TMP/body" '"name":"bob"'

# Refused: the code matches, the user says no, nobody is added.
same "host again: 200" "$(api POST /api/pair '{}')" 200
t "a new code" until_state waiting
code=$(field code)
on_bg 2 "$TMP/carol.out" "$KITH" --home "$TMP/carol" pair "$code" --yes --timeout 20
t "carol's turn to be confirmed" until_state confirm
same "it names carol" "$(field peer)" carol
same "refuse: 200" "$(api POST /api/pair/answer '{"accept":false}')" 200
t "failed: not added" until_state failed
ok "alice's peers" node alice peer list --json
lacks "carol was not added" "$TMP/out" carol

# Cancelled: the code is void; a joiner with it finds nobody.
same "host a third time: 200" "$(api POST /api/pair '{}')" 200
t "a third code" until_state waiting
code=$(field code)
same "cancel: 200" "$(api POST /api/pair/cancel '{}')" 200
t "cancelled" until_state cancelled
refuses "carol with the cancelled code finds nobody" on 2 "$KITH" --home "$TMP/carol" pair "$code" --yes --timeout 3
same "join with a malformed code: 400" "$(api POST /api/pair '{"code":"not-a-code"}')" 400
contains "it says why" "$TMP/body" "not a pairing code"
finish
