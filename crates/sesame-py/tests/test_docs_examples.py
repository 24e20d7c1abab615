"""Every ```python block of the book (docs/**/*.md) compiles: the examples use made-up
servers, so they are not run, but a typo in one fails here (the convention is in
docs/README.md#code-blocks; `python,ignore` opts a block out)."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"


def python_blocks():
    for md in sorted(DOCS.rglob("*.md")):
        lines = md.read_text().splitlines()
        i = 0
        while i < len(lines):
            t = lines[i].strip()
            if t.startswith("```python") and not t.endswith(",ignore"):
                start = i + 1
                i += 1
                while not lines[i].strip().startswith("```"):
                    i += 1
                yield md, start, "\n".join(lines[start:i])
            elif t.startswith("```"):
                i += 1
                while i < len(lines) and not lines[i].strip().startswith("```"):
                    i += 1
            i += 1


def test_every_python_block_of_the_book_compiles():
    blocks = list(python_blocks())
    assert blocks, "no python blocks found under docs/"
    bad = []
    for md, line, code in blocks:
        try:
            compile(code, f"{md.name}:{line}", "exec", dont_inherit=True, flags=0x2000)  # top-level await allowed
        except SyntaxError as e:
            bad.append(f"{md.relative_to(DOCS.parent)}:{line + (e.lineno or 1)}: {e.msg}")
    assert not bad, "python blocks that do not compile:\n" + "\n".join(bad)
