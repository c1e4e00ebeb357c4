"""Notebook beta: the row lock that showed up in the slow-query log, removed.

``SELECT ... FOR UPDATE`` made a user's second tab wait while the first one edited,
so the beta reads the notebook plainly.  Two edits of one user then both read the
same notes, and the one that commits last writes back its copy without the other's
note.  Each edit is one SQLAlchemy unit of work, so only a run paused *inside* a
held session shows it.

Shortest interleaving found: 4 moves (seed 1).  A starts a run saving k, then x,
and steps it: it creates the notebook row and reads it.  A starts a second run
saving k and steps it: its insert waits on the first run's uncommitted row, so the
fuzzer moves the first run to its commit, and the second run reads {k}.  In the
final reads the first run saves x ({k, x}); the second, finishing last, writes back
its copy with its own k and without x (``read_your_writes``, at A's final look).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from examples.notebook.app import Notebook, NotebookRow

__all__ = ["NotebookBeta"]


class NotebookBeta(Notebook):
    """Notebook with the edit's row lock removed."""

    async def notebook_for_edit(self, session: AsyncSession, user: str) -> NotebookRow:
        row = await session.get(NotebookRow, user)
        assert row is not None
        return row
