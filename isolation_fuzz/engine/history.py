"""The history: the append-only record of everything one example did and observed.

The state machine appends; the oracle and the reports only read.  Besides the
records in order, the history knows the identities (short name to user id), the
canaries each one wrote, and each run's start and finish records, which is all
the oracle needs to attribute what was observed.

The oracle runs after every step of an example, so the indexes it leans on
(`runs`, `finished`, per-type lists) are kept up to date on `append` instead of
being rebuilt from the entries each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.canary import CanaryRegistry
from isolation_fuzz.model import (
    RECORD_TYPES,
    Record,
    RunFinished,
    RunStarted,
    record_from_json,
    record_to_json,
)

__all__ = ["History"]

R = TypeVar("R")


class History:
    """Records in the order they happened, with identities, canaries and runs.

    Attributes:
        entries: every record, in the order appended (steps never decrease).
        identities: identity name ("A") to the user id it acts as.
        canaries: which identity wrote which canary.
        runs: run id to the record that started it.
        finished: run id to the record that ended it, for runs that ended.
        capabilities: what the target declared; ``complete_lifecycle`` reads its
            event kinds (the defaults: the reference platform's five).
    """

    def __init__(self, capabilities: Capabilities | None = None) -> None:
        self.capabilities = capabilities if capabilities is not None else Capabilities()
        self.entries: list[Record] = []
        self.identities: dict[str, str] = {}
        self.canaries = CanaryRegistry()
        self.runs: dict[str, RunStarted] = {}
        self.finished: dict[str, RunFinished] = {}
        #: Runs whose tasks ran other than awaited by them (set before their
        #: ``RunFinished``): their calls are not in plan order for the read model (a
        #: fire-and-forget write lands when its task runs).
        self.tasked: set[str] = set()
        self._by_type: dict[type[Any], list[Any]] = {cls: [] for cls in RECORD_TYPES.values()}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def last_step(self) -> int:
        """The step of the newest record, or 0 for an empty history."""
        return self.entries[-1].step if self.entries else 0

    def add_identity(self, name: str, user_id: str) -> None:
        """Register identity ``name`` acting as ``user_id``.

        Raises:
            ValueError: ``name`` is already registered as another user.
        """
        if name in self.identities and self.identities[name] != user_id:
            raise ValueError(f"identity {name} is already user {self.identities[name]!r}")
        self.identities[name] = user_id

    def user_id(self, name: str) -> str | None:
        """The user id identity ``name`` acts as, or None for an unknown identity."""
        return self.identities.get(name)

    def append(self, record: Record) -> None:
        """Add ``record`` at the end.

        Raises:
            ValueError: the record's step is before the last one's, or it starts a run
                that already started, or ends a run that already ended.  Such a history
                could not be replayed, so refusing it here points at the recording bug.
        """
        if self.entries and record.step < self.entries[-1].step:
            raise ValueError(
                f"record at step {record.step} appended after step {self.entries[-1].step}"
            )
        if isinstance(record, RunStarted):
            if record.run_id in self.runs:
                raise ValueError(f"run {record.run_id} started twice")
            self.runs[record.run_id] = record
        elif isinstance(record, RunFinished):
            if record.run_id in self.finished:
                raise ValueError(f"run {record.run_id} finished twice")
            self.finished[record.run_id] = record
        self.entries.append(record)
        self._by_type[type(record)].append(record)

    def of_type(self, cls: type[R]) -> list[R]:
        """The records of one type, in order (a copy: the history stays append-only)."""
        found = self._by_type.get(cls)
        if found is None:  # a base class or a union member: fall back to a scan
            return [r for r in self.entries if isinstance(r, cls)]
        return list(found)

    def owner_of_run(self, run_id: str) -> str | None:
        """The identity that started ``run_id``, or None for a run nobody started."""
        started = self.runs.get(run_id)
        return None if started is None else started.identity

    def ok_runs(self) -> list[RunStarted]:
        """The runs that finished successfully, in the order they started."""
        return [
            run for run_id, run in self.runs.items()
            if run_id in self.finished and self.finished[run_id].ok
        ]

    def to_json(self) -> dict[str, Any]:
        """The JSON form: identities, canaries with owners, and every record in order."""
        return {
            "identities": dict(self.identities),
            "canaries": [list(pair) for pair in self.canaries.items()],
            "entries": [record_to_json(r) for r in self.entries],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a history from `to_json`'s output, re-checking it as it is appended."""
        history = cls()
        for name, user_id in data.get("identities", {}).items():
            history.add_identity(name, user_id)
        for canary, owner in data.get("canaries", []):
            history.canaries.register(canary, owner)
        for entry in data.get("entries", []):
            history.append(record_from_json(entry))
        return history
