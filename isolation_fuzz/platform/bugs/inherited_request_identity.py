"""A write queue's worker, started by the first request, inherits that request's user.

Writes go through a queue drained by one long-lived worker task per Redis client,
started lazily by the first remember; a remember returns once its write is queued.
The platform keeps the acting user in a context variable, and
``asyncio.create_task`` copies the context: the worker runs with the first
request's user forever and files every later user's writes under it
(the class of Llama Stack's write-queue incident, PR #5227).

Shortest interleaving: 2 moves, on a fresh target.  A starts a run that remembers,
B starts one; in the final reads A's run creates the worker (with A's context), B's
queues its write, and the worker files B's value in A's memory (``no_foreign_data``;
B's look misses it, ``read_your_writes``).  On a target an earlier example used it
takes one: the worker outlives its example (``reset()`` clears data, not tasks; at
the example's end the fuzzer lets it go and names it as a task that outlived it), so
A's own value goes under that earlier user and A's look misses it.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, segment
from isolation_fuzz.platform.reference import variant

#: The acting user, as request-scoped frameworks keep it.
_acting_user: ContextVar[str] = ContextVar("acting_user")
#: One write queue (and its worker) per Redis client, that is per platform.
_queues: WeakKeyDictionary[Any, asyncio.Queue[tuple[str, str, str]]] = WeakKeyDictionary()


class QueuedWriteContext(UserRedisContext):
    async def _do_remember(self, key: str, value: str) -> None:
        _acting_user.set(self.ctx.user_id)
        queue = _queues.get(self.redis)
        if queue is None:
            queue = _queues[self.redis] = asyncio.Queue()
            asyncio.create_task(_drain(self.redis, queue))  # noqa: RUF006  (lives on)
        queue.put_nowait((self.prefix, key, value))


async def _drain(redis: Any, queue: asyncio.Queue[tuple[str, str, str]]) -> None:
    while True:
        prefix, key, value = await queue.get()
        owner = _acting_user.get()  # the bug: the first request's, copied at creation
        await redis.set(f"{prefix}mem:{segment(owner)}:{segment(key)}", value)


BUG = SeededBug(
    name="inherited_request_identity",
    shortest=2,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(redis_context=QueuedWriteContext),
    summary=first_line(__doc__),
)
