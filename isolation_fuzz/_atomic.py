"""Whole-file writes: a reader sees the old file or the new one, never half of either.

The temporary file comes from :func:`tempfile.mkstemp`, which makes it 0600 whatever
the umask; it is given the mode ``open()`` would have given a new file (0644 under
the usual umask 022) before it is renamed into place, so a shared nightly report
folder stays readable by the team (issue 10).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read by setting it and putting it back at once.

    Another thread creating a file in between would get 022; ours never do.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
