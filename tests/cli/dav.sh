# CardDAV tests: servers on loopback (kith serve --dav, or Radicale as the reference),
# vdirsyncer and khard configured in $TMP, curl helpers. Source after lib.sh and nodes.sh.
#
# DAV_SERVER=radicale runs a test against Radicale instead of kith (to check that the
# test itself is right: the checks that need kith on the server side are skipped then).
# DAV_RADICALE_NOAUTH=1 with it runs Radicale without authentication (the 401 checks
# must then FAIL).

DAV_SERVER=${DAV_SERVER:-kith}

# need CMD...: skips the whole test (exit 77, as ctest reports skips) without CMD.
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || { echo "SKIP: $c is not installed" >&2; exit 77; }
    done
}
need curl vdirsyncer khard
[ "$DAV_SERVER" = radicale ] && need radicale

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: up to 10 s for anything listening to answer HTTP at URL.
wait_http() {
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" != 000 ] && return 0
        sleep 0.05
    done
    return 1
}

# serve_dav NAME [PORT]: a kith daemon with sync on loopback PORT (a free one unless given;
# give it when peers must know it before the daemon starts) and CardDAV on a free port;
# sets port_NAME, dport_NAME, pid_NAME, url_NAME (the server's root URL), user_NAME,
# pass_NAME (from `kith dav --json`) and book_NAME (the URL of its "all" book).
serve_dav() {
    local p=${2:-} d
    [ -n "$p" ] || p=$(free_port)
    d=$(free_port)
    "$KITH" --home "$TMP/$1" serve --listen "127.0.0.1:$p" --dav "127.0.0.1:$d" --no-discovery \
        --log-level debug >"$TMP/$1.log" 2>&1 &
    pids+=($!)
    eval "pid_$1=$! port_$1=$p dport_$1=$d url_$1=http://127.0.0.1:$d/"
    eval "book_$1=http://127.0.0.1:$d/dav/books/all/"
    if ! wait_http "http://127.0.0.1:$d/"; then
        fail "daemon $1 did not answer HTTP on 127.0.0.1:$d"
        cat "$TMP/$1.log" >&2
        return 1
    fi
    node "$1" dav --json >"$TMP/$1.dav.json" || { fail "kith dav --json at $1"; return 1; }
    eval "$(python3 - "$TMP/$1.dav.json" "$1" <<'PY'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
n = sys.argv[2]
print("user_%s=%s pass_%s=%s" % (n, shlex.quote(d["user"]), n, shlex.quote(d["password"])))
PY
)"
}

# start_radicale NAME: Radicale 3 on a free loopback port, one address book "book" for
# the user "test"; sets the same variables as serve_dav, plus coll_NAME (the folder of
# the book's .vcf files).
start_radicale() {
    local d=$TMP/$1 p auth=htpasswd
    p=$(free_port)
    mkdir -p "$d/collections/collection-root/test/book"
    echo '{"tag": "VADDRESSBOOK", "D:displayname": "book"}' \
        >"$d/collections/collection-root/test/book/.Radicale.props"
    printf 'test:radicale-pass\n' >"$d/users"
    [ -n "${DAV_RADICALE_NOAUTH:-}" ] && auth=none
    cat >"$d/config" <<EOF
[server]
hosts = 127.0.0.1:$p
max_content_length = 1048576
[auth]
type = $auth
htpasswd_filename = $d/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $d/collections
[logging]
level = warning
EOF
    radicale -C "$d/config" >"$TMP/$1.log" 2>&1 &
    pids+=($!)
    eval "pid_$1=$! dport_$1=$p url_$1=http://127.0.0.1:$p/ user_$1=test pass_$1=radicale-pass"
    eval "book_$1=http://127.0.0.1:$p/test/book/ coll_$1=$d/collections/collection-root/test/book"
    wait_http "http://127.0.0.1:$p/" || { fail "radicale did not start"; cat "$TMP/$1.log" >&2; }
}

# vds_setup NAME COLLECTION: a vdirsyncer config ($TMP/NAME.vds/config) pairing the
# server NAME (url_/user_/pass_NAME) with the folder $TMP/NAME.vds/cards/COLLECTION, no
# conflict_resolution; and a khard config ($TMP/NAME.vds/khard.conf) on that folder.
# Sets cards_NAME to the folder.
vds_setup() {
    local d=$TMP/$1.vds url user pass
    eval "url=\$url_$1 user=\$user_$1 pass=\$pass_$1"
    mkdir -p "$d"
    cat >"$d/config" <<EOF
[general]
status_path = "$d/status/"

[pair contacts]
a = "server"
b = "local"
collections = ["$2"]

[storage server]
type = "carddav"
url = "$url"
username = "$user"
password = "$pass"

[storage local]
type = "filesystem"
path = "$d/cards/"
fileext = ".vcf"
EOF
    cat >"$d/khard.conf" <<EOF
[addressbooks]
[[$2]]
path = $d/cards/$2/

[general]
default_action = list
editor = /bin/false
merge_editor = /bin/false
EOF
    eval "cards_$1=$d/cards/$2"
}
# vds NAME ARGS...: vdirsyncer with NAME's config; both streams to $TMP/vds.out.
vds() {
    local n=$1
    shift
    vdirsyncer -c "$TMP/$n.vds/config" "$@" >"$TMP/vds.out" 2>&1 </dev/null
}
# vds_discover NAME: `vdirsyncer discover`, answering yes to creating the local folder.
vds_discover() {
    { yes || true; } | vdirsyncer -c "$TMP/$1.vds/config" discover >"$TMP/vds.out" 2>&1
}
khard_of() {
    khard -c "$TMP/$1.vds/khard.conf" "${@:2}"
}

# card_file NAME TEXT: the one .vcf in NAME's client folder holding TEXT (empty if none).
card_file() {
    local f
    eval "f=\$cards_$1"
    grep -lF -- "$2" "$f"/*.vcf 2>/dev/null | head -1
}

# rcurl NAME ARGS...: curl at NAME's server with its credentials; the body goes to
# $TMP/body, headers to $TMP/headers; prints the status code.
rcurl() {
    local user pass
    eval "user=\$user_$1 pass=\$pass_$1"
    curl -s -u "$user:$pass" -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "${@:2}"
}

# ops_count NAME: how many ops NAME's store holds over all its records (deleted ones too).
ops_count() {
    node "$1" export json --deleted 2>/dev/null |
        python3 -c 'import json,sys; print(sum(len(r.get("ops", [])) for r in json.load(sys.stdin)))'
}
