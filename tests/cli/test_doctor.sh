#!/usr/bin/env bash
# Damage: corrupted records, truncated key files and databases, loose permissions. Each
# gives a clear error or warning, never a crash; kith doctor says what is wrong and
# --repair rebuilds records from their ops.
. "$(dirname "$0")/lib.sh"
k init --name alice >/dev/null
k add person --name "Ada Lovelace" --set note=first >/dev/null
k add person --name "Grace Hopper" --set note=second >/dev/null
ok "doctor on a healthy home" k doctor
contains "healthy" "$TMP/out" "No problems found"

# A damaged record: the others stay readable; doctor finds it; --repair rebuilds it.
python3 - "$KITH_HOME/kith.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rowid, data = db.execute("SELECT rowid, data FROM records LIMIT 1").fetchone()
b = bytearray(data); b[45] ^= 0x40
db.execute("UPDATE records SET data = ? WHERE rowid = ?", (bytes(b), rowid))
db.commit()
PY
ok "list with a damaged record" k list
same "the other record is listed" "$(wc -l <"$TMP/out")" "1"
contains "warned" "$TMP/err" "damaged record"
refuses "doctor finds it" k doctor
contains "problem named" "$TMP/out" "does not decrypt"
ok "repair" k doctor --repair
ok "doctor after repair" k doctor
ok "list after repair" k list
same "both back" "$(wc -l <"$TMP/out")" "2"

# A damaged op cannot be repaired, but is reported.
cp -a "$KITH_HOME" "$TMP/backup"
python3 - "$KITH_HOME/kith.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
h, data = db.execute("SELECT hash, data FROM ops LIMIT 1").fetchone()
b = bytearray(data); b[60] ^= 1
db.execute("UPDATE ops SET data = ? WHERE hash = ?", (bytes(b), h))
db.commit()
PY
refuses "damaged op reported" k doctor
contains "op problem" "$TMP/out" "does not unseal"
rm -rf "$KITH_HOME" && cp -a "$TMP/backup" "$KITH_HOME"

# Loose permissions: a warning on every command, a problem for doctor.
chmod 755 "$KITH_HOME"
ok "list still works" k list
contains "mode warning" "$TMP/err" "has mode 755"
refuses "doctor flags the mode" k doctor
contains "chmod advice" "$TMP/out" "chmod 700"
chmod 700 "$KITH_HOME"

# A read-only home: commands that only read work, those that write are refused with a
# clear message and change nothing, and doctor does not call it damage. As root,
# permissions do not stop writes, so the home is bind-mounted read-only instead (in a
# mount namespace of its own); without either, the check is skipped.
ro() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
    else
        unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift &&
            exec "$@"' ro "$KITH_HOME" "$@"
    fi
}
ro_ok=1
if [ "$(id -u)" -ne 0 ]; then
    chmod 500 "$KITH_HOME"; chmod 400 "$KITH_HOME/kith.db"
elif ! unshare -m true 2>/dev/null; then
    ro_ok=0
    echo "skipping the read-only home checks: no mount namespace" >&2
fi
if [ $ro_ok -eq 1 ]; then
    sum_before=$(cat "$KITH_HOME"/kith.db* | sha256sum)
    ok "read-only: list" ro "$KITH" list
    same "read-only: both listed" "$(wc -l <"$TMP/out")" "2"
    ok "read-only: show" ro "$KITH" show "Ada Lovelace"
    contains "read-only: show" "$TMP/out" "first"
    ok "read-only: search" ro "$KITH" search grace
    contains "read-only: search" "$TMP/out" "Grace Hopper"
    ok "read-only: log" ro "$KITH" log "Ada Lovelace"
    ok "read-only: export" ro "$KITH" export json
    contains "read-only: export" "$TMP/out" "Grace Hopper"
    ok "read-only: id" ro "$KITH" id
    ok "read-only: status" ro "$KITH" status
    ok "read-only: doctor" ro "$KITH" doctor
    contains "read-only: doctor says so" "$TMP/out" "read-only"
    lacks "read-only: no repair advice" "$TMP/err" "--repair"
    lacks "read-only: not damage" "$TMP/err" "damaged"
    refuses "read-only: add" ro "$KITH" add person --name "Edsger Dijkstra"
    contains "read-only: add says so" "$TMP/err" "the home $KITH_HOME is read-only"
    lacks "read-only: add is not damage" "$TMP/err" "damaged"
    refuses "read-only: edit" ro "$KITH" edit "Ada Lovelace" --set note=changed
    contains "read-only: edit says so" "$TMP/err" "is read-only"
    refuses "read-only: repair" ro "$KITH" doctor --repair
    contains "read-only: repair says so" "$TMP/err" "is read-only"
    same "read-only: nothing changed" "$(cat "$KITH_HOME"/kith.db* | sha256sum)" "$sum_before"
    chmod 700 "$KITH_HOME"; chmod 600 "$KITH_HOME/kith.db"
    ok "writable again" k edit "Ada Lovelace" --set note=first
fi

# Truncated or garbage database and key file: clear errors, no crash (exit 1, not a signal).
cp "$KITH_HOME/kith.db" "$TMP/db.bak"
head -c 2000 "$TMP/db.bak" >"$KITH_HOME/kith.db"
refuses "truncated database" k list
checks=$((checks + 1))
k list >/dev/null 2>&1; [ $? -eq 1 ] || fail "truncated database: exit status was not 1"
head -c 5000 /dev/urandom >"$KITH_HOME/kith.db"
refuses "garbage database" k list
contains "says damaged" "$TMP/err" "not a kith database or is damaged"
refuses "doctor on garbage database" k doctor
cp "$TMP/db.bak" "$KITH_HOME/kith.db"
# A truncated database and one with a corrupted page in the middle: doctor --repair
# rebuilds the store from every op it can still read (verified), keeps peers and shares,
# says exactly what was recovered and what was lost, keeps the damaged file, exits 1
# because something was lost, and leaves a store that checks clean.
for i in $(seq 1 300); do
    printf 'BEGIN:VCARD\nVERSION:4.0\nFN:Person %d\nNOTE:note %d\nEND:VCARD\n' "$i" "$i"
done >"$TMP/many.vcf"
k import vcard "$TMP/many.vcf" >/dev/null
k peer add bob "$(k --home "$TMP/bobhome" init --name bob >/dev/null && k --home "$TMP/bobhome" id | head -1)" --group sales >/dev/null
k share "Person 1" --with @sales >/dev/null
k doctor >/dev/null || fail "healthy before the damage"
cp -a "$KITH_HOME" "$TMP/many"
# recovered COUNT-FILE: the records doctor --repair says it recovered.
recovered() { sed -n 's/^  recovered: \([0-9]*\) records.*/\1/p' "$1"; }
lost() { sed -n 's/^  lost: \([0-9]*\) records.*/\1/p' "$1"; }

size=$(stat -c %s "$KITH_HOME/kith.db")
head -c $((size * 7 / 10 / 8192 * 8192)) "$TMP/many/kith.db" >"$KITH_HOME/kith.db"
refuses "truncated: doctor" k doctor
contains "truncated: suggests repair" "$TMP/err" "--repair"
refuses "truncated: repair exits 1 (records were lost)" k doctor --repair
contains "truncated: says what was recovered" "$TMP/out" "recovered:"
contains "truncated: says what was lost" "$TMP/out" "lost:"
contains "truncated: keeps the damaged file" "$TMP/out" "kith.db.damaged-"
contains "truncated: says what to do" "$TMP/err" "kith sync"
lacks "truncated: no false success" "$TMP/out" "Nothing was lost"
n_rec=$(recovered "$TMP/out")
[ "${n_rec:-0}" -gt 0 ] && [ "$n_rec" -lt 302 ] || fail "truncated: recovered '$n_rec' records"
[ "$(lost "$TMP/out")" -gt 0 ] || fail "truncated: nothing counted as lost"
ok "truncated: doctor after repair" k doctor
ok "truncated: list after repair" k list
same "truncated: every recovered record is listed" "$(wc -l <"$TMP/out")" "$n_rec"
ok "truncated: peers kept" k peer list
contains "truncated: bob kept" "$TMP/out" "bob"
ls "$KITH_HOME"/kith.db.damaged-* >/dev/null 2>&1 || fail "truncated: damaged file not kept"

# A corrupted page of ops in the middle: only the ops on that page are lost.
rm -rf "$KITH_HOME" && cp -a "$TMP/many" "$KITH_HOME"
python3 - "$KITH_HOME/kith.db" <<'PY'
import sqlite3, sys, os
db = sqlite3.connect(sys.argv[1])
pages = [p for (p,) in db.execute(
    "SELECT pageno FROM dbstat WHERE name = 'ops' AND pagetype = 'leaf' ORDER BY pageno")]
db.close()
page = pages[len(pages) // 2]
with open(sys.argv[1], "r+b") as f:
    f.seek((page - 1) * 8192)
    f.write(os.urandom(8192))
PY
refuses "corrupt page: doctor" k doctor
contains "corrupt page: found" "$TMP/out" "SQLite integrity"
refuses "corrupt page: repair exits 1 (records were lost)" k doctor --repair
contains "corrupt page: says what was lost" "$TMP/out" "lost:"
n_rec=$(recovered "$TMP/out")
n_lost=$(lost "$TMP/out")
[ "${n_lost:-0}" -gt 0 ] && [ "$n_lost" -lt 60 ] || fail "corrupt page: lost '$n_lost' records"
same "corrupt page: the rest recovered" "$((n_rec + n_lost))" "302"
ok "corrupt page: doctor after repair" k doctor
ok "corrupt page: list after repair" k list
same "corrupt page: recovered records listed" "$(wc -l <"$TMP/out")" "$n_rec"

# A corrupted page of the folded records only: every op is intact, nothing is lost.
rm -rf "$KITH_HOME" && cp -a "$TMP/many" "$KITH_HOME"
python3 - "$KITH_HOME/kith.db" <<'PY'
import sqlite3, sys, os
db = sqlite3.connect(sys.argv[1])
pages = [p for (p,) in db.execute(
    "SELECT pageno FROM dbstat WHERE name = 'records' AND pagetype = 'leaf' ORDER BY pageno")]
db.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((pages[len(pages) // 2] - 1) * 8192)
    f.write(os.urandom(8192))
PY
ok "records page: repair recovers everything" k doctor --repair
contains "records page: nothing lost" "$TMP/out" "Nothing was lost"
ok "records page: list" k list
same "records page: all listed" "$(wc -l <"$TMP/out")" "302"
rm -rf "$KITH_HOME" && cp -a "$TMP/many" "$KITH_HOME"

cp "$KITH_HOME/identity.key" "$TMP/key.bak"
head -c 40 "$TMP/key.bak" >"$KITH_HOME/identity.key"
refuses "truncated key" k list
contains "key damaged" "$TMP/err" "identity.key is damaged"
refuses "doctor on truncated key" k doctor
rm "$KITH_HOME/identity.key"
refuses "missing key" k list
cp "$TMP/key.bak" "$KITH_HOME/identity.key"
ok "restored" k doctor
finish
