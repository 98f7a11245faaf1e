#!/usr/bin/env bash
# Crash safety: a receiving daemon killed with SIGKILL 20 times during a large sync, and
# the CLI killed during a large import. Afterwards the database passes SQLite's integrity
# check, every op committed before a kill is still there, nothing is duplicated, and the
# receiver ends with exactly the sender's shared set; an import is all or nothing.
. "$(dirname "$0")/lib.sh"
N=${KITH_CRASH_RECORDS:-2000}
KILLS=${KITH_CRASH_KILLS:-20}
node() { "$KITH" --home "$TMP/$1" "${@:2}"; }
node alice init --name alice >/dev/null
node bob init --name bob >/dev/null
# bob restarts on the same port 20 times, so the port must not be one the kernel hands out
# to other tests' daemons (they listen on port 0, in the ephemeral range).
port=$(python3 -c '
import random, socket
for p in random.sample(range(20000, 30000), 200):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break')
node alice peer add bob "$(node bob id | head -1)" --addr "127.0.0.1:$port" >/dev/null
node bob peer add alice "$(node alice id | head -1)" >/dev/null
python3 - "$N" "$TMP/cards.vcf" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write(f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Person {i}\r\nEMAIL:p{i}@example.com\r\n"
                f"NOTE:note number {i} with some text to make the op larger\r\nEND:VCARD\r\n")
PY
ok "import shared" node alice import vcard "$TMP/cards.vcf" --share bob

count_ops() {
    python3 - "$TMP/bob/kith.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(db.execute("SELECT count(*) FROM ops").fetchone()[0])
PY
}
start_bob() {
    "$KITH" --home "$TMP/bob" serve --listen "127.0.0.1:$port" --no-discovery \
        --log-level info >>"$TMP/bob.log" 2>&1 &
    bob_pid=$!
    # Under a sanitizer on a busy machine, start-up (and WAL recovery) can take seconds.
    for _ in $(seq 600); do
        node bob status 2>/dev/null | grep -q "Daemon running" && return
        sleep 0.05
    done
}

start_bob
lost=0
for i in $(seq "$KILLS"); do
    node alice sync bob --timeout 20 >/dev/null 2>&1 &
    sync_pid=$!
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    before=$(count_ops)
    kill -9 "$bob_pid"
    wait "$bob_pid" 2>/dev/null
    after=$(count_ops)
    [ "$after" -ge "$before" ] || lost=$((lost + 1))
    wait "$sync_pid" 2>/dev/null
    start_bob
done
echo "$KILLS kills; ops held by bob after the last kill: $(count_ops)"
same "no committed op lost across kills" "$lost" "0"
# The first attempt may race the restarted daemon's recovery; a second must succeed.
node alice sync bob --timeout 60 >/dev/null 2>&1 || true
ok "final sync completes" node alice sync bob --json --timeout 120 --log-level info
[ "$failures" -eq 0 ] || { echo "--- the end of bob's log:" >&2; grep -v "refused an op" "$TMP/bob.log" | tail -15 >&2; }
cp "$TMP/out" "$TMP/final.json"; cat "$TMP/final.json" >&2
echo "bob after the final sync: $(count_ops) ops" >&2
kill "$bob_pid"
wait "$bob_pid"
echo "bob after stopping: $(count_ops) ops" >&2
python3 - "$TMP/bob/kith.db" "$TMP/alice/kith.db" "$N" <<'PY' || fail "bob's store after the kills"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
ops = set(h for (h,) in db.execute("SELECT hash FROM ops"))
assert len(ops) == db.execute("SELECT count(*) FROM ops").fetchone()[0]
recs = db.execute("SELECT count(*) FROM records").fetchone()[0]
assert recs == int(sys.argv[3]), recs
# Exactly the sender's shared set: every op of alice's (all of them are shared with bob).
alice = set(h for (h,) in sqlite3.connect(sys.argv[2]).execute("SELECT hash FROM ops"))
assert ops == alice, (len(ops), len(alice))
PY
ok "bob's doctor" node bob doctor
ok "bob's count" node bob list
same "bob holds every shared record" "$(wc -l <"$TMP/out")" "$N"

# The CLI killed during an import: all or nothing.
node carol init --name carol >/dev/null
partial=0
for i in 1 2 3 4 5; do
    # Not through node(): $! must be kith itself, or kill -9 would miss it.
    "$KITH" --home "$TMP/carol" import vcard "$TMP/cards.vcf" >/dev/null 2>&1 &
    imp=$!
    sleep "0.$((RANDOM % 6))"
    kill -9 "$imp" 2>/dev/null
    wait "$imp" 2>/dev/null
    n=$(node carol list 2>/dev/null | wc -l)
    echo "import killed: carol holds $n records" >&2
    if [ "$n" -ne 0 ] && [ "$n" -ne "$N" ]; then partial=$((partial + 1)); fi
    [ "$n" -eq "$N" ] && break
done
same "no partial import" "$partial" "0"
ok "carol's doctor" node carol doctor
finish
