#!/usr/bin/env python3
"""Compares vCards as property sets: every card of the corpus folder (by FN) against the
card of the same FN in one exported file. Properties are unfolded lines with group,
property and parameter names upper-cased and parameters in any order. Left out: VERSION,
PRODID, REV; the N with no component and KIND:org/X-ABSHOWAS:COMPANY that kith writes in
one version only. Exit status 1 and a list of differences if any card differs.

    vcard_compare.py [--dav] CORPUS_DIR EXPORTED.vcf
"""
import glob, re, sys

def unfold(text):
    return re.sub(r"\r?\n[ \t]", "", text).replace("\r\n", "\n").split("\n")

def split_unquoted(s, seps):
    out, cur, q = [], "", False
    for c in s:
        if c == '"':
            q = not q
        if not q and c in seps:
            out.append(cur)
            cur = ""
            if c == ":":
                out.append(None)  # marks the value start
            continue
        cur += c
    out.append(cur)
    return out

def normalise(line):
    m = re.match(r'^((?:[^:"]|"[^"]*")*):(.*)$', line)
    if not m:
        return line
    head, value = m.group(1), m.group(2)
    parts = split_unquoted(head, ";")
    name = parts[0].upper()
    bare = name.split(".")[-1]
    if bare in ("VERSION", "PRODID", "REV"):
        return None
    if bare == "N" and set(value) <= {";"}:
        return None
    if (bare == "KIND" and value.lower() == "org") or (bare == "X-ABSHOWAS" and value.upper() == "COMPANY"):
        return "KIND:ORG"
    params = []
    for p in parts[1:]:
        n, eq, v = p.partition("=")
        params.append(n.upper() + eq + v)
    return ";".join([name] + sorted(params)) + ":" + value

def cards(path):
    out, cur = [], None
    for line in unfold(open(path, encoding="utf-8").read()):
        if line.upper() == "BEGIN:VCARD":
            cur = []
        elif line.upper() == "END:VCARD":
            out.append(cur)
            cur = None
        elif cur is not None and line:
            n = normalise(line)
            if n is not None:
                cur.append(n)
    return out

def fn(card):
    return next(l.split(":", 1)[1] for l in card if l.startswith("FN"))

# --dav: the cards came back from a CardDAV server after a PUT each: a card keeps the UID
# the file gave it (kith's own urn:kith:ID when the file gave none).
dav = "--dav" in sys.argv[1:]
args = [a for a in sys.argv[1:] if a != "--dav"]
corpus, exported = args[0], args[1]
want = {}
for path in sorted(glob.glob(corpus + "/*.vcf")):
    for c in cards(path):
        want[fn(c)] = c
got = {fn(c): c for c in cards(exported)}
assert sorted(want) == sorted(got), (sorted(want), sorted(got))
bad = 0
for name, w in want.items():
    g = list(got[name])
    uid = [l for l in w if l.startswith("UID:")]
    w = [l for l in w if not l.startswith("UID:")]
    if dav:
        back = [l for l in g if l.startswith("UID:")]
        assert len(back) == 1, (name, g)
        assert back[0] == uid[0] if uid else back[0].startswith("UID:urn:kith:"), (name, back, uid)
        g.remove(back[0])
        uid = []
    else:
        kith_uid = [l for l in g if l.startswith("UID:urn:kith:")]
        assert len(kith_uid) == 1, (name, g)
        g.remove(kith_uid[0])
    if uid:
        keep = "X-VCARD-UID:" + uid[0][4:]
        assert keep in g, (name, keep, g)
        g.remove(keep)
    if sorted(w) != sorted(g):
        bad += 1
        print("%s: %s differs" % (exported, name))
        print("  only in the file:   ", sorted(set(w) - set(g)))
        print("  only in the export: ", sorted(set(g) - set(w)))
sys.exit(1 if bad else 0)
