#!/usr/bin/env bash
# Upgrade: homes written by an older kith open with this one and lose nothing.
# tests/fixtures/v1-home.tar holds three homes (alice, bob, carol) written by kith 0.1.0
# (op format 1) and what that kith showed of them; see tests/fixtures/README.md. Every
# record is compared, on the keys that must survive, in show --json, list --json and
# export json. Keys this kith adds to the JSON are ignored; a lost or changed field,
# list item, private marker, owner or audience member fails.
. "$(dirname "$0")/lib.sh"

FIXTURE=${KITH_TEST_DIR:-$(dirname "$0")/..}/fixtures/v1-home.tar
V=$TMP/v1-home  # the homes
E=$V/expected   # what the old kith showed
A=$TMP/actual   # what this kith shows
ok "untar the fixture" tar -xf "$FIXTURE" -C "$TMP"
if [ ! -f "$E/fixture.json" ]; then
    finish
    exit
fi
deleted=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["deleted"]["id"])' \
    "$E/fixture.json")
deleted_at=$(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["deleted"]["homes"])' \
    "$E/fixture.json")

node() { "$KITH" --home "$V/$h" "$@"; }
for h in alice bob carol; do
    mkdir -p "$A/$h/records"
    # Opening may upgrade the store; doctor must then find nothing wrong.
    ok "doctor $h" node doctor
    lacks "doctor $h: no problem" "$TMP/out" "problem:"
    cp "$TMP/out" "$A/$h/doctor.txt"
    ok "id $h" node id
    cp "$TMP/out" "$A/$h/id.txt"
    ok "list --json $h" node list --json
    cp "$TMP/out" "$A/$h/list.json"
    ok "export json $h" node export json
    cp "$TMP/out" "$A/$h/export.json"
    ok "peer list --json $h" node peer list --json
    cp "$TMP/out" "$A/$h/peers.json"
    for f in "$E/$h"/records/*.json; do
        id=$(basename "$f" .json)
        ok "show $h ${id:0:8}" node show "$id" --json
        cp "$TMP/out" "$A/$h/records/$id.json"
        ok "log $h ${id:0:8}" node log "$id"
        checks=$((checks + 1))
        [ -s "$TMP/out" ] || fail "log $h ${id:0:8}: printed nothing"
        cp "$TMP/out" "$A/$h/records/$id.log"
    done
    case " $deleted_at " in
    *" $h "*)
        # Still deleted after the upgrade, and now reversible: in the trash, with its
        # history (kith before ops version 2 could not even log it).
        ok "list at $h" node list
        lacks "deleted record not listed at $h" "$TMP/out" "${deleted:0:8}"
        ok "list --deleted at $h" node list --deleted
        contains "deleted record in the trash at $h" "$TMP/out" "${deleted:0:8}"
        ok "show deleted at $h" node show "$deleted" --json
        contains "deleted record marked at $h" "$TMP/out" '"deleted": true'
        ok "log deleted at $h" node log "$deleted"
        contains "log of the deleted record at $h" "$TMP/out" "deleted"
        refuses "edit deleted at $h" node edit "$deleted" --set title=x
        ;;
    esac
done

# Ops by two authors: the history still names both.
for id in $(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["two_authors"])' \
    "$E/fixture.json"); do
    contains "alice's log of ${id:0:8} names bob" "$A/alice/records/$id.log" "bob"
    contains "bob's log of ${id:0:8} names alice" "$A/bob/records/$id.log" "alice"
done

python3 - "$E" "$A" >"$TMP/compare" <<'PY' || fail "the comparison itself failed (see above)"
import json, os, re, sys

E, A = sys.argv[1:3]
fixture = json.load(open(os.path.join(E, "fixture.json")))
checks = failures = 0

# The record fields of op format 1 (proto/SCHEMA.md), plus x-NAME. Every other key of a
# record object is metadata; of those, these are compared:
FIELDS = {"name", "given", "family", "emails", "phones", "org", "title", "department",
          "addresses", "urls", "tags", "note", "reports_to", "relations", "priorities",
          "pain_points", "motivations", "politics", "decision_process",
          "decision_criteria", "projects", "capacity_gaps", "buying_role", "influence",
          "attitude", "our_owner", "last_interaction"}
META = {"id", "kind", "private_fields", "owner", "owner_name", "audience",
        "created", "updated"}  # created and updated are not compared

def is_field(key):
    return key in FIELDS or key.startswith("x-")

def check(ok, where, what):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL: {where}: {what}", file=sys.stderr)
    return ok

def same(e, a):
    """Strict on values and types; an expected object's keys must all match, keys
    added to an object (such as a relation) are allowed."""
    if isinstance(e, dict):
        return isinstance(a, dict) and all(k in a and same(v, a[k]) for k, v in e.items())
    if isinstance(e, list):
        return isinstance(a, list) and len(a) == len(e) and all(map(same, e, a))
    return type(e) is type(a) and e == a

def load(path, where):
    try:
        return json.load(open(path))
    except (OSError, ValueError) as err:
        check(False, where, f"cannot read {path}: {err}")
        return None

def compare_record(where, e, a):
    if not check(isinstance(a, dict), where, f"not a JSON object: {a!r}"):
        return
    for key in ("id", "kind", "owner", "owner_name"):
        check(key in a and same(e[key], a[key]), where,
              f"{key}: expected {e[key]!r}, got {a.get(key, '<missing>')!r}")
    for key in sorted(k for k in e if k not in META):
        check(key in a and same(e[key], a[key]), where,
              f"field {key}: expected {e[key]!r}, got {a.get(key, '<missing>')!r}")
    for key in sorted(k for k in a if is_field(k) and k not in e):
        check(False, where, f"field {key} appeared: {a[key]!r}")
    pf = a.get("private_fields")
    check(isinstance(pf, list) and len(pf) == len(set(pf))
          and sorted(pf) == sorted(e["private_fields"]), where,
          f"private_fields: expected {sorted(e['private_fields'])}, got {pf!r}")
    aud = a.get("audience")
    if check(isinstance(aud, list) and all(isinstance(m, dict) and "node_id" in m for m in aud),
             where, f"audience is not a list of members: {aud!r}"):
        want = {m["node_id"]: m for m in e["audience"]}
        got = {m["node_id"]: m for m in aud}
        check(len(got) == len(aud) and set(got) == set(want), where,
              f"audience: expected {sorted(want)}, got {[m['node_id'] for m in aud]}")
        for nid in sorted(set(want) & set(got)):
            for key in ("name", "role"):
                check(key in got[nid] and same(want[nid][key], got[nid][key]), where,
                      f"audience {want[nid]['name']} {key}: expected {want[nid][key]!r}, "
                      f"got {got[nid].get(key, '<missing>')!r}")

def compare_array(where, e, a):
    """A list --json or export json array: the same records, each as expected."""
    if not check(isinstance(a, list) and all(isinstance(r, dict) and "id" in r for r in a),
                 where, "not an array of records"):
        return
    want = {r["id"]: r for r in e}
    got = {r["id"]: r for r in a}
    check(len(got) == len(a), where, "a record is listed twice")
    check(set(got) == set(want), where,
          f"records: lost {sorted(set(want) - set(got))}, new {sorted(set(got) - set(want))}")
    for rid in sorted(set(want) & set(got)):
        compare_record(f"{where} {rid[:8]}", want[rid], got[rid])

for home, node_id in sorted(fixture["homes"].items()):
    e, a = os.path.join(E, home), os.path.join(A, home)
    try:
        got_id = open(os.path.join(a, "id.txt")).readline().strip()
    except OSError:
        got_id = None
    check(got_id == node_id, home, f"node ID: expected {node_id}, got {got_id}")

    exp_list = load(os.path.join(e, "list.json"), home)
    recs = sorted(f[:-5] for f in os.listdir(os.path.join(e, "records")) if f.endswith(".json"))
    check(sorted(r["id"] for r in exp_list) == recs, home,
          "fixture: expected/records does not match expected list.json")
    for rid in recs:
        where = f"{home} show {rid[:8]}"
        exp = load(os.path.join(e, "records", rid + ".json"), where)
        act = load(os.path.join(a, "records", rid + ".json"), where)
        if exp is not None and act is not None:
            compare_record(where, exp, act)
    for view in ("list", "export"):
        where = f"{home} {view}"
        exp = load(os.path.join(e, view + ".json"), where)
        act = load(os.path.join(a, view + ".json"), where)
        if exp is not None and act is not None:
            compare_array(where, exp, act)

    # Peers: who they are, their groups and configured address.
    exp = load(os.path.join(e, "peers.json"), home)
    act = load(os.path.join(a, "peers.json"), home) or []
    got = {p.get("name"): p for p in act if isinstance(p, dict)}
    check(sorted(got) == sorted(p["name"] for p in exp), f"{home} peers",
          f"expected {sorted(p['name'] for p in exp)}, got {sorted(got)}")
    for p in exp:
        q = got.get(p["name"], {})
        for key in ("node_id", "addr", "self"):
            check(key in q and same(p[key], q[key]), f"{home} peer {p['name']}",
                  f"{key}: expected {p[key]!r}, got {q.get(key, '<missing>')!r}")
        check(sorted(q.get("groups") or []) == sorted(p["groups"]), f"{home} peer {p['name']}",
              f"groups: expected {p['groups']}, got {q.get('groups')!r}")

    # No op and no record lost (an upgrade may add ops, never drop one).
    counts = []
    for path in (os.path.join(e, "doctor.txt"), os.path.join(a, "doctor.txt")):
        m = re.search(r"checked (\d+) records and (\d+) ops", open(path).read())
        counts.append((int(m[1]), int(m[2])) if m else None)
    if check(None not in counts, f"{home} doctor",
             "no 'checked N records and M ops' line (update this test if doctor changed)"):
        (er, eo), (ar, ao) = counts
        check(ar == er and ao >= eo, f"{home} doctor",
              f"expected {er} records and {eo} ops (or more), got {ar} and {ao}")

print(checks, failures)
PY
read -r n bad <"$TMP/compare" || { n=0 bad=0; }
checks=$((checks + n))
failures=$((failures + bad))

# The @sales share itself survived, not just the members it had: a peer who joins the
# group now is added to the audience of the record shared with @sales.
ok "a new colleague" "$KITH" --home "$TMP/dave" init --name dave
dave=$("$KITH" --home "$TMP/dave" id | head -1)
ok "dave joins sales" "$KITH" --home "$V/alice" peer add dave "$dave" --group sales
henrik=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"]["henrik"])' \
    "$E/fixture.json")
ok "show the @sales record" "$KITH" --home "$V/alice" show "$henrik" --json
python3 - "$TMP/out" "$dave" <<'PY' || fail "dave did not join the audience of the @sales record"
import json, sys
d = json.load(open(sys.argv[1]))
assert any(m["node_id"] == sys.argv[2] and m["name"] == "dave" and m["role"] == "reader"
           for m in d["audience"]), d["audience"]
PY
checks=$((checks + 1))
finish
