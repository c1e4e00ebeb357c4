"""The agent engine: executes a plan of tool calls for one execution context.

A run emits ``agent_started``, then for each tool call ``agent_thinking``,
``tool_executing`` and ``tool_completed`` (carrying the tool's result), then
``agent_completed``.  Each tool call first leaves a note in the request's scratch
(request-scoped data, removed by cleanup) and then acts on the user's memories in
the call's store.  A ``scratch`` call's note is the value it keeps (marked with
`KEPT`), and the call returns every value the request kept in that store so far,
read back from the request's own scratch.  At start the agent resumes the thread
from the summary the user's previous run on it saved (reported in
``agent_started``); at the end it saves a new summary.

Seams: seeded-bug variants (``isolation_fuzz.platform.bugs``) override exactly one of
``_begin``, ``_acting_user`` or ``_state_key``; everything else stays shared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.model import Plan, Store, ToolCall
from isolation_fuzz.platform.context import UserDataContext, UserExecutionContext
from isolation_fuzz.platform.events import EmitterFactory, RunEmitter
from isolation_fuzz.platform.redis_context import UserRedisContext

__all__ = ["KEPT", "AgentEngine", "ContextOpener"]

#: How a value kept by a ``scratch`` call is noted, apart from the notes of calls.
KEPT = "kept "

#: ``opener(store, ctx)`` returns a new, not yet initialised context for ``ctx.user_id``.
ContextOpener = Callable[[Store, UserExecutionContext], UserDataContext]


@dataclass
class _RunState:
    ctx: UserExecutionContext
    emitter: RunEmitter
    contexts: dict[Store, UserDataContext] = field(default_factory=dict)


class AgentEngine:
    """Runs agent plans; one engine serves every user of a platform instance."""

    def __init__(self, open_context: ContextOpener, emitters: EmitterFactory) -> None:
        self._open_context = open_context
        self._emitters = emitters
        # Per-run bookkeeping, keyed by `_state_key`: the run id, so runs never share it.
        self._active: dict[str, _RunState] = {}

    # -- seams -------------------------------------------------------------------

    def _begin(self, ctx: UserExecutionContext) -> None:
        """Called synchronously when a request starts (a variant records a global here)."""

    def _acting_user(self, ctx: UserExecutionContext) -> str:
        """The user a store context is opened for: always the request's own user."""
        return ctx.user_id

    def _state_key(self, ctx: UserExecutionContext) -> str:
        """The key of a run's bookkeeping entry: unique per run."""
        return ctx.run_id

    # -- execution ---------------------------------------------------------------

    async def execute(self, ctx: UserExecutionContext, plan: Plan) -> list[Any]:
        """Run ``plan`` as ``ctx`` and return one JSON-like result per tool call."""
        self._begin(ctx)
        key = self._state_key(ctx)
        own = _RunState(ctx, self._emitters.for_run(ctx))
        self._active[key] = own
        done = False
        try:
            results = await self._steps(key, own, plan)
            await self._cleanup(own)
            done = True
            return results
        finally:
            if not done:
                # Cancelled or failed: clean up anyway, without pausing at checkpoints,
                # since nobody will step a run that is being torn down.
                with anyio.CancelScope(shield=True), installed_hook(None):
                    await self._cleanup(own)
            if self._active.get(key) is own:
                del self._active[key]
            self._emitters.release(own.emitter)

    async def _steps(self, key: str, own: _RunState, plan: Plan) -> list[Any]:
        state = self._active.get(key, own)
        # Redis holds each user's record of the thread, as in the platforms this models.
        thread = await self._context(state, "redis")
        assert isinstance(thread, UserRedisContext)
        resumed = await thread.load_thread()
        await state.emitter.emit(
            "agent_started", {"plan": [call.to_json() for call in plan], "resumed": resumed}
        )
        results: list[Any] = []
        for index, call in enumerate(plan):
            # Re-read after every await, as long-lived engines do: correct code finds
            # its own entry again; a variant keyed by something shared does not.
            state = self._active.get(key, own)
            await state.emitter.emit("agent_thinking", {"index": index, "tool": call.tool})
            context = await self._context(state, call.store)
            await context.note(_note_for(index, call))
            await state.emitter.emit("tool_executing", {"index": index, "call": call.to_json()})
            result = await _invoke(context, call)
            results.append(result)
            await state.emitter.emit("tool_completed", {"index": index, "result": result})
        state = self._active.get(key, own)
        await thread.save_thread("; ".join(call.describe() for call in plan))
        await state.emitter.emit("agent_completed", {"calls": len(plan)})
        return results

    async def _context(self, state: _RunState, store: Store) -> UserDataContext:
        context = state.contexts.get(store)
        if context is None:
            acting = dataclasses.replace(state.ctx, user_id=self._acting_user(state.ctx))
            context = self._open_context(store, acting)
            state.contexts[store] = context
            await context.initialize()
        return context

    async def _cleanup(self, state: _RunState) -> None:
        for context in list(state.contexts.values()):
            await context.cleanup()


def _note_for(index: int, call: ToolCall) -> str:
    """The scratch note a tool call leaves: what it keeps, or what it does."""
    if call.tool == "scratch" and call.value is not None:
        return KEPT + call.value
    return f"#{index} {call.describe()}"


async def _invoke(context: UserDataContext, call: ToolCall) -> Any:
    if call.tool == "remember":
        assert call.key is not None
        assert call.value is not None
        await context.remember(call.key, call.value)
        return "ok"
    if call.tool == "recall":
        assert call.key is not None
        return await context.recall(call.key)
    if call.tool == "list":
        return await context.list_keys()
    if call.tool == "aggregate":
        return (await context.aggregate()).to_json()
    if call.tool == "scratch":
        return [n[len(KEPT):] for n in await context.own_notes() if n.startswith(KEPT)]
    assert call.key is not None
    return await context.forget(call.key)
