"""Deprecated: the old path of ``reproduce``, kept one release for exported regression tests.

A regression test exported by isolation-fuzz 0.1.0 imports its names from
``isolation_fuzz.engine.reproduce``.  They now live on the public face,
``from isolation_fuzz import ...``, and this module forwards to it with a
``DeprecationWarning``.  Re-export the test (``isolation-fuzz replay --export-test``)
or change its import; this module goes in the next release.
"""

from __future__ import annotations

import warnings
from typing import Any

import isolation_fuzz

_NAMES = ("ReplayReport", "export_test", "replay_scenario")


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"{__name__}.{name} moved: import it with 'from isolation_fuzz import {name}'",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(isolation_fuzz, name)
