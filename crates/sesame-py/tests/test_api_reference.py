"""The Python API reference in docs/python.md (between ``<!-- api:start -->`` and
``<!-- api:end -->``) is rendered from the type stubs' signatures and docstrings
(``python/sesame/_sesame.pyi``), so it cannot drift from what the package declares.

Regenerate with ``SESAME_BLESS=1 bash scripts/test-python -k api_reference`` and commit.
"""

import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STUBS = ROOT / "crates" / "sesame-py" / "python" / "sesame" / "_sesame.pyi"
DOC = ROOT / "docs" / "python.md"
START, END = "<!-- api:start -->", "<!-- api:end -->"
CLASSES = ["Session", "AsyncSession", "Response", "Headers"]


def first_paragraph(node: ast.AST) -> str:
    doc = ast.get_docstring(node) or ""
    para = doc.strip().split("\n\n")[0]
    text = " ".join(line.strip() for line in para.splitlines())
    # reST roles and literals to Markdown.
    text = re.sub(r":(?:class|func|meth|attr):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def signature(fn: ast.FunctionDef) -> str:
    args = ast.unparse(fn.args)
    args = re.sub(r"^self(, )?", "", args)
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"{fn.name}({args}){returns}"


def is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def render() -> str:
    tree = ast.parse(STUBS.read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    out = []
    for name in CLASSES:
        cls = classes[name]
        out.append(f"### `sesame.{name}`\n")
        summary = first_paragraph(cls)
        if summary:
            out.append(f"{summary}\n")
        seen = set()
        for fn in cls.body:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if fn.name.startswith("_") and fn.name != "__init__":
                continue
            if fn.name in seen:  # overloads and property setters: the first one speaks
                continue
            seen.add(fn.name)
            prefix = "async " if isinstance(fn, ast.AsyncFunctionDef) else ""
            if fn.name == "__init__":
                sig = signature(fn).replace("__init__", name, 1).split(" -> ")[0]
            elif is_property(fn):
                ret = f": {ast.unparse(fn.returns)}" if fn.returns is not None else ""
                sig = f"{fn.name}{ret}"
            else:
                sig = prefix + signature(fn)
            text = first_paragraph(fn)
            out.append(f"- `{sig}`" + (f" — {text}" if text else ""))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def test_python_api_reference_matches_the_stubs():
    doc = DOC.read_text()
    assert START in doc and END in doc, f"{DOC} lacks the {START} … {END} block"
    before, rest = doc.split(START, 1)
    _, after = rest.split(END, 1)
    generated = render()
    current = rest.split(END, 1)[0].strip("\n") + "\n"
    if os.environ.get("SESAME_BLESS") == "1":
        DOC.write_text(f"{before}{START}\n{generated}{END}{after}")
        return
    assert current == generated, (
        "docs/python.md's API reference is out of date: "
        "SESAME_BLESS=1 bash scripts/test-python -k api_reference"
    )


def test_the_renderer_sees_every_public_method():
    text = render()
    for name in ["Session(", "`token(", "`login(", "async token(", "raise_for_status("]:
        assert name in text, name
    assert "_exchange" not in text and "_AuthExchange" not in text
