# Shared by scripts/demo, scripts/test and the benchmarks: install what is missing,
# then configure and build into a build folder. Sourced, not run.

KITH_PACKAGES="build-essential cmake pkg-config libsodium-dev libuv1-dev libmsgpack-dev
libsqlite3-dev libcmocka-dev libjansson-dev libxml2-dev libh2o-dev libssl-dev libqrencode-dev"

# The pkg-config names of what libkith.a links, for programs built against it by hand.
KITH_PKGCONFIG="libsodium libuv msgpack sqlite3 jansson libxml-2.0 libh2o libqrencode"

kith_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Installs the Debian packages this project needs that the machine lacks. As root it
# runs apt-get itself; otherwise it names the packages and stops.
kith_install_deps() {
    local missing=() p
    for p in $KITH_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "kith needs these Debian packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "installing ${missing[*]} ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2
}

# kith_build DIR [cmake args...]: configure (once) and build into DIR.
kith_build() {
    local dir=$1
    shift
    cmake -S "$kith_root" -B "$dir" "$@" >/dev/null &&
        cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}

# Small helpers of the benchmarks.
# ms_now: wall-clock milliseconds.
ms_now() { echo $(($(date +%s%N) / 1000000)); }
# free_port: a loopback port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# hwm PID: peak RSS of a running process (VmHWM), in MiB.
hwm() { echo $(($(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status") / 1024)); }
