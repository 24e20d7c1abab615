"""The README's before/after example runs against the bundled provider."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "before_after.py"


def test_before_after_example(idp, clean_env):
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), idp.issuer],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("before: m2m-basic") and lines[1].startswith("after:  m2m-basic")
