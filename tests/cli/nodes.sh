# Several nodes on one machine, for the command-line tests that sync: homes under $TMP,
# daemons on free loopback ports (never anything but 127.0.0.1), all stopped on exit.
# Source after lib.sh.

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
# mk NAME: a new node; sets id_NAME to its node ID.
mk() {
    node "$1" init --name "$1" >/dev/null
    eval "id_$1=\$(node $1 id | head -1)"
}
# serve NAME: starts a daemon on a free loopback port; sets port_NAME and pid_NAME.
serve() {
    # Not through node(): $! must be kith itself, not a subshell, so that kill reaches it.
    "$KITH" --home "$TMP/$1" serve --listen 127.0.0.1:0 --no-discovery --log-level debug >"$TMP/$1.log" 2>&1 &
    pids+=($!)
    eval "pid_$1=$!"
    local port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/$1.log" | head -1)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { fail "daemon $1 did not start"; cat "$TMP/$1.log" >&2; }
    eval "port_$1=$port"
}
stop() {
    local pid
    eval "pid=\$pid_$1"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
# wait_for WHAT HOME REF TEXT: waits up to 5 s for `show REF` at HOME to contain TEXT.
wait_for() {
    checks=$((checks + 1))
    for _ in $(seq 100); do
        node "$2" show "$3" 2>/dev/null | grep -qF -- "$4" && return 0
        sleep 0.05
    done
    fail "$1: '$4' did not reach $2"
}
# never_in WHAT HOME TEXT: no file of HOME holds TEXT (the store is sealed, so this also
# catches a value that arrived at all).
never_in() {
    checks=$((checks + 1))
    grep -rqaF -- "$3" "$TMP/$2" && fail "$1: '$3' is in $2's files"
    node "$2" export json >"$TMP/never.json" 2>/dev/null
    grep -qF -- "$3" "$TMP/never.json" && fail "$1: '$3' reached $2"
    return 0
}
