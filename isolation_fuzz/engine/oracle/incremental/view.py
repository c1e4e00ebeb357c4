"""A history that shares another's identities, canaries and runs, over chosen records.

Design note.  Most bundled invariants are a map over records: each record's verdict
reads only that record and the history's indexes (identities, canaries, who started
which run).  Checking such an invariant on a :class:`HistoryView` holding just the
new records therefore returns exactly the violations the batch function would report
for those records over the whole history, in the same words, from the same code.
The incremental forms lean on that, so the text and evidence of a violation have one
author (:mod:`isolation_fuzz.engine.oracle.invariants`), and a change there reaches both paths.

A view is never appended to: its records are placed as given (``complete_lifecycle``
is handed one connection's open and close records and its deliveries of one run,
with only that run in ``runs`` and ``finished``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from isolation_fuzz.engine.history import History
from isolation_fuzz.model import RECORD_TYPES, Record, RunFinished, RunStarted

__all__ = ["HistoryView"]


class HistoryView(History):
    """``records`` as a history, with ``base``'s identities, canaries and runs.

    Args:
        base: the history whose indexes the view shares (read-only).
        records: the records the view holds, in the order given.
        runs: the started runs the view knows (default: all of ``base``'s).
        finished: the finished runs the view knows (default: all of ``base``'s).
    """

    def __init__(
        self,
        base: History,
        records: Iterable[Record],
        *,
        runs: Mapping[str, RunStarted] | None = None,
        finished: Mapping[str, RunFinished] | None = None,
    ) -> None:
        # Not History.__init__: the indexes are shared, not rebuilt, and the records
        # are placed without append's checks (a view may hold one run's records only).
        self.capabilities = base.capabilities
        self.identities = base.identities
        self.canaries = base.canaries
        self.runs = base.runs if runs is None else dict(runs)
        self.finished = base.finished if finished is None else dict(finished)
        self.entries = list(records)
        self._by_type: dict[type[Any], list[Any]] = {cls: [] for cls in RECORD_TYPES.values()}
        for record in self.entries:
            self._by_type[type(record)].append(record)
