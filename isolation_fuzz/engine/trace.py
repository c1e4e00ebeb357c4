"""Moves: what the state machine did, step by step, in a form people and files can read.

A failing example is reported as its identities and its list of moves.  The same
list, replayed in order against the same target, reproduces the example exactly,
because only one run moves at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from isolation_fuzz.display import show_id
from isolation_fuzz.model import Plan, ToolCall

__all__ = ["CONNECTION_MOVES", "Move", "MoveKind", "format_moves", "scenario_length"]

#: What a move can be.  Every identity opens one connection at log-in; the three
#: connection moves (issue 13) then close one (``disconnect``), replace one
#: (``reconnect``: closed, and a new one opened for the same identity) or open one
#: more beside the others (``connect``: a second tab).
MoveKind = Literal[
    "start_run", "step", "finish", "look", "forge", "connect", "disconnect", "reconnect"
]

#: The moves that open or close connections.
CONNECTION_MOVES: tuple[MoveKind, ...] = ("connect", "disconnect", "reconnect")


@dataclass(frozen=True)
class Move:
    """One rule the state machine executed, with the choices it drew and what happened.

    ``outcome`` is the scheduler's word for where the moved run stopped:
    ``paused at <checkpoint>``, ``finished``, ``failed: ...``, ``blocked``,
    or ``rejected`` / ``accepted`` for forged tokens.

    ``connection_id`` names the connection a connection move opened (``connect``)
    or closed (``disconnect``, ``reconnect``); a reconnect's new connection is
    ``opened``.  Ids are the engine's (``c1`` is A's log-in connection), recorded so
    that a replay, and a shrunk replay with moves deleted, opens the same ones.
    """

    step: int
    kind: MoveKind
    identity: str | None = None
    run_id: str | None = None
    thread_id: str | None = None
    plan: Plan = ()
    connection_id: str | None = None
    forgery: str | None = None
    action: str | None = None
    outcome: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def opened(self) -> str | None:
        """The connection a ``reconnect`` opened in place of the one it closed."""
        value = self.extra.get("opened")
        return str(value) if value is not None else None

    @property
    def final(self) -> bool:
        """Whether this move is one of the final reads that end every example."""
        return bool(self.extra.get("final"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "kind": self.kind}
        for name in ("identity", "run_id", "thread_id", "connection_id", "forgery", "action"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.plan:
            out["plan"] = [call.to_json() for call in self.plan]
        if self.outcome:
            out["outcome"] = self.outcome
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Move:
        return cls(
            step=int(data["step"]),
            kind=data["kind"],
            identity=data.get("identity"),
            run_id=data.get("run_id"),
            thread_id=data.get("thread_id"),
            plan=tuple(ToolCall.from_json(c) for c in data.get("plan", ())),
            connection_id=data.get("connection_id"),
            forgery=data.get("forgery"),
            action=data.get("action"),
            outcome=data.get("outcome", ""),
            extra=dict(data.get("extra") or {}),
        )

    def describe(self) -> str:
        """One line, e.g. ``#3 A starts run r1 on thread 't1': remember(redis, 'k', ...)``."""
        who = self.identity or "?"
        if self.kind == "start_run":
            calls = "; ".join(call.describe() for call in self.plan)
            text = f"{who} starts run {self.run_id} on thread {show_id(self.thread_id)}: {calls}"
        elif self.kind == "step":
            text = f"step run {self.run_id} ({who})"
        elif self.kind == "finish":
            text = f"let run {self.run_id} ({who}) finish"
        elif self.kind == "look":
            text = f"{who} looks at their data in {len(self.plan)} store(s) (run {self.run_id})"
        elif self.kind == "connect":
            text = f"{who} opens another connection {self.connection_id}"
        elif self.kind == "disconnect":
            text = f"{who} closes connection {self.connection_id}"
        elif self.kind == "reconnect":
            text = f"{who} reconnects: closes {self.connection_id}, opens {self.opened}"
        else:
            text = f"{who} tries a forged token ({self.forgery}) to {self.action}"
        return f"#{self.step:<3} {text}" + (f"  -> {self.outcome}" if self.outcome else "")


def format_moves(identities: Mapping[str, str], moves: Sequence[Move]) -> str:
    """The identities with their user ids, then the moves in order, one per line."""
    if any(move.kind in CONNECTION_MOVES for move in moves):
        lines = ["identities (each opens one event connection at log-in: A c1, B c2, ...):"]
    else:
        lines = ["identities (each holds one event connection from the start):"]
    lines += [f"  {name} = user {show_id(uid)}" for name, uid in identities.items()]
    chosen = [move for move in moves if not move.final]
    final = [move for move in moves if move.final]
    lines.append("moves:")
    lines += ["  " + move.describe() for move in chosen]
    if final:
        lines.append("final reads (every run left paused finishes, then every identity looks):")
        lines += ["  " + move.describe() for move in final]
    return "\n".join(lines)


def scenario_length(moves: Sequence[Move]) -> int:
    """The moves the search chose: final reads follow from them and are not counted."""
    return sum(1 for move in moves if not move.final)
