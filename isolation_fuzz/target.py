"""The adapter protocol between the fuzz engine and a system under test.

A user adapts their own backend by writing one object with these few async
methods (no subclassing): the engine calls them from inside its campaign event
loop and never imports the system itself.  The bundled reference platform is one
implementation (``isolation_fuzz.platform.reference``); its seeded-bug variants are
others.

Contract, in the engine's words:

* ``run(token, thread_id, plan, run_id)`` performs one agent execution as whoever
  the token says, calling :func:`isolation_fuzz.checkpoint.checkpoint` around its
  store operations and event emissions, and returns one JSON-like result per tool
  call.  A rejected token raises :class:`isolation_fuzz.errors.AuthError` before
  anything runs.
* ``connect(token)`` opens an event stream as whoever the token says (a real
  WebSocket or an in-process channel); rejected tokens raise ``AuthError``.
* ``residue(run_id)`` reports request-scoped data of a finished run that is still
  stored (empty when cleanup worked); a target that cannot tell returns ``{}``.
* ``reset()`` removes all data the example created, so examples stay independent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Event, Plan

__all__ = [
    "EventStream",
    "Target",
    "TargetFactory",
    "TargetSpec",
    "open_target",
    "register_target",
    "resolve_target",
]


@runtime_checkable
class EventStream(Protocol):
    """Events delivered to one connection, in arrival order."""

    connection_id: str

    def take(self) -> list[Event]:
        """Return (and forget) the events received since the last call."""
        ...

    async def sync(self) -> None:
        """Return once every event the target sent before this call has been received."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Target(Protocol):
    """One system under test, shared by the examples of a campaign."""

    async def connect(self, token: str) -> EventStream: ...

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]: ...

    async def residue(self, run_id: str) -> Mapping[str, list[str]]: ...

    async def reset(self) -> None: ...


@dataclass(frozen=True)
class TargetSpec:
    """Which target to fuzz: a registered name (``reference``, ``zoo:<bug>``) and options."""

    name: str = "reference"
    transport: str = "local"  # "local" (in-process events) or "websocket" (real sockets)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "transport": self.transport}


#: ``factory(spec, services, auth) -> async context manager yielding a Target``.
TargetFactory = Callable[[TargetSpec, Any, Any], AbstractAsyncContextManager[Target]]

# Targets register lazily by module path so the engine never imports them up front.
_REGISTRY: dict[str, str | TargetFactory] = {
    "reference": "isolation_fuzz.platform.reference:open_reference_target",
}


def register_target(name: str, factory: str | TargetFactory) -> None:
    """Make ``name`` selectable: ``factory`` is a callable or ``"module:function"``."""
    _REGISTRY[name] = factory


def _resolve(spec: TargetSpec) -> TargetFactory:
    name = spec.name
    path = _REGISTRY.get(name)
    if path is None and name.startswith("zoo:"):
        path = f"isolation_fuzz.platform.bugs.{name[4:]}:open_target"
    if path is None:
        raise UsageError(
            f"unknown target {name!r}; choose one of {sorted(_REGISTRY)} or 'zoo:<bug>'"
        )
    if not isinstance(path, str):
        return path
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UsageError(f"target {name!r} cannot be loaded: {exc}") from exc
    factory: TargetFactory = getattr(module, attr)
    return factory


def resolve_target(spec: TargetSpec) -> TargetFactory:
    """The factory for ``spec``, or a `UsageError` naming the choices (checked up front)."""
    if spec.transport not in ("local", "websocket"):
        raise UsageError(f"unknown transport {spec.transport!r}; use 'local' or 'websocket'")
    return _resolve(spec)


def open_target(spec: TargetSpec, services: Any, auth: Any) -> AbstractAsyncContextManager[Target]:
    """Open the target named by ``spec`` on ``services`` with the campaign's auth config."""
    return resolve_target(spec)(spec, services, auth)


