#!/usr/bin/env bash
# kith backup and kith restore --backup: a home with records, private fields, peers,
# shares, a deleted record and another's record, backed up while its daemon runs (idle,
# then while the CLI and a peer write), restored elsewhere and compared; wrong
# passphrases, damaged and truncated files and non-empty homes refused, creating nothing;
# a node with its own passphrase; kith backup and kith restore killed with SIGKILL in the
# middle (slowed down by the test hook $KITH_TEST_STEP_DELAY_MS, proto/BACKUP.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
export KITH_BACKUP_PASSPHRASE="tr0ub4dor and then some"
# Scratch snapshots go here, where the test can see that none is left behind.
export TMPDIR="$TMP/scratch"
mkdir "$TMPDIR"

mk alice
mk bob
mk carol
node alice peer add bob "$id_bob" --group sales >/dev/null
node alice peer add carol "$id_carol" >/dev/null
node bob peer add alice "$id_alice" >/dev/null
node alice add person --name "Ingrid Ødegård" --set title="Head of Procurement" \
    --set influence=5 --private politics="rivalry with the CFO" --share @sales >/dev/null
node alice add org --name "Acme Widgets" --set urls=https://acme.example >/dev/null
node alice share "Acme Widgets" --with carol --read-only >/dev/null
node alice add person --name "Gone Person" >/dev/null
node alice rm "Gone Person" --yes >/dev/null
python3 - "$TMP/cards.vcf" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Card {i}\r\nEMAIL:c{i}@example.com\r\nEND:VCARD\r\n")
PY
node alice import vcard "$TMP/cards.vcf" >/dev/null
# A small file of the home besides the identity and the store: kith keeps its own there
# too (kith.state), and each is backed up the same way.
printf 'extra 1\n' >"$TMP/alice/extra.dat"
chmod 600 "$TMP/alice/extra.dat"
# The files a backup holds: all but SQLite's side files and the daemon's socket.
home_files() { ls "$1" | grep -vE -- '-(wal|shm|journal)$|^kith\.sock$' | tr '\n' ' '; }

# alice's daemon runs throughout; bob holds a record shared with alice and syncs it.
serve alice
node bob peer edit alice --addr "127.0.0.1:$port_alice" >/dev/null
node bob add person --name "Bob's Contact" --set title=CTO --share alice >/dev/null
ok "bob syncs with alice's daemon" node bob sync alice
wait_for "bob's record reaches alice" alice "Bob's Contact" "CTO"

# ---- a backup while the daemon runs, restored elsewhere --------------------------------
ok "backup while serve runs" node alice backup "$TMP/a.kbk"
contains "backup names the node" "$TMP/out" "$id_alice"
same "backup is 0600" "$(stat -c %a "$TMP/a.kbk")" "600"
same "no temporary files left" "$(ls "$TMP" | grep -c 'a\.kbk\.')" "0"
same "no scratch snapshot left" "$(ls -A "$TMPDIR")" ""
refuses "backup over an existing file" node alice backup "$TMP/a.kbk"
contains "says --force" "$TMP/err" "--force"
ok "backup --force" node alice backup "$TMP/a.kbk" --force
refuses "restore into the home of a node" k --home "$TMP/alice" restore --backup "$TMP/a.kbk"
contains "says a node is there" "$TMP/err" "already holds a kith node"
mkdir "$TMP/busy" && echo x >"$TMP/busy/file"
refuses "restore into a non-empty directory" k restore --backup "$TMP/a.kbk" --home "$TMP/busy"
contains "says not empty" "$TMP/err" "not empty"
ok "restore into a new directory" k restore --backup "$TMP/a.kbk" --home "$TMP/new/alice"
contains "restore says checked" "$TMP/out" "checked"
same "restored home is 0700" "$(stat -c %a "$TMP/new/alice")" "700"
same "restored files" "$(home_files "$TMP/new/alice")" "$(home_files "$TMP/alice")"
home_files "$TMP/new/alice" >"$TMP/files"
contains "restored files include the extra one" "$TMP/files" "extra.dat"
same "extra file restored" "$(cat "$TMP/new/alice/extra.dat")" "extra 1"
same "nothing else beside it" "$(ls -A "$TMP/new" | tr '\n' ' ')" "alice "
k restore --backup "$TMP/a.kbk" --home "$TMP/new/alice" >/dev/null 2>"$TMP/err" &&
    fail "a second restore over the restored home"
contains "second restore refused" "$TMP/err" "already holds a kith node"
# Both homes say the same things.
r() { "$KITH" --home "$TMP/new/alice" "$@"; }
ingrid=$(node alice search odegard | cut -c1-8)
acme=$(node alice search acme | cut -c1-8)
bobs=$(node alice search "bob's contact" | cut -c1-8)
gone=$(node alice list --deleted | cut -c1-8)
for cmd in "id" "id --json" "list" "list --json" "list --deleted" "peer list --json" \
    "export json" "search odegard" "show $ingrid --json" "show $acme --json" \
    "show $bobs --json" "show $gone --json" "log $ingrid --json" "log $bobs"; do
    # shellcheck disable=SC2086
    a=$(node alice $cmd 2>&1) b=$(r $cmd 2>&1)
    checks=$((checks + 1))
    [ "$a" = "$b" ] || { fail "'$cmd' differs after restore"; diff <(echo "$a") <(echo "$b") | head >&2; }
done
r show "$ingrid" >"$TMP/show"
contains "private field restored" "$TMP/show" "rivalry with the CFO"
contains "group share restored" "$TMP/show" "@sales"
ok "doctor on the restored home" r doctor
ok "edit the restored home" r edit "$acme" --set urls=https://acme.example/new
# The daemon runs on the restored home (alice's own is stopped first: one identity).
stop alice
"$KITH" --home "$TMP/new/alice" serve --listen 127.0.0.1:0 --no-discovery >"$TMP/new.log" 2>&1 &
new_pid=$!
pids+=("$new_pid")
for _ in $(seq 100); do r status 2>/dev/null | grep -q "Daemon running" && break; sleep 0.05; done
ok "status of the restored daemon" r status
contains "restored daemon runs" "$TMP/out" "Daemon running"
kill "$new_pid"
wait "$new_pid" 2>/dev/null
serve alice

# ---- refusals that create nothing ---------------------------------------------------
nothing_at() {
    checks=$((checks + 1))
    [ ! -e "$TMP/$1" ] && [ -z "$(ls -A "$TMP" | grep -F ".$1.restore")" ] ||
        fail "$2 left something behind: $(ls -A "$TMP")"
}
KITH_BACKUP_PASSPHRASE="wrong" refuses "wrong passphrase" k restore --backup "$TMP/a.kbk" --home "$TMP/r1"
contains "says wrong passphrase" "$TMP/err" "wrong backup passphrase"
nothing_at r1 "wrong passphrase"
size=$(stat -c %s "$TMP/a.kbk")
for at in 0 40 100 $((size / 2)) $((size - 1)); do
    python3 - "$TMP/a.kbk" "$TMP/flipped.kbk" "$at" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[int(sys.argv[3])] ^= 0x01
open(sys.argv[2], "wb").write(data)
PY
    refuses "flipped byte at $at" k restore --backup "$TMP/flipped.kbk" --home "$TMP/r2"
    grep -qE "damaged|not a kith backup|wrong backup passphrase|newer kith" "$TMP/err" ||
        fail "flipped byte at $at: unclear error: $(cat "$TMP/err")"
    nothing_at r2 "flipped byte at $at"
done
head -c $((size - 100)) "$TMP/a.kbk" >"$TMP/short.kbk"
refuses "truncated" k restore --backup "$TMP/short.kbk" --home "$TMP/r3"
contains "says truncated" "$TMP/err" "truncated"
nothing_at r3 "truncated"
cp "$TMP/a.kbk" "$TMP/long.kbk" && printf 'x' >>"$TMP/long.kbk"
refuses "trailing byte" k restore --backup "$TMP/long.kbk" --home "$TMP/r4"
nothing_at r4 "trailing byte"
refuses "not a backup" k restore --backup "$TMP/cards.vcf" --home "$TMP/r5"
contains "says not a backup" "$TMP/err" "not a kith backup"
KITH_BACKUP_PASSPHRASE= refuses "empty passphrase" node alice backup "$TMP/empty.kbk"
same "no backup with an empty passphrase" "$(ls "$TMP" | grep -c empty)" "0"
refuses "restore REF still needs a record" k --home "$TMP/alice" restore nobody-at-all
contains "restore REF unchanged" "$TMP/err" "no record matches"
ok "restore REF still works" node alice restore "Gone Person"
ok "restore --help" k restore --help
contains "help explains --backup" "$TMP/out" "--backup FILE"
ok "backup --help" k backup --help
contains "help names the passphrase variable" "$TMP/out" "KITH_BACKUP_PASSPHRASE"
mkdir "$TMP/emptydir"
ok "restore into an existing empty directory" k restore --backup "$TMP/a.kbk" --home "$TMP/emptydir"
ok "list in it" k --home "$TMP/emptydir" list

# ---- a backup while the CLI and a peer write ----------------------------------------
node bob peer edit alice --addr "127.0.0.1:$port_alice" >/dev/null
# The writer goes on until the backup is done, so the snapshot falls among its records.
(for i in $(seq 0 1999); do
    [ -e "$TMP/stop" ] && break
    node alice add person --name "Writer $i" >/dev/null 2>&1
done) &
writer=$!
(for i in $(seq 1 15); do
    node bob edit "Bob's Contact" --set title="CTO $i" >/dev/null 2>&1
    node bob sync alice >/dev/null 2>&1
done) &
syncer=$!
sleep 0.3
ok "backup while writes go on" node alice backup "$TMP/busy.kbk"
touch "$TMP/stop"
wait "$writer" "$syncer"
written=$(node alice list | grep -c '  Writer ')
ok "restore the busy backup" k restore --backup "$TMP/busy.kbk" --home "$TMP/busy-home"
ok "doctor on it" k --home "$TMP/busy-home" doctor
# Each record written before the snapshot is there whole; none after a missing one.
k --home "$TMP/busy-home" list | sed -n 's/.*  person  Writer \([0-9]*\)$/\1/p' | sort -n >"$TMP/writers"
n=$(wc -l <"$TMP/writers")
same "writers form a prefix" "$(seq 0 $((n - 1)) | tr '\n' ' ')" "$(tr '\n' ' ' <"$TMP/writers")"
echo "the busy backup holds $n of the $written records written during it" >&2
checks=$((checks + 1))
[ "$n" -lt "$written" ] || fail "the backup was not taken among the writes ($n of $written)"
for i in 0 $((n / 2)) $((n - 1)); do
    [ "$n" -gt 0 ] || break
    a=$(node alice show "Writer $i" --json) b=$(k --home "$TMP/busy-home" show "Writer $i" --json)
    same "Writer $i restored as written" "$b" "$a"
done

# ---- a node with its own passphrase -------------------------------------------------
KITH_PASSPHRASE="node secret" ok "init with a passphrase" node locked init --name locked --passphrase
KITH_PASSPHRASE="node secret" node locked add person --name "Locked Record" >/dev/null
ok "backup a locked node (no node passphrase needed)" node locked backup "$TMP/locked.kbk"
refuses "restore without the node passphrase" k restore --backup "$TMP/locked.kbk" --home "$TMP/l1" </dev/null
nothing_at l1 "no node passphrase"
KITH_PASSPHRASE="wrong" refuses "wrong node passphrase" k restore --backup "$TMP/locked.kbk" --home "$TMP/l1"
contains "says which passphrase" "$TMP/err" "node in the backup"
nothing_at l1 "wrong node passphrase"
KITH_PASSPHRASE="node secret" ok "restore a locked node" k restore --backup "$TMP/locked.kbk" --home "$TMP/l1"
KITH_PASSPHRASE="node secret" ok "list it" k --home "$TMP/l1" list
contains "locked record there" "$TMP/out" "Locked Record"
refuses "still locked" k --home "$TMP/l1" list </dev/null

# ---- kill -9 in the middle ----------------------------------------------------------
stop alice
# The source home, apart from SQLite's own files, byte for byte.
home_sum() { (cd "$TMP/alice" && ls | grep -vE -- '-(wal|shm)$|^kith\.sock$' | xargs sha256sum); }
before=$(home_sum)
export KITH_TEST_STEP_DELAY_MS=300
mid_backup=0
for i in 1 2 3 4 5 6; do
    rm -f "$TMP/k.kbk"
    "$KITH" --home "$TMP/alice" backup "$TMP/k.kbk" >/dev/null 2>&1 &
    p=$!
    sleep "$((i / 3)).$((RANDOM % 10))"
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    [ -e "$TMP/k.kbk" ] || mid_backup=$((mid_backup + 1))
    # A FILE there is a complete backup. A FILE.tmp is refused, unless the kill fell
    # between its final chunk and the rename: then it too restores a whole node.
    if [ -e "$TMP/k.kbk" ]; then
        KITH_TEST_STEP_DELAY_MS= ok "kill $i: the backup that is there restores" \
            k restore --backup "$TMP/k.kbk" --home "$TMP/kr$i"
    fi
    if [ -e "$TMP/k.kbk.tmp" ]; then
        if KITH_TEST_STEP_DELAY_MS= k restore --backup "$TMP/k.kbk.tmp" --home "$TMP/kt$i" \
            >"$TMP/out" 2>"$TMP/err"; then
            echo "kill $i: k.kbk.tmp was complete (killed just before the rename)" >&2
            ok "kill $i: a complete k.kbk.tmp restores a whole node" k --home "$TMP/kt$i" doctor
        else
            contains "kill $i: the partial file is refused as truncated" "$TMP/err" "truncated"
            nothing_at "kt$i" "restoring a partial file"
        fi
    fi
    same "kill $i: the source home is unchanged" "$(home_sum)" "$before"
done
echo "kith backup killed $mid_backup times of 6 before it finished" >&2
unset KITH_TEST_STEP_DELAY_MS
rm -f "$TMP/k.kbk"
ok "a backup after the kills" node alice backup "$TMP/k.kbk"
same "no temporary files after it" "$(ls "$TMP" | grep -c 'k\.kbk\.')" "0"
echo "scratch directories left by the kills: $(ls -A "$TMPDIR" | wc -l)" >&2

export KITH_TEST_STEP_DELAY_MS=400
mid_restore=0
for i in 1 2 3 4 5 6; do
    "$KITH" restore --backup "$TMP/k.kbk" --home "$TMP/kr" >/dev/null 2>&1 &
    p=$!
    sleep "$((i / 3)).$((RANDOM % 10))"
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    [ -e "$TMP/kr/identity.key" ] || mid_restore=$((mid_restore + 1))
    if [ -e "$TMP/kr/identity.key" ]; then
        KITH_TEST_STEP_DELAY_MS= ok "kill $i: a home that is there is whole" k --home "$TMP/kr" doctor
        rm -rf "$TMP/kr"
    fi
    checks=$((checks + 1))
    [ ! -e "$TMP/kr" ] || [ -z "$(ls -A "$TMP/kr")" ] || fail "kill $i: half a home: $(ls -A "$TMP/kr")"
done
echo "kith restore killed $mid_restore times of 6 before it finished" >&2
unset KITH_TEST_STEP_DELAY_MS
ok "a restore after the kills" k restore --backup "$TMP/k.kbk" --home "$TMP/kr"
ok "it is whole" k --home "$TMP/kr" doctor
same "no staging directory left" "$(ls -A "$TMP" | grep -c '\.kr\.restore')" "0"
same "kills landed mid-way" "$((mid_backup > 0 && mid_restore > 0))" "1"
finish
