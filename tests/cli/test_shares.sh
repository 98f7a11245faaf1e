#!/usr/bin/env bash
# Shares and peers: shares follow a peer's key, not its name (a removed peer's shares go
# with it, and a node that later takes the name inherits nothing); peer rm asks on a
# terminal and says what it unshared.
. "$(dirname "$0")/lib.sh"

node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
mk() {
    node "$1" init --name "$1" >/dev/null
    eval "id_$1=\$(node $1 id | head -1)"
}
# on_tty ANSWER HOME ARGS...: runs kith on a pseudo-terminal, typing ANSWER and Enter when
# it asks; its output (both streams) goes to $TMP/out, its exit status is returned.
on_tty() {
    python3 - "$@" >"$TMP/out" 2>&1 <<'PY'
import os, pty, sys
answer, home, args = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(os.environ["KITH"], [os.environ["KITH"], "--home", home] + args)
out = b""
sent = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"[y/N]" in out:
        os.write(fd, answer.encode() + b"\n")
        sent = True
sys.stdout.write(out.decode(errors="replace"))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
PY
}

mk alice
mk bob
mk impostor
mk carol

node alice peer add bob "$id_bob" >/dev/null
node alice peer add carol "$id_carol" --group sales >/dev/null
rec=$(node alice add person --name "Direct Share" --share bob | head -1)
node alice add person --name "Via Group" --share @sales >/dev/null
ok "shown with bob" node alice show "$rec"
contains "bob in the audience" "$TMP/out" "bob (editor)"

# Without a terminal, peer rm goes ahead and says what it unshared.
ok "peer rm without a terminal" node alice peer rm bob </dev/null
contains "rm counts the records" "$TMP/out" "it was shared 1 record, no longer shared with it"
ok "show after rm" node alice show "$rec"
contains "nobody left" "$TMP/out" "nobody"

# A stranger added under the freed name gets nothing that was shared with the old bob.
ok "impostor takes the name" node alice peer add bob "$id_impostor"
ok "show after re-add" node alice show "$rec"
lacks "impostor not in the audience" "$TMP/out" "bob (editor)"
contains "still nobody" "$TMP/out" "nobody"
ok "log after re-add" node alice log "$rec"
same "no audience op for the impostor" "$(grep -c 'shared with' "$TMP/out")" "2"

# On a terminal, peer rm asks first: no keeps the peer, yes removes it.
checks=$((checks + 1))
on_tty n "$TMP/alice" peer rm carol && fail "peer rm answered no exited 0"
contains "the question names the records" "$TMP/out" "1 of your records is shared with carol"
contains "not removed" "$TMP/out" "Not removed."
ok "carol still a peer" node alice peer list
contains "carol kept" "$TMP/out" "carol"
checks=$((checks + 1))
on_tty y "$TMP/alice" peer rm carol || fail "peer rm answered yes failed"
contains "removed after yes" "$TMP/out" "Removed peer carol; it was shared 1 record"
ok "peer list after yes" node alice peer list
lacks "carol gone" "$TMP/out" "carol"
# --yes skips the question, even on a terminal.
node alice peer add carol "$id_carol" >/dev/null
checks=$((checks + 1))
on_tty n "$TMP/alice" peer rm -y carol || fail "peer rm -y on a terminal failed"
lacks "no question with -y" "$TMP/out" "[y/N]"
contains "removed with -y" "$TMP/out" "Removed peer carol; no record was shared with it."
refuses "peer rm of a stranger" node alice peer rm carol
finish
