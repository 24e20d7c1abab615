"""``python -m sesame …``: runs the ``sesame`` command (compiled into the package) with the
same arguments, exactly as the ``sesame`` console script does."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main()
