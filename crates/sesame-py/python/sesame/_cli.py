"""The ``sesame`` console script: the Rust command compiled into the extension module.

Why not a separate binary in the wheel: the extension already holds the whole engine, so the
command adds only its argument parsing and printing, and ``sesame`` and ``import sesame``
can never be different versions. The command runs with the GIL released and logs to stderr
as the standalone binary does.
"""

from __future__ import annotations

import sys
from typing import List, Optional


def run(argv: Optional[List[str]] = None) -> int:
    """Runs ``sesame ARGS…`` in this process and returns its exit code."""
    from . import _sesame

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(_sesame._cli_main(["sesame", *args]))
    except KeyboardInterrupt:
        # Ctrl-C: the command has stopped and said so; 130 as from the binary.
        return 130


def main() -> None:
    sys.exit(run())
