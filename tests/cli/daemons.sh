# Shared by the command-line tests that run real daemons on loopback (sourced after
# lib.sh): nodes under $TMP, daemons on free 127.0.0.1 ports, killed on exit.

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
mk() {
    node "$1" init --name "$1" >/dev/null
    eval "id_$1=\$(node $1 id | head -1)"
}
# serve NAME: starts a daemon on a free loopback port; sets port_NAME.
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

