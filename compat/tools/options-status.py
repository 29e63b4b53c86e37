#!/usr/bin/env python3
"""Regenerate what is derived from compat/options.md: its Totals line, and
the list of refused options in man/gensync.1.md ("OPTIONS NOT YET
SUPPORTED", up to the "Not planned" paragraph). Run after changing a row's
status."""
import os
import re

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
opt_path = os.path.join(root, "compat/options.md")
man_path = os.path.join(root, "man/gensync.1.md")

rows = []
for line in open(opt_path):
    m = re.match(r"^\| `(-[^`]+)` \| (`-.`)? *\| (\w*) *\| ([^|]+?) \| (.*) \|$", line.rstrip("\n"))
    if m:
        rows.append((m.group(1), m.group(2), m.group(3), m.group(4).strip(), m.group(5).strip()))

counts = {}
for r in rows:
    counts[r[3]] = counts.get(r[3], 0) + 1
keys = ["implemented", "implemented (no effect needed)", "not planned", "refused for now"]
total = ", ".join("%s %d" % (k, counts.get(k, 0)) for k in keys if counts.get(k, 0) or k != "refused for now")
if counts.get("refused for now", 0) == 0:
    total = ", ".join("%s %d" % (k, counts.get(k, 0)) for k in keys[:3])
text = open(opt_path).read()
text = re.sub(r"^Totals: .*$", "Totals: %s (%d spellings)." % (total, len(rows)), text, flags=re.M)
open(opt_path, "w").write(text)

def item(r):
    name, short, kind, _, note = r
    v = {"STR": "=VALUE", "NUM": "=NUM"}.get(kind, "")
    s = "- `%s%s`" % (name, v)
    if short:
        s += ", %s" % short
    return "%s: %s." % (s, note.rstrip("."))

refused = [item(r) for r in rows if r[3] == "refused for now"]
man = open(man_path).read()
noeff = ", ".join("`%s`" % r[0] for r in rows if r[3] == "implemented (no effect needed)")
man = re.sub(
    r"(does not do, so they are accepted and change nothing:\n\n)(?:`.*\n)+",
    lambda m: m.group(1) + noeff + ".\n",
    man,
)
head, rest = man.split("# OPTIONS NOT YET SUPPORTED\n", 1)
intro_end = rest.index("\n- ") + 1 if "\n- " in rest.split("Not planned")[0] else None
before_np, after_np = rest.split("Not planned (refused the same way):", 1)
intro = before_np[: before_np.index("\n- ") + 1] if "\n- " in before_np else before_np.rstrip("\n") + "\n\n"
body = "\n".join(refused) + "\n\n" if refused else "None: every option of rsync 3.5.0 is implemented or not planned.\n\n"
man = head + "# OPTIONS NOT YET SUPPORTED\n" + intro + body + "Not planned (refused the same way):" + after_np
open(man_path, "w").write(man)
print("refused for now: %d" % len(refused))
