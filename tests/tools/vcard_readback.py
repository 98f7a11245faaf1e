#!/usr/bin/env python3
"""Read a .vcf file with python3-vobject and print what it holds as JSON.

An independent check on kith's vCard writer: a CLI test exports contacts with kith,
runs this script on the file and compares the JSON with what it put in. vobject
shares no code with kith, so escaping, folding or structure mistakes in the writer
show up as differences here.

Usage: vcard_readback.py FILE.vcf
Prints a JSON array with one object per vCard, in file order:
  fn          first FN value, or null
  n           {"given": ..., "family": ...} from N, or null
  emails      every EMAIL value
  tels        every TEL value
  adr         every ADR as its non-empty components joined with ", " (kith's reading;
              kith writes its own addresses in the street component)
  org         every ORG property as its list of units (name, unit, ...)
  title       first TITLE value, or null
  note        first NOTE value, or null
  urls        every URL value
  categories  every CATEGORIES item, over all CATEGORIES properties
A name or address component that vobject splits into a list (an unescaped ',') is
joined back with ','. Exits 2 if vobject is missing, 1 if the file cannot be read.

Install vobject on Debian with: apt-get install -y python3-vobject
(if another python3 comes first in PATH, the script falls back to Debian's
/usr/lib/python3/dist-packages).
"""
import json
import sys

try:
    import vobject
except ImportError:
    # Debian's package lives in the system interpreter's path; a python3 from pyenv
    # or a venv does not see it. vobject and its dependencies are pure Python.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import vobject
    except ImportError:
        sys.stderr.write("vcard_readback: python3-vobject is not installed "
                         "(apt-get install -y python3-vobject)\n")
        sys.exit(2)


def flat(value):
    """A component vobject returned as a list (split at ',') back as one string."""
    if isinstance(value, (list, tuple)):
        return ",".join(flat(v) for v in value)
    return value


def adr_text(a):
    """An address as kith reads it: the non-empty components joined with ", "."""
    parts = [flat(p) for p in (a.box, a.extended, a.street, a.city, a.region, a.code, a.country)]
    return ", ".join(p for p in parts if p)


def values(card, name):
    return [line.value for line in card.contents.get(name, [])]


def first(card, name):
    vals = values(card, name)
    return vals[0] if vals else None


def card_to_dict(card):
    n = first(card, "n")
    categories = []
    for value in values(card, "categories"):
        if isinstance(value, (list, tuple)):
            categories.extend(value)
        else:
            categories.append(value)
    orgs = []
    for value in values(card, "org"):
        units = value if isinstance(value, (list, tuple)) else [value]
        orgs.append([flat(u) for u in units])
    return {
        "fn": first(card, "fn"),
        "n": None if n is None else {"given": flat(n.given), "family": flat(n.family)},
        "emails": values(card, "email"),
        "tels": values(card, "tel"),
        "adr": [adr_text(a) for a in values(card, "adr")],
        "org": orgs,
        "title": first(card, "title"),
        "note": first(card, "note"),
        "urls": values(card, "url"),
        "categories": categories,
    }


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: vcard_readback.py FILE.vcf\n")
        return 1
    try:
        with open(argv[1], encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        sys.stderr.write("vcard_readback: %s: %s\n" % (argv[1], e))
        return 1
    cards = [card_to_dict(c) for c in vobject.readComponents(text)]
    json.dump(cards, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
