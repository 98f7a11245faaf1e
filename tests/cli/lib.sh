# Shared by the command-line tests: a scratch directory removed on exit, and checks that
# print what went wrong. $KITH is the kith binary (set by ctest).
set -u
: "${KITH:?set KITH to the kith binary}"
TMP=$(mktemp -d /tmp/kith-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "keeping $TMP" >&2
export KITH_HOME="$TMP/home"
unset KITH_PASSPHRASE XDG_DATA_HOME
failures=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# ok DESCRIPTION COMMAND...: the command must succeed.
ok() {
    local what=$1
    shift
    checks=$((checks + 1))
    if ! "$@" >"$TMP/out" 2>"$TMP/err"; then
        fail "$what: '$*' exited $?"
        sed 's/^/    /' "$TMP/err" >&2
    fi
}

# refuses DESCRIPTION COMMAND...: the command must fail with a message on stderr.
refuses() {
    local what=$1
    shift
    checks=$((checks + 1))
    if "$@" >"$TMP/out" 2>"$TMP/err"; then
        fail "$what: '$*' succeeded but should have failed"
    elif [ ! -s "$TMP/err" ]; then
        fail "$what: '$*' failed without saying why"
    fi
}

# contains DESCRIPTION FILE TEXT: FILE must contain TEXT (fixed string).
contains() {
    checks=$((checks + 1))
    grep -qF -- "$3" "$2" || { fail "$1: '$3' not in output:"; sed 's/^/    /' "$2" >&2; }
}

lacks() {
    checks=$((checks + 1))
    ! grep -qF -- "$3" "$2" || { fail "$1: '$3' should not be in output:"; sed 's/^/    /' "$2" >&2; }
}

same() {
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
}

k() {
    "$KITH" "$@"
}

finish() {
    echo "$checks checks, $failures failed"
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" -eq 0 ]
}
