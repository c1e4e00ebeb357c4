"""Shrinking identities: delete one that no move needs, and rename the rest to match.

Design note (issue 13).  Identities are named ``A``, ``B``, ... in the order they log
in, and a scenario file insists on it; the engine derives from a name its log-in
connection (``c1`` for A, ``c2`` for B, ...), its canaries and its key mark.  Deleting
any identity but the last therefore renames every identity after it, and the moves
must follow:

* a move's ``identity`` and its ``extra.victim`` take the new names;
* a log-in connection id takes its identity's new position (deleting A makes B's
  ``c2`` into the new A's ``c1``); connections opened by ``connect`` and
  ``reconnect`` moves keep their ids, which are numbered after every log-in
  connection and so never collide with the renumbered ones;
* plans keep the canaries and key marks they were recorded with: a replay registers
  what a plan carries to the move's (new) identity, so ownership follows the rename.

An identity is deletable when no chosen move names it as actor or victim; the
deleted identity's own connections then have no moves either (every connection move
names its identity).  Whether the failure survives without it is for the replay to
say: an identity with no moves still listens on its connection and looks at its data
in the final reads, which is sometimes exactly where a leak shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from isolation_fuzz.engine.trace import Move

__all__ = ["drop_identity", "unused_identities"]

_NAMES = "ABCDEFGH"


def unused_identities(identities: Mapping[str, str], moves: Sequence[Move]) -> list[str]:
    """The identities no move names as actor or victim, last first (in log-in order)."""
    used = {m.identity for m in moves} | {m.extra.get("victim") for m in moves}
    return [name for name in sorted(identities, reverse=True) if name not in used]


def drop_identity(
    identities: Mapping[str, str], moves: Sequence[Move], name: str
) -> tuple[dict[str, str], tuple[Move, ...]]:
    """``identities`` without ``name``, renamed ``A``, ``B``, ..., and ``moves`` to match.

    Moves that name ``name`` are dropped too (callers pass an unused identity, so
    there are none).
    """
    order = sorted(identities)
    survivors = [old for old in order if old != name]
    rename = {old: _NAMES[index] for index, old in enumerate(survivors)}
    login = {f"c{order.index(old) + 1}": f"c{index + 1}" for index, old in enumerate(survivors)}
    fewer = {rename[old]: identities[old] for old in survivors}
    out = []
    for move in moves:
        if move.identity == name or move.extra.get("victim") == name:
            continue
        extra = dict(move.extra)
        if "victim" in extra:
            extra["victim"] = rename[str(extra["victim"])]
        if "opened" in extra:
            extra["opened"] = login.get(str(extra["opened"]), str(extra["opened"]))
        connection = move.connection_id
        out.append(replace(
            move,
            identity=rename.get(move.identity) if move.identity is not None else None,
            connection_id=login.get(connection, connection) if connection else connection,
            extra=extra,
        ))
    return fewer, tuple(out)
