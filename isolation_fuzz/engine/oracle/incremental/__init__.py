"""The incremental oracle: every invariant checked at a cost that follows the records added.

Contract.  :class:`IncrementalOracle` watches one growing
:class:`~isolation_fuzz.engine.history.History` and, at each ``check``, returns
exactly what the batch oracle (:func:`isolation_fuzz.engine.oracle.invariants.check`, the
reference) would return for the whole history, while looking only at the records
added since the last check and the per-run, per-connection and per-identity-store
state they touch (issue 14).  ``Execution.check`` (``run``) and stress's
``IncrementalChecker`` use it; the property test in ``tests/engine/test_incremental.py``
holds it to the batch oracle record by record.

What lives here: the oracle itself, the registered invariants checked as the history
grows (``core``); the interface every incremental form follows and the forms of the
per-record invariants (``forms``); the forms of ``complete_lifecycle`` (``lifecycle``)
and of ``read_your_writes`` (``reads``); the read model without the writes no read to
come can see, which keeps reads cheap (``pruned``); and a history that shares
another's identities, canaries and runs over chosen records (``view``).

Only the engine imports this package; it imports the engine's history, records,
invariant registry and the bundled invariants, never a platform, driver or reporter.
"""

from __future__ import annotations

from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle

__all__ = ["IncrementalOracle"]
