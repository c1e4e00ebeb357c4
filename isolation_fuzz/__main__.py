"""``python -m isolation_fuzz``: the same command as the ``isolation-fuzz`` script."""

from __future__ import annotations

import sys

from isolation_fuzz.cli import main

if __name__ == "__main__":
    sys.exit(main())
