"""The incremental oracle: every invariant checked at a cost that follows the records added.

Contract.  :class:`IncrementalOracle` watches one growing
:class:`~isolation_fuzz.engine.history.History` and, at each ``check``, returns
exactly what the batch oracle (:func:`isolation_fuzz.engine.oracle.check`, the
reference) would return for the whole history, while looking only at the records
added since the last check and the per-run, per-connection and per-identity-store
state they touch (issue 14).  ``Execution.check`` (``run``) and stress's
``IncrementalChecker`` use it; the property test in ``tests/engine/test_incremental.py``
holds it to the batch oracle record by record.

Only the engine imports this package; it imports the engine's history, records,
invariant registry and the bundled invariants, never a platform, driver or reporter.
"""

from __future__ import annotations

from isolation_fuzz.engine.incremental.core import IncrementalOracle

__all__ = ["IncrementalOracle"]
