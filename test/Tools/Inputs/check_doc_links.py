#!/usr/bin/env python3
"""Checks that the repository's Markdown files point only at files inside
the repository that exist: every relative link `[text](path)` and every
backticked relative path that starts with `../` or `./`.

    check_doc_links.py ROOT [FILE.md ...]

Without files, checks README.md, examples/README.md and docs/*.md under
ROOT. Prints one line per bad reference and `N files, M references, K bad`;
exits 1 if any is bad.
"""

import re
import sys
from pathlib import Path

LINK = re.compile(r"\]\(([^)\s]+)\)")
TICKED = re.compile(r"`(\.\.?/[^`\s]+)`")


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    files = [Path(f).resolve() for f in sys.argv[2:]] or (
        [root / "README.md", root / "examples" / "README.md"]
        + sorted((root / "docs").glob("*.md")))
    refs = bad = 0
    for md in files:
        text = md.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            found = [(m.start(), m[1]) for m in LINK.finditer(line)]
            found += [(m.start(), m[1]) for m in TICKED.finditer(line)]
            for _, target in sorted(found):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL or an anchor in the same page
                refs += 1
                path = (md.parent / target.split("#")[0]).resolve()
                where = f"{md.relative_to(root)}:{lineno}: '{target}'"
                if root not in path.parents and path != root:
                    print(f"{where} is outside the repository")
                    bad += 1
                elif not path.exists():
                    print(f"{where} does not exist")
                    bad += 1
    print(f"{len(files)} files, {refs} references, {bad} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
