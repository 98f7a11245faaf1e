#!/usr/bin/env bash
# A full disk: a home on a small tmpfs. An import that does not fit fails with a clear
# error, imports nothing, and loses nothing already stored.
. "$(dirname "$0")/../cli/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: $(basename "$0") needs root to mount a small tmpfs" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi
mkdir -p "$TMP/small"
mount -t tmpfs -o size=2m kithfull "$TMP/small"
trap 'umount "$TMP/small" 2>/dev/null; rm -rf "$TMP"' EXIT
export KITH_HOME="$TMP/small/home"
ok "init on a small disk" k init --name alice
for i in 1 2 3 4 5; do k add person --name "Kept $i" --set note="stored before the disk filled" >/dev/null; done
k export json >"$TMP/before.json"
python3 - "$TMP/big.vcf" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        f.write(f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Filler {i}\r\nNOTE:{'x' * 200}\r\nEND:VCARD\r\n")
PY
refuses "import that does not fit" k import vcard "$TMP/big.vcf"
contains "says the disk is full" "$TMP/err" "disk is full"
contains "says nothing was imported" "$TMP/err" "nothing imported"
ok "list after the failure" k list
same "nothing of the import, nothing lost" "$(wc -l <"$TMP/out")" "5"
k export json >"$TMP/after.json"
checks=$((checks + 1))
cmp -s "$TMP/before.json" "$TMP/after.json" || fail "the stored records changed"
ok "doctor after a full disk" k doctor
ok "small changes still work" k edit "Kept 1" --set title=Survivor
finish
