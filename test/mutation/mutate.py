#!/usr/bin/env python3
"""Writes one mutant of the catalogue without touching the working tree.

    test/mutation/mutate.py NNN-short-name FILE OLD NEW --bug "..." --suites "regress unit"
                            [--also OLD2 NEW2]...

OLD must occur exactly once in FILE (a path from the repository's root);
the mutant replaces it by NEW (and each --also OLD2 by NEW2, in the same
file: an include the mutated line needs, say).  The patch (two lines of context, so that
it survives unrelated edits nearby) goes to test/mutation/mutants/, after
its "# bug:" and "# suites:" lines.  --force overwrites an existing mutant
(to bring one back in step with changed code).
"""
import argparse
import difflib
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("file")
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--bug", required=True)
    ap.add_argument("--suites", required=True)
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("OLD", "NEW"))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    if not re.fullmatch(r"[0-9]{3}-[a-z0-9-]+", args.name):
        sys.exit("the name must be NNN-short-name")
    out = os.path.join(ROOT, "test", "mutation", "mutants", args.name + ".patch")
    if os.path.exists(out) and not args.force:
        sys.exit(f"{out} exists (--force to replace it)")
    with open(os.path.join(ROOT, args.file), encoding="utf-8") as f:
        text = f.read()
    mutated = text
    for old, new in [(args.old, args.new)] + args.also:
        count = mutated.count(old)
        if count != 1:
            sys.exit(f"{old!r} occurs {count} times in {args.file}; it must occur once")
        mutated = mutated.replace(old, new)
    diff = "".join(difflib.unified_diff(text.splitlines(True), mutated.splitlines(True),
                                        f"a/{args.file}", f"b/{args.file}", n=2))
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"# bug: {args.bug}\n# suites: {args.suites}\n")
        f.write(f"diff --git a/{args.file} b/{args.file}\n")
        f.write(diff)
    print(os.path.relpath(out, ROOT))


if __name__ == "__main__":
    main()
