#!/usr/bin/env bash
# At rest: no field name or value appears in the clear in any file of the home,
# the SQLite write-ahead log included.
. "$(dirname "$0")/lib.sh"

k init --name alice >/dev/null
# Hold a read transaction open so that SQLite keeps the write-ahead log on disk while
# kith writes; otherwise the log is checkpointed and deleted before we can look at it.
python3 - "$KITH_HOME/kith.db" "$TMP/hold" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM records").fetchone()
open(sys.argv[2], "w").close()
while os.path.exists(sys.argv[2]):
    time.sleep(0.05)
db.execute("COMMIT")
PY
holder=$!
for _ in $(seq 100); do [ -e "$TMP/hold" ] && break; sleep 0.05; done

ok "add with markers" k add person --name "Zebulon Markerfield" \
    --set pain_points="QUAGGA-PAIN-7731" --set x-secret-field="OKAPI-CUSTOM-5521" \
    --private politics="NARWHAL-PRIVATE-9042" --set emails=zebulon@markerfield.example
ok "edit with marker" k edit "Zebulon Markerfield" --set note="AXOLOTL-NOTE-3310"
[ -s "$KITH_HOME/kith.db-wal" ] || fail "the write-ahead log was not kept for inspection"
for marker in Zebulon Markerfield QUAGGA OKAPI NARWHAL AXOLOTL markerfield.example \
    x-secret-field pain_points politics; do
    checks=$((checks + 1))
    if grep -rqaF -- "$marker" "$KITH_HOME"; then
        fail "'$marker' is readable in: $(grep -rlaF -- "$marker" "$KITH_HOME" | tr '\n' ' ')"
    fi
done
rm -f "$TMP/hold"
wait "$holder"

# The records are still all there for their owner.
ok "search" k search okapi-custom
contains "found by custom field" "$TMP/out" "Zebulon Markerfield"
ok "show" k show "zebulon markerfield"
contains "private field shown to owner" "$TMP/out" "NARWHAL-PRIVATE-9042"
finish
