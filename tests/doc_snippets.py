#!/usr/bin/env python3
"""Writes the ```cpp blocks of a markdown file to files a test #includes.

    doc_snippets.py DOC.md OUTDIR STEM COUNT

Block i (counting from 0, in the order they appear) goes to OUTDIR/STEM_i.inc,
preceded by a #line directive, so that a compiler error in a snippet names
the line of DOC.md it is on. Fails when DOC.md has not exactly COUNT blocks:
a block added or removed must be added to or removed from the test too.
"""
import os
import re
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    doc, outdir, stem, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    text = open(doc, encoding="utf-8").read()
    blocks = []
    for m in re.finditer(r"^```cpp\n(.*?)^```", text, re.S | re.M):
        first_line = text.count("\n", 0, m.start(1)) + 1
        blocks.append((first_line, m.group(1)))
    if len(blocks) != count:
        sys.exit("%s: %d ```cpp blocks, the test expects %d" % (doc, len(blocks), count))
    for i, (line, body) in enumerate(blocks):
        path = os.path.join(outdir, "%s_%d.inc" % (stem, i))
        with open(path, "w", encoding="utf-8") as f:
            f.write('#line %d "%s"\n%s' % (line, os.path.abspath(doc), body))


if __name__ == "__main__":
    main()
