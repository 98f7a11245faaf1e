#!/usr/bin/env bash
# Crash safety: a receiving daemon killed with SIGKILL 20 times during a large sync, and
# the CLI killed during a large import. Afterwards the database passes SQLite's integrity
# check, every op committed before a kill is still there, nothing is duplicated, and the
# receiver ends with exactly the sender's shared set; an import is all or nothing.
. "$(dirname "$0")/lib.sh"
# Records per batch: when bob has caught up before 20 kills have landed mid-sync, alice
# imports another batch, so that a fast build still gets 20 kills while ops flow.
N=${KITH_CRASH_RECORDS:-10000}
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
# cards BATCH FILE: N vCards, named apart from other batches'.
cards() {
    python3 - "$N" "$1" "$2" <<'PY'
import sys
n, batch, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        f.write(f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Person {batch}-{i}\r\n"
                f"EMAIL:p{batch}.{i}@example.com\r\n"
                f"NOTE:note number {i} with some text to make the op larger\r\nEND:VCARD\r\n")
PY
}
cards 1 "$TMP/cards.vcf"
ok "import shared" node alice import vcard "$TMP/cards.vcf" --share bob
batches=1

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

alice_ops() {
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM ops").fetchone()[0])' "$TMP/alice/kith.db"
}
total=$(alice_ops)
start_bob
lost=0
kills=0
mid=0 # kills that found bob still lacking ops: the sync was under way
while [ "$mid" -lt "$KILLS" ]; do
    node alice sync bob --timeout 20 >/dev/null 2>&1 &
    sync_pid=$!
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    before=$(count_ops)
    kill -9 "$bob_pid"
    wait "$bob_pid" 2>/dev/null
    after=$(count_ops)
    kills=$((kills + 1))
    [ "$after" -ge "$before" ] || lost=$((lost + 1))
    [ "$before" -lt "$total" ] && mid=$((mid + 1))
    wait "$sync_pid" 2>/dev/null
    start_bob
    if [ "$after" -ge "$total" ] && [ "$mid" -lt "$KILLS" ]; then
        # bob caught up: give the next syncs something to carry
        [ "$batches" -lt 10 ] || break
        batches=$((batches + 1))
        cards "$batches" "$TMP/more.vcf"
        node alice import vcard "$TMP/more.vcf" --share bob >/dev/null
        total=$(alice_ops)
    fi
done
echo "$kills kills, $mid of them while bob held fewer than alice's ops ($batches batches of $N records); after the last: $(count_ops) of $total"
same "no committed op lost across kills" "$lost" "0"
same "kills during the transfer" "$mid" "$KILLS"
records=$((N * batches))
# The first attempt may race the restarted daemon's recovery; a second must succeed.
node alice sync bob --timeout 60 >/dev/null 2>&1 || true
ok "final sync completes" node alice sync bob --json --timeout 120 --log-level info
[ "$failures" -eq 0 ] || { echo "--- the end of bob's log:" >&2; grep -v "refused an op" "$TMP/bob.log" | tail -15 >&2; }
cp "$TMP/out" "$TMP/final.json"; cat "$TMP/final.json" >&2
echo "bob after the final sync: $(count_ops) ops" >&2
kill "$bob_pid"
wait "$bob_pid"
echo "bob after stopping: $(count_ops) ops" >&2
python3 - "$TMP/bob/kith.db" "$TMP/alice/kith.db" "$records" <<'PY' || fail "bob's store after the kills"
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
same "bob holds every shared record" "$(wc -l <"$TMP/out")" "$records"

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
# And left alone, the same import completes.
if [ "$(node carol list 2>/dev/null | wc -l)" -ne "$N" ]; then
    ok "import after the kills" node carol import vcard "$TMP/cards.vcf"
fi
same "carol holds the whole file" "$(node carol list | wc -l)" "$N"
ok "carol's doctor" node carol doctor
finish
