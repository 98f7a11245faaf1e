#!/usr/bin/env bash
# kith's web UI and JSON API (proto/WEB.md), request by request with curl against two real
# daemons, alice and bob, peers of each other syncing on loopback: the one-time login, the
# session cookie, the CSRF token, the Origin / Sec-Fetch-Site / Host checks, the headers on
# every answer, each API call (with bob receiving what alice publishes and never what she
# keeps private), malformed requests, and the event stream. Every refused request is
# checked to have changed nothing. Each check prints ok or FAIL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
. "$(dirname "$0")/dav.sh"
command -v curl >/dev/null || { echo "curl is missing: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is missing: skipped"; exit 77; }

# t DESCRIPTION COMMAND...: one check; prints ok or FAIL.
t() {
    local what=$1
    shift
    checks=$((checks + 1))
    if "$@"; then
        echo "ok   $what"
    else
        fail "$what"
    fi
}
is() {
    [ "$1" = "$2" ] && return 0
    echo "    expected '$2', got '$1'" >&2
    [ -s "$TMP/body" ] && { head -c 600 "$TMP/body" | sed 's/^/    body: /'; echo; } >&2
    return 1
}
has() { grep -qiF -- "$2" "$1" || { echo "    '$2' not in $1:" >&2; head -c 800 "$1" | sed 's/^/    /' >&2; return 1; }; }
hasnt() { ! grep -qiF -- "$2" "$1" || { echo "    '$2' is in $1" >&2; return 1; }; }
header() { tr -d '\r' <"$TMP/headers" | sed -n "s/^$1: *//Ip" | tail -1; }
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$TMP/body" "$1"; }

# req NAME METHOD PATH [CURL ARGS...]: one request to NAME's HTTP server, with no cookie
# unless the arguments give one; headers to $TMP/headers, body to $TMP/body; prints the
# status. Every answer is checked for the security headers.
req() {
    local n=$1 m=$2 p=$3 port
    shift 3
    eval "port=\$hport_$n"
    curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --max-time 10 -X "$m" \
        "$@" "http://127.0.0.1:$port$p"
    sec_headers "$m $p"
}
# api NAME METHOD PATH [CURL ARGS...]: req with NAME's session cookie and, for writes, the
# CSRF token.
api() {
    local n=$1 m=$2 p=$3 c x
    shift 3
    eval "c=\$cookie_$n x=\$csrf_$n"
    if [ "$m" = GET ]; then
        req "$n" "$m" "$p" -b "kith_session=$c" "$@"
    else
        req "$n" "$m" "$p" -b "kith_session=$c" -H "X-Kith-CSRF: $x" "$@"
    fi
}
# The headers every answer carries. req runs in $(...) subshells, so each answer's result
# goes to files the final check reads: one line per answer, one per missing header.
sec_headers() {
    local csp
    csp=$(header Content-Security-Policy)
    echo "$1" >>"$TMP/sec_seen"
    case $csp in *"default-src 'none'"*"frame-ancestors 'none'"*) ;;
    *) echo "$1: Content-Security-Policy is '$csp'" >>"$TMP/sec_bad" ;; esac
    [ "$(header X-Content-Type-Options)" = nosniff ] ||
        echo "$1: no X-Content-Type-Options: nosniff" >>"$TMP/sec_bad"
    [ -z "$(header Access-Control-Allow-Origin)" ] ||
        echo "$1: Access-Control-Allow-Origin sent" >>"$TMP/sec_bad"
    return 0
}
no_sec_bad() {
    [ ! -s "$TMP/sec_bad" ] && return 0
    sed 's/^/    /' "$TMP/sec_bad" >&2
    return 1
}

# state NAME: what a refused request must leave alone: the records, live and deleted, with
# their ops (the private layer too).
state() {
    { node "$1" list --json; node "$1" list --json --deleted; node "$1" export json --deleted 2>/dev/null; } |
        sha256sum
}
# refused WHAT WANT NAME METHOD PATH [CURL ARGS...]: the request gets WANT, a JSON error
# sentence (for the API), and changes nothing at NAME.
refused() {
    local what=$1 want=$2 n=$3 before after code
    shift 3
    before=$(state "$n")
    code=$("$@")
    after=$(state "$n")
    checks=$((checks + 1))
    if [ "$code" != "$want" ]; then
        fail "$what: status $code, expected $want"
        { head -c 400 "$TMP/body" | sed 's/^/    body: /'; echo; } >&2
    elif [ "$before" != "$after" ]; then
        fail "$what: refused with $code but something changed"
    elif [[ $3 == /api/* ]] && ! python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert isinstance(e,str) and e' "$TMP/body" 2>/dev/null; then
        fail "$what: no JSON error sentence"
        { head -c 400 "$TMP/body" | sed 's/^/    body: /'; echo; } >&2
    else
        echo "ok   $what"
    fi
}

# serve_web NAME: a daemon with sync on $port_NAME and HTTP on a free port ($hport_NAME).
serve_web() {
    local p h
    eval "p=\$port_$1"
    h=$(free_port)
    "$KITH" --home "$TMP/$1" serve --listen "127.0.0.1:$p" --http "127.0.0.1:$h" --no-discovery \
        --log-level debug >"$TMP/$1.log" 2>&1 &
    pids+=($!)
    eval "pid_$1=$! hport_$1=$h"
    wait_http "http://127.0.0.1:$h/" || { fail "daemon $1 did not answer HTTP"; cat "$TMP/$1.log" >&2; }
}
# login NAME: a one-time link from `kith ui`, exchanged for a session; sets cookie_NAME,
# csrf_NAME and link_NAME (the path of the used link).
login() {
    local url path
    eval "csrf_$1="
    url=$(node "$1" ui | grep -o 'http://[^ ]*' | head -1)
    path=/${url#http://*/}
    eval "link_$1=\$path"
    req "$1" GET "$path" >/dev/null
    eval "cookie_$1=$(header Set-Cookie | sed -n 's/^kith_session=\([0-9a-f]*\).*/\1/p')"
    eval "cookie_hdr_$1=\$(header Set-Cookie)"
    api "$1" GET /api/session >/dev/null
    eval "csrf_$1=$(jq_ 'd["csrf"]')"
}

mk alice
mk bob
port_alice=$(free_port)
port_bob=$(free_port)
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" --group sales >/dev/null
node bob peer add alice "$id_alice" --addr "127.0.0.1:$port_alice" >/dev/null

# ---- kith ui -----------------------------------------------------------------------
t "kith ui --help" bash -c "\"$KITH\" ui --help | grep -q 'usage: kith ui'"
code=0
node alice ui >"$TMP/out" 2>"$TMP/err" || code=$?
t "kith ui without a daemon exits 1" is "$code" 1
t "kith ui without a daemon says to start one" has "$TMP/err" "kith serve"

serve_web alice
serve_web bob
login alice
login bob
t "login: session cookie" is "${#cookie_alice}" 64
t "login: cookie is HttpOnly" has <(echo "$cookie_hdr_alice") HttpOnly
t "login: cookie is SameSite=Strict" has <(echo "$cookie_hdr_alice") SameSite=Strict
t "login: csrf token" is "${#csrf_alice}" 64
t "login: the link works once (second use 403)" is "$(req alice GET "$link_alice")" 403
t "login: a made-up token 403" is "$(req alice GET "/ui/login?token=$(printf '%064d' 7)")" 403
t "login: a malformed token 403" is "$(req alice GET "/ui/login?token=zz%00")" 403
t "login: an all-zero token (as a used slot holds) 403" is "$(req alice GET "/ui/login?token=$(printf '%064d' 0)")" 403
t "login: the token with something after it 403" is "$(req alice GET "/ui/login?token=${link_alice#*token=}x")" 403
t "login: no token 403" is "$(req alice GET "/ui/login")" 403
t "login: no Set-Cookie on refusal" is "$(header Set-Cookie)" ""
t "/ui/ with the session 200" is "$(api alice GET /ui/)" 200
t "/ui/app.js 200" is "$(api alice GET /ui/app.js)" 200
t "404 for an unknown page" is "$(api alice GET /ui/nonsense.js)" 404

# A record of alice's to work on, and one of bob's shared with alice.
rec=$(node alice add person --name "Ann Example" --set org=Acme --set tags=vip | head -1)
rec=$(node alice show "$rec" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
bobrec=$(node bob add person --name "Bob's Contact" | head -1)
bobrec=$(node bob show "$bobrec" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
node bob share "$bobrec" --with alice >/dev/null

# ---- who gets in -------------------------------------------------------------------
calls="GET:/api/session GET:/api/status GET:/api/records GET:/api/records/$rec
POST:/api/records POST:/api/records/$rec/edit POST:/api/records/$rec/delete
POST:/api/records/$rec/restore POST:/api/records/$rec/share POST:/api/records/$rec/unshare
GET:/api/records/$rec/history GET:/api/peers POST:/api/import?format=vcard GET:/api/qr.svg
GET:/api/events"
for c in $calls; do
    m=${c%%:*} p=${c#*:}
    refused "no cookie: $m $p 401" 401 alice req alice "$m" "$p" -H "X-Kith-CSRF: $csrf_alice" -d '{}'
    refused "wrong cookie: $m $p 401" 401 alice req alice "$m" "$p" -b "kith_session=$(printf '%064d' 1)" -H "X-Kith-CSRF: $csrf_alice" -d '{}'
done
refused "bob's session on alice 401" 401 alice req alice GET /api/records -b "kith_session=$cookie_bob"
refused "bob's session on alice, a write 401" 401 alice req alice POST /api/records -b "kith_session=$cookie_bob" -H "X-Kith-CSRF: $csrf_bob" -d '{"kind":"person","name":"X"}'
refused "an all-zero cookie (as an empty slot holds) 401" 401 alice req alice GET /api/records -b "kith_session=$(printf '%064d' 0)"
refused "a path over 256 bytes 414" 414 alice api alice GET "/api/records/$(printf 'a%.0s' $(seq 300))"
refused "a malformed cookie 401" 401 alice req alice GET /api/records -b "kith_session=xyz"

# ---- Host ---------------------------------------------------------------------------
refused "foreign Host on /ui/ 421" 421 alice api alice GET /ui/ -H "Host: evil.example:$hport_alice"
refused "foreign Host on /api/session 421" 421 alice api alice GET /api/session -H "Host: evil.example"
refused "foreign Host on a POST 421" 421 alice api alice POST /api/records -H "Host: attacker.test:$hport_alice" -d '{"kind":"person","name":"Host X"}'
refused "Host 127.0.0.1.evil.example 421" 421 alice api alice GET /api/records -H "Host: 127.0.0.1.evil.example"
t "Host localhost:PORT accepted" is "$(api alice GET /api/session -H "Host: localhost:$hport_alice")" 200
t "Host 127.0.0.1:PORT accepted" is "$(api alice GET /api/session -H "Host: 127.0.0.1:$hport_alice")" 200

# ---- writes: CSRF, Origin, Sec-Fetch-Site --------------------------------------------
new='{"kind":"person","name":"Csrf Test"}'
refused "POST without X-Kith-CSRF 403" 403 alice req alice POST /api/records -b "kith_session=$cookie_alice" -d "$new"
refused "POST with a wrong X-Kith-CSRF 403" 403 alice req alice POST /api/records -b "kith_session=$cookie_alice" -H "X-Kith-CSRF: $(printf '%064d' 3)" -d "$new"
refused "POST with bob's CSRF token 403" 403 alice req alice POST /api/records -b "kith_session=$cookie_alice" -H "X-Kith-CSRF: $csrf_bob" -d "$new"
refused "POST with an empty X-Kith-CSRF 403" 403 alice req alice POST /api/records -b "kith_session=$cookie_alice" -H "X-Kith-CSRF;" -d "$new"
refused "right CSRF, Origin evil.example 403" 403 alice api alice POST /api/records -H "Origin: http://evil.example" -d "$new"
refused "right CSRF, Origin of another port 403" 403 alice api alice POST /api/records -H "Origin: http://127.0.0.1:1" -d "$new"
refused "right CSRF, Origin null 403" 403 alice api alice POST /api/records -H "Origin: null" -d "$new"
refused "delete with a wrong CSRF 403" 403 alice req alice POST "/api/records/$rec/delete" -b "kith_session=$cookie_alice" -H "X-Kith-CSRF: $csrf_bob" -d '{}'
refused "Sec-Fetch-Site: cross-site on a POST 403" 403 alice api alice POST /api/records -H "Sec-Fetch-Site: cross-site" -d "$new"
refused "Sec-Fetch-Site: cross-site on a GET 403" 403 alice api alice GET /api/records -H "Sec-Fetch-Site: cross-site"
refused "Sec-Fetch-Site: same-site on a GET 403" 403 alice api alice GET "/api/records/$rec" -H "Sec-Fetch-Site: same-site"
t "right CSRF and own Origin: 201" is "$(api alice POST /api/records -H "Origin: http://127.0.0.1:$hport_alice" -H "Sec-Fetch-Site: same-origin" -d "$new")" 201
t "the record is there" has <(node alice list --json) "Csrf Test"

# ---- the API --------------------------------------------------------------------------
t "create 201" is "$(api alice POST /api/records -d '{"kind":"person","name":"Web Person","set":{"org":"Globex","tags":["web"],"emails":["wp@example.org"]},"private":{"note":"secret-note-1"}}')" 201
web=$(jq_ 'd["id"]')
t "create gives an id" is "${#web}" 32
t "get 200" is "$(api alice GET "/api/records/$web")" 200
t "get: name" has "$TMP/body" "Web Person"
t "get: mine" is "$(jq_ 'd["mine"]')" True
t "edit: set, add, private 200" is "$(api alice POST "/api/records/$web/edit" -d '{"changes":[{"op":"set","field":"title","value":"Buyer"},{"op":"add","field":"tags","value":"lead"},{"op":"private","field":"phones","value":"+1 555 0199"}]}')" 200
node alice show "$web" --json >"$TMP/show.json"
t "show: the private phone is private" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "555 0199" in json.dumps(d["private"]); assert "phones" in d["private_fields"]' "$TMP/show.json"
t "share with bob 200" is "$(api alice POST "/api/records/$web/share" -d '{"target":"bob"}')" 200
t "bob sees the shared record" bash -c "for i in \$(seq 100); do \"$KITH\" --home '$TMP/bob' list 2>/dev/null | grep -q 'Web Person' && exit 0; sleep 0.05; done; exit 1"
wait_for "bob gets the title" bob "$web" Buyer
never_in "the private phone never reaches bob" bob "555 0199"
never_in "the private note never reaches bob" bob "secret-note-1"
t "publish 200" is "$(api alice POST "/api/records/$web/edit" -d '{"changes":[{"op":"publish","field":"phones"}]}')" 200
node alice show "$web" --json >"$TMP/show.json"
t "show: the published phone is shared" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "555 0199" not in json.dumps(d["private"]); assert "phones" not in d["private_fields"]; assert "555 0199" in json.dumps(d["phones"])' "$TMP/show.json"
wait_for "bob gets the published phone" bob "$web" "555 0199"
never_in "the private note still never reaches bob" bob "secret-note-1"
t "share with @sales 200" is "$(api alice POST "/api/records/$rec/share" -d '{"target":"@sales","role":"reader"}')" 200
t "bob gets the group's record" bash -c "for i in \$(seq 100); do \"$KITH\" --home '$TMP/bob' list 2>/dev/null | grep -q '^${rec:0:8} ' && exit 0; sleep 0.05; done; exit 1"
# A record made before bob synced, shared with him afterwards, reaches him whole (its older
# ops follow its audience op), not "(unnamed)".
t "bob gets the group's record with its name" bash -c "for i in \$(seq 100); do \"$KITH\" --home '$TMP/bob' list 2>/dev/null | grep -q 'Ann Example' && exit 0; sleep 0.05; done; exit 1"
t "unshare bob 200" is "$(api alice POST "/api/records/$web/unshare" -d '{"target":"bob"}')" 200
refused "unshare again 404" 404 alice api alice POST "/api/records/$web/unshare" -d '{"target":"bob"}'
refused "bob deletes alice's record 403" 403 bob api bob POST "/api/records/$rec/delete" -d '{}'
refused "bob shares alice's record 403" 403 bob api bob POST "/api/records/$rec/share" -d '{"target":"alice"}'
t "delete 200" is "$(api alice POST "/api/records/$web/delete" -d '{}')" 200
t "deleted list has it" bash -c "[ \"\$(curl -s -b kith_session=$cookie_alice 'http://127.0.0.1:$hport_alice/api/records?deleted=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 1 ]"
t "restore 200" is "$(api alice POST "/api/records/$web/restore" -d '{}')" 200
t "history 200" is "$(api alice GET "/api/records/$web/history")" 200
t "history has the ops" python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); assert len(h) >= 4' "$TMP/body"

total() { api alice GET "/api/records?$1" >/dev/null; jq_ 'd["total"]'; }
t "list: all" is "$(total '')" 4
t "list: q" is "$(total 'q=web%20person')" 1
t "list: kind=org" is "$(total 'kind=org')" 0
t "list: kind=person" is "$(total 'kind=person')" 4
t "list: tag" is "$(total 'tag=lead')" 1
t "list: org" is "$(total 'org=GLOBEX')" 1
t "list: owner=me" is "$(total 'owner=me')" 3
t "list: owner=bob" is "$(total 'owner=bob')" 1
t "list: shared=@sales" is "$(total 'shared=%40sales')" 1
t "list: stale" is "$(total 'stale=30')" 4
t "list: deleted" is "$(total 'deleted=1')" 0
t "list: offset/limit" is "$(api alice GET '/api/records?offset=1&limit=2' >/dev/null; jq_ 'len(d["items"])')" 2
refused "list: limit=0 400" 400 alice api alice GET '/api/records?limit=0'
refused "list: limit=501 400" 400 alice api alice GET '/api/records?limit=501'
t "peers 200" is "$(api alice GET /api/peers)" 200
t "peers: bob online" is "$(jq_ '[p["online"] for p in d["peers"] if p["name"]=="bob"][0]')" True
t "status 200" is "$(api alice GET /api/status)" 200
t "qr.svg 200" is "$(api alice GET /api/qr.svg)" 200
t "qr.svg is SVG" has "$TMP/body" "<svg"
t "qr.svg content type" has <(header Content-Type) image/svg+xml
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Imported Ivy\r\nEMAIL:ivy@example.org\r\nEND:VCARD\r\n' >"$TMP/ivy.vcf"
t "import 200" is "$(api alice POST '/api/import?format=vcard' --data-binary "@$TMP/ivy.vcf")" 200
t "import: added 1" is "$(jq_ 'd["added"]')" 1
before=$(state alice)
t "import again 200" is "$(api alice POST '/api/import?format=vcard' --data-binary "@$TMP/ivy.vcf")" 200
t "import again: unchanged 1" is "$(jq_ 'd["unchanged"]')" 1
t "import again: nothing written" is "$(state alice)" "$before"
head -c 3000 /dev/urandom >"$TMP/junk"
refused "import junk 400" 400 alice api alice POST '/api/import?format=vcard' --data-binary "@$TMP/junk"

# ---- malformed input -------------------------------------------------------------------
E="/api/records/$rec/edit"
refused "not JSON 400" 400 alice api alice POST /api/records -d 'kind=person'
refused "unknown member 400" 400 alice api alice POST /api/records -d '{"kind":"person","name":"X","colour":1}'
refused "duplicate key 400" 400 alice api alice POST /api/records -d '{"kind":"person","name":"X","name":"Y"}'
python3 -c 'import sys; sys.stdout.write("{\"kind\":\"person\",\"name\":\"" + "x"*(2<<20) + "\"}")' >"$TMP/big.json"
refused "2 MiB body 413" 413 alice api alice POST /api/records --data-binary "@$TMP/big.json"
refused "a string for a list 400" 400 alice api alice POST "$E" -d '{"changes":"set"}'
refused "values a string 400" 400 alice api alice POST "$E" -d '{"changes":[{"op":"add","field":"tags","values":"x"}]}'
refused "unknown field 400" 400 alice api alice POST "$E" -d '{"changes":[{"op":"set","field":"shoe_size","value":"9"}]}'
refused "influence=9 400" 400 alice api alice POST "$E" -d '{"changes":[{"op":"set","field":"influence","value":9}]}'
refused "unknown op 400" 400 alice api alice POST "$E" -d '{"changes":[{"op":"explode","field":"title","value":"x"}]}'
refused "id not hex 404" 404 alice api alice GET /api/records/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz
refused "id not hex, a write 404" 404 alice api alice POST /api/records/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz/edit -d '{"changes":[{"op":"set","field":"title","value":"x"}]}'
refused "/api/records/ID/nonsense 404" 404 alice api alice POST "/api/records/$rec/nonsense" -d '{}'
refused "PUT on a record 405" 405 alice api alice PUT "/api/records/$rec" -d '{}'
refused "DELETE on a record 405" 405 alice api alice DELETE "/api/records/$rec"
refused "bad percent escape 400" 400 alice api alice GET '/api/records?q=%zz'

# ---- every kind of answer carried the headers ------------------------------------------
t "security headers on all $(wc -l <"$TMP/sec_seen") answers (200, 201, 303, 400, 401, 403, 404, 405, 413, 421; assets, SVG, errors)" no_sec_bad

# ---- live events --------------------------------------------------------------------------
curl -s -N --max-time 12 -b "kith_session=$cookie_alice" \
    "http://127.0.0.1:$hport_alice/api/events" >"$TMP/events" 2>/dev/null &
ev=$!
sleep 0.5
node bob edit "$bobrec" --set title=Changed-By-Bob >/dev/null
got=""
for _ in $(seq 30); do
    grep -q '^event: change' "$TMP/events" && { got=1; break; }
    sleep 0.1
done
t "event: change arrives within 3 s of bob's edit" is "$got" 1
wait_for "bob's edit reached alice" alice "$bobrec" Changed-By-Bob
stop bob
got=""
for _ in $(seq 50); do
    grep -q '^event: status' "$TMP/events" && { got=1; break; }
    sleep 0.1
done
t "event: status when bob's daemon stops" is "$got" 1
kill "$ev" 2>/dev/null
wait "$ev" 2>/dev/null
t "peers: bob offline" is "$(api alice GET /api/peers >/dev/null; jq_ '[p["online"] for p in d["peers"] if p["name"]=="bob"][0]')" False

finish
