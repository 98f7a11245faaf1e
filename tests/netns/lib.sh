# Test hosts on a private LAN segment: network namespaces joined by a bridge that lives
# in its own namespace. Addresses from 198.18.0.0/15 (RFC 2544 benchmarking range), so
# nothing here can reach or be mistaken for a real network. Everything is removed on exit,
# also on failure. Needs root; sourced after tests/cli/lib.sh.

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
    echo "SKIPPED: $(basename "$0") needs root and network namespaces (ip netns)" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi

NS_PREFIX="kith$$"
NS_BRIDGE="${NS_PREFIX}br"
NS_HOSTS=()
NS_PIDS=()

netns_cleanup() {
    for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    for h in "${NS_HOSTS[@]}"; do ip netns del "$h" 2>/dev/null; done
    ip netns del "$NS_BRIDGE" 2>/dev/null
    rm -rf "$TMP"
}
trap netns_cleanup EXIT

# netns_setup N: hosts h1..hN at 198.18.0.1..N/24 on one bridge.
netns_setup() {
    ip netns add "$NS_BRIDGE"
    ip -n "$NS_BRIDGE" link add br0 type bridge
    ip -n "$NS_BRIDGE" link set br0 up
    for i in $(seq "$1"); do
        local h="${NS_PREFIX}h$i"
        ip netns add "$h"
        NS_HOSTS+=("$h")
        ip link add "${NS_PREFIX}v$i" type veth peer name eth0 netns "$h"
        ip link set "${NS_PREFIX}v$i" netns "$NS_BRIDGE"
        ip -n "$NS_BRIDGE" link set "${NS_PREFIX}v$i" master br0
        ip -n "$NS_BRIDGE" link set "${NS_PREFIX}v$i" up
        ip -n "$h" link set lo up
        ip -n "$h" addr add "198.18.0.$i/24" dev eth0
        ip -n "$h" link set eth0 up
        # Broadcast and multicast need a route out of eth0; the segment has no exit.
        ip -n "$h" route add default dev eth0
    done
}

# on I CMD...: runs CMD on host I.
on() {
    local i=$1
    shift
    ip netns exec "${NS_PREFIX}h$i" "$@"
}

# on_bg I LOG CMD...: runs CMD on host I in the background, output to LOG.
on_bg() {
    local i=$1 log=$2
    shift 2
    ip netns exec "${NS_PREFIX}h$i" "$@" >"$log" 2>&1 &
    NS_PIDS+=($!)
}

# capture FILE: records every frame crossing the bridge until netns_cleanup.
capture() {
    ip netns exec "$NS_BRIDGE" tcpdump -i br0 -U -w "$1" >/dev/null 2>&1 &
    NS_PIDS+=($!)
    sleep 1
}
