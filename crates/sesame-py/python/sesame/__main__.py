"""``python -m sesame …``: runs the ``sesame`` command with the same arguments.

The command is a separate binary (crate ``sesame-cli``); it is found through
``$SESAME_CLI`` or on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import sys


def main() -> int:
    cli = os.environ.get("SESAME_CLI") or shutil.which("sesame")
    if not cli:
        sys.stderr.write(
            "sesame: the `sesame` command is not installed (it is not part of the Python package); "
            "build it with `cargo install --path crates/sesame-cli`, or set SESAME_CLI to its path\n"
        )
        return 127
    os.execv(cli, [cli, *sys.argv[1:]])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
