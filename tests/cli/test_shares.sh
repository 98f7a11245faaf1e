#!/usr/bin/env bash
# Shares and peers: shares follow a peer's key, not its name (a removed peer's shares go
# with it, and a node that later takes the name inherits nothing); peer rm asks on a
# terminal and says what it unshared. Groups are live: a record shared with @group is
# shared with whoever is in the group now, show says so, and unshare understands it.
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
contains "rm counts the records" "$TMP/out" "Removed peer bob; 1 of your records was shared with it and no longer is."
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
contains "removed after yes" "$TMP/out" "Removed peer carol; 1 of your records was shared with it"
ok "peer list after yes" node alice peer list
lacks "carol gone" "$TMP/out" "carol"
# --yes skips the question, even on a terminal.
node alice peer add carol "$id_carol" >/dev/null
checks=$((checks + 1))
on_tty n "$TMP/alice" peer rm -y carol || fail "peer rm -y on a terminal failed"
lacks "no question with -y" "$TMP/out" "[y/N]"
contains "removed with -y" "$TMP/out" "Removed peer carol; no record was shared with it."
refuses "peer rm of a stranger" node alice peer rm carol

# ---- live groups ----
mk dave
node alice peer add carol "$id_carol" --group sales >/dev/null
node alice peer add dave "$id_dave" >/dev/null
node alice peer edit bob --group sales >/dev/null
deal=$(node alice add org --name "Big Deal" | head -1)
ok "share with a group" node alice share "$deal" --with @sales
ok "show lists the group" node alice show "$deal"
contains "the group as given, with its members" "$TMP/out" "@sales (editor): bob, carol"
# audience NAME... : the names in the record's audience must be exactly these.
audience() {
    checks=$((checks + 1))
    node alice show "$deal" --json >"$TMP/json"
    got=$(python3 -c 'import json,sys; print(" ".join(sorted(a["name"] for a in json.load(open(sys.argv[1]))["audience"])))' "$TMP/json")
    [ "$got" = "$*" ] || fail "audience: expected '$*', got '$got'"
}
audience bob carol
python3 - "$TMP/json" <<'PY' || fail "show --json shares"
import json, sys
d = json.load(open(sys.argv[1]))
ids = {a["name"]: a["node_id"] for a in d["audience"]}
assert d["shares"] == [{"target": "@sales", "role": "editor",
                        "members": [{"name": "bob", "node_id": ids["bob"]},
                                    {"name": "carol", "node_id": ids["carol"]}]}], d
PY

# Unsharing a peer who gets the record only through the group says so and changes nothing.
refuses "unshare a group member" node alice unshare "$deal" --with bob
contains "says it is through the group" "$TMP/err" "shared with bob only through @sales"
contains "says how to stop it" "$TMP/err" "kith peer edit bob --remove-group sales"
contains "or to unshare the group" "$TMP/err" "--with @sales"
audience bob carol

# A colleague who joins the group later gets the record; one who leaves loses it.
ok "dave joins sales" node alice peer edit dave --add-group sales
audience bob carol dave
ok "bob leaves sales" node alice peer edit bob --remove-group @sales
audience carol dave
ok "show after the moves" node alice show "$deal"
contains "members now" "$TMP/out" "@sales (editor): carol, dave"
refuses "remove a group it is not in" node alice peer edit bob --remove-group sales
contains "not in the group" "$TMP/err" "bob is not in group sales"

# Named and through the group: unsharing the name leaves the group's share, and says so.
ok "share with carol by name" node alice share "$deal" --with carol --read-only
ok "show both" node alice show "$deal"
contains "carol named" "$TMP/out" "carol (reader)"
ok "unshare carol by name" node alice unshare "$deal" --with carol
contains "still through the group" "$TMP/out" "carol still gets 'Big Deal' through @sales"
audience carol dave

# Unsharing the group takes its members out.
ok "unshare the group" node alice unshare "$deal" --with @sales
audience ""
refuses "unshare it again" node alice unshare "$deal" --with @sales
contains "not shared" "$TMP/err" "is not shared with @sales"

# peer edit: a rename keeps the shares (they hold the key); address and device flags.
ok "share with dave" node alice share "$deal" --with dave
ok "rename dave" node alice peer edit dave --name david --addr 127.0.0.1:5999 --self
contains "renamed" "$TMP/out" "Renamed peer dave to david"
audience david
ok "peer list after edit" node alice peer list --json
python3 - "$TMP/out" <<'PY' || fail "peer list after edit"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert "dave" not in p and p["david"]["addr"] == "127.0.0.1:5999" and p["david"]["self"] is True, p
assert p["david"]["groups"] == ["sales"], p
PY
ok "groups replaced, address dropped" node alice peer edit david --groups board,emea --no-addr --not-self
ok "peer list after the second edit" node alice peer list --json
python3 - "$TMP/out" <<'PY' || fail "peer list after the second edit"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert p["david"]["addr"] is None and p["david"]["self"] is False, p
assert p["david"]["groups"] == ["board", "emea"], p
PY
refuses "rename onto another peer" node alice peer edit david --name bob
contains "name taken" "$TMP/err" "a peer named 'bob' already exists"
refuses "edit nobody" node alice peer edit nobody --name x
refuses "nothing to change" node alice peer edit david
refuses "both self flags" node alice peer edit david --self --not-self
refuses "bad group" node alice peer edit david --group "no spaces"
refuses "bad group to share with" node alice share "$deal" --with "@no spaces"
contains "group names explained" "$TMP/err" "is not a group"
ok "peer edit --help" node alice peer edit --help
contains "help names edit" "$TMP/out" "peer edit NAME"
finish
