"""Frozen records shared by every part of isolation-fuzz.

These are plain data: no I/O, no references to engines or drivers.  Strategies
produce them, targets consume and emit them, the history stores them, the oracle
reads them and the reports print them.  Each has a JSON form (``to_json`` /
``from_json``) so scenarios and reports never depend on pickling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self, cast, get_args

from isolation_fuzz.evidence import evidence_from_json

__all__ = [
    "CORE_TOOLS",
    "EVENT_KINDS",
    "RECORD_TYPES",
    "STORES",
    "TOOLS",
    "VALUED_TOOLS",
    "ConnectionClosed",
    "ConnectionOpened",
    "Event",
    "EventDelivered",
    "EventKind",
    "ForgedAttempt",
    "Plan",
    "Record",
    "ResidueProbed",
    "RunBlocked",
    "RunFinished",
    "RunStarted",
    "Store",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Violation",
    "record_from_json",
    "record_to_json",
    "violation_text",
]

Store = Literal["redis", "postgres", "clickhouse"]
Tool = Literal["remember", "recall", "list", "aggregate", "forget", "scratch"]
EventKind = Literal[
    "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"
]

STORES: tuple[Store, ...] = get_args(Store)
TOOLS: tuple[Tool, ...] = get_args(Tool)
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

#: Tools that need a key; ``remember`` also needs a value.
KEYED_TOOLS: frozenset[str] = frozenset({"remember", "recall", "forget"})
#: Tools that need a value: ``remember`` (the user's memory) and ``scratch`` (kept in the
#: request's own scratch, which the call reads back whole: request-scoped data).
VALUED_TOOLS: frozenset[str] = frozenset({"remember", "scratch"})
#: The tools every target is drawn by default; ``scratch`` only for a target declaring it.
CORE_TOOLS: tuple[Tool, ...] = ("remember", "recall", "list", "aggregate", "forget")


@dataclass(frozen=True)
class ToolCall:
    """One tool call of an agent plan: ``tool`` applied to ``store``.

    ``key`` is required by remember / recall / forget; ``value`` by remember and
    scratch.  ``scratch`` keeps its value in the request's own scratch (request-scoped
    data) and returns every value the request kept in that store so far, in order.
    """

    tool: Tool
    store: Store
    key: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.tool not in TOOLS:
            raise ValueError(f"unknown tool {self.tool!r}; expected one of {TOOLS}")
        if self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r}; expected one of {STORES}")
        if self.tool in KEYED_TOOLS and self.key is None:
            raise ValueError(f"tool {self.tool!r} needs a key")
        if self.tool in VALUED_TOOLS and self.value is None:
            raise ValueError(f"tool {self.tool!r} needs a value")

    def to_json(self) -> dict[str, Any]:
        """The JSON form; absent key / value are left out."""
        out: dict[str, Any] = {"tool": self.tool, "store": self.store}
        if self.key is not None:
            out["key"] = self.key
        if self.value is not None:
            out["value"] = self.value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        """Rebuild a call from `to_json`'s output (validated like any new call)."""
        return cls(
            tool=cast(Tool, data["tool"]),
            store=cast(Store, data["store"]),
            key=data.get("key"),
            value=data.get("value"),
        )

    def describe(self) -> str:
        """A short human form, e.g. ``remember(redis, 'k', 'v')``."""
        args: list[str] = [self.store]
        if self.key is not None:
            args.append(repr(self.key))
        if self.value is not None:
            args.append(repr(self.value))
        return f"{self.tool}({', '.join(args)})"


Plan = tuple[ToolCall, ...]


@dataclass(frozen=True)
class Event:
    """An agent progress event, as emitted by a run and delivered to a connection.

    ``seq`` numbers the events of one run from 0; ``payload`` holds the
    kind-specific data (for ``tool_completed``, the tool's result).  ``kind`` is
    one of `EVENT_KINDS` for the reference platform, but any non-empty text is
    carried: a target may declare kinds of its own (issue 11), and an event of a
    kind nobody declared is still routed and checked for routing, never rejected.
    """

    kind: EventKind | str
    user_id: str
    thread_id: str
    run_id: str
    seq: int
    payload: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the payload must itself be JSON-like)."""
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "seq": self.seq,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from `to_json`'s output; any non-empty text is a kind."""
        kind = data["kind"]
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"an event kind must be non-empty text, got {kind!r}")
        return cls(
            kind=kind,
            user_id=str(data["user_id"]),
            thread_id=str(data["thread_id"]),
            run_id=str(data["run_id"]),
            seq=int(data["seq"]),
            payload=dict(data.get("payload") or {}),
        )


# -- history records ------------------------------------------------------------------
#
# What the state machine observed, step by step.  ``identity`` is always the short
# name of an identity ("A", "B"), never a token; the history maps names to user ids.


class _RecordJson:
    """``to_json`` / ``from_json`` for every history record, through one tagged codec.

    One codec (`record_to_json` / `record_from_json`) rather than eight hand-written
    pairs: a field added to a record cannot then be forgotten by its JSON form.
    """

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this record, tagged with its type (see `record_to_json`)."""
        return record_to_json(cast("Record", self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a record of this type; the ``type`` tag may be omitted, not contradicted."""
        tag = data.get("type", cls.__name__)
        if tag != cls.__name__:
            raise ValueError(f"expected a {cls.__name__} record, got type {tag!r}")
        return cast(Self, record_from_json({**data, "type": cls.__name__}))


@dataclass(frozen=True)
class RunStarted(_RecordJson):
    """An identity started an agent run on a thread with a plan."""

    step: int
    run_id: str
    identity: str
    user_id: str
    thread_id: str
    plan: Plan


@dataclass(frozen=True)
class ToolResult(_RecordJson):
    """The result the target returned for one tool call of a finished run."""

    step: int
    run_id: str
    identity: str
    index: int
    call: ToolCall
    result: Any


@dataclass(frozen=True)
class RunFinished(_RecordJson):
    """A run ended: ``ok`` with results, or with a (redacted) error."""

    step: int
    run_id: str
    identity: str
    ok: bool
    error: str | None


@dataclass(frozen=True)
class EventDelivered(_RecordJson):
    """An event arrived on a connection opened by ``identity``."""

    step: int
    connection_id: str
    identity: str
    event: Event


@dataclass(frozen=True)
class ConnectionOpened(_RecordJson):
    """``identity`` opened an event connection."""

    step: int
    connection_id: str
    identity: str


@dataclass(frozen=True)
class ConnectionClosed(_RecordJson):
    """``identity`` closed an event connection."""

    step: int
    connection_id: str
    identity: str


@dataclass(frozen=True)
class ForgedAttempt(_RecordJson):
    """``identity`` presented a forged token to connect or run; what came of it."""

    step: int
    identity: str
    kind: str
    action: str
    accepted: bool
    observed: Any


@dataclass(frozen=True)
class ResidueProbed(_RecordJson):
    """Request-scoped data of a finished run was still stored in ``store``."""

    step: int
    run_id: str
    identity: str
    store: str
    leftovers: tuple[str, ...]


@dataclass(frozen=True)
class RunBlocked(_RecordJson):
    """A run reached no checkpoint within ``timeout`` seconds: stuck, neither paused nor done.

    Recorded, not raised: the invariant ``runs_make_progress`` reports it.
    """

    step: int
    run_id: str
    identity: str
    timeout: float


Record = (
    RunStarted
    | ToolResult
    | RunFinished
    | EventDelivered
    | ConnectionOpened
    | ConnectionClosed
    | ForgedAttempt
    | ResidueProbed
    | RunBlocked
)

RECORD_TYPES: dict[str, type[Record]] = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        ToolResult,
        RunFinished,
        EventDelivered,
        ConnectionOpened,
        ConnectionClosed,
        ForgedAttempt,
        ResidueProbed,
        RunBlocked,
    )
}


def record_to_json(record: Record) -> dict[str, Any]:
    """The JSON form of a history record, tagged with its type."""
    out: dict[str, Any] = {"type": type(record).__name__}
    for name, value in vars(record).items():
        if name == "plan":
            out[name] = [call.to_json() for call in value]
        elif isinstance(value, ToolCall | Event):
            out[name] = value.to_json()
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def record_from_json(data: Mapping[str, Any]) -> Record:
    """Rebuild a record from `record_to_json`'s output; rejects unknown types."""
    cls = RECORD_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown history record type {data.get('type')!r}")
    values = {k: v for k, v in data.items() if k != "type"}
    if "plan" in values:
        values["plan"] = tuple(ToolCall.from_json(c) for c in values["plan"])
    if "call" in values:
        values["call"] = ToolCall.from_json(values["call"])
    if "event" in values:
        values["event"] = Event.from_json(values["event"])
    if "leftovers" in values:
        values["leftovers"] = tuple(values["leftovers"])
    try:
        return cls(**values)
    except TypeError as exc:  # a missing or unknown field: bad input, not a bug here
        raise ValueError(f"malformed {cls.__name__} record {dict(data)!r}: {exc}") from exc


@dataclass(frozen=True)
class Violation:
    """An invariant that did not hold: which, how, when, who, and the evidence.

    ``evidence`` is typed (an `isolation_fuzz.evidence.Evidence` record per anomaly)
    for the bundled invariants; any JSON-like mapping is accepted from others.
    `violation_text` renders the line a person reads.
    """

    invariant: str
    anomaly: str
    step: int
    identities: tuple[str, ...]
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the evidence must itself be JSON-like)."""
        return {
            "invariant": self.invariant,
            "anomaly": self.anomaly,
            "step": self.step,
            "identities": list(self.identities),
            "message": self.message,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Violation:
        """Rebuild a violation from `to_json`'s output."""
        return cls(
            invariant=str(data["invariant"]),
            anomaly=str(data["anomaly"]),
            step=int(data["step"]),
            identities=tuple(data["identities"]),
            message=str(data["message"]),
            evidence=evidence_from_json(str(data["anomaly"]), dict(data.get("evidence") or {})),
        )


def violation_text(violation: Violation) -> str:
    """The one line that says what went wrong: ``[invariant] Anomaly: message``.

    Every text form (the verdict, JUnit, a replay's explanation) prints a violation
    through this function, so they cannot drift apart.
    """
    return f"[{violation.invariant}] {violation.anomaly}: {violation.message}"
