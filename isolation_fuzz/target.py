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

What a target has (its stores, event kinds, valid user ids) it declares in an
optional ``capabilities`` attribute of its factory: see
:mod:`isolation_fuzz.capabilities` and :func:`declared_capabilities`.

Targets are found by name (``--target NAME``): first among those registered with
:func:`register_target`, then among the ``isolation_fuzz.targets`` entry points of
installed packages.  The bundled platform declares itself there (``reference``, and
the family ``zoo:*`` of its seeded bugs), exactly as a plugin would, so this module
knows no target by name and importing it imports no platform.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from isolation_fuzz.capabilities import Capabilities, capabilities_of
from isolation_fuzz.errors import IsolationFuzzError, TargetFailed, UsageError
from isolation_fuzz.model import Event, Plan

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "Capabilities",
    "EventStream",
    "Target",
    "TargetFactory",
    "TargetSpec",
    "available_targets",
    "declared_capabilities",
    "importable_after_pythonpath",
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
    """Which target to fuzz: a registered name (``reference``, ``zoo:<bug>``...) and options."""

    name: str = "reference"
    transport: str = "local"  # "local" (in-process events) or "websocket" (real sockets)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "transport": self.transport}


#: ``factory(spec, services, auth) -> async context manager yielding a Target``.
TargetFactory = Callable[[TargetSpec, Any, Any], AbstractAsyncContextManager[Target]]

#: The entry-point group that installed packages (the bundled platform included)
#: declare their targets in.  A plain name is one target, whose object is its factory;
#: a name with a ``*`` (``zoo:*``) is a family, whose object maps each of its names
#: to a factory, so the family's names are listed once, by whoever owns them.
ENTRY_POINT_GROUP = "isolation_fuzz.targets"

# A lazy, cached registry (anyio's ``get_async_backend`` is the model): names map to
# factories or ``"module:function"`` paths, and nothing is imported until a name is
# asked for.  On a miss the entry points are consulted (an exact name first, then the
# families whose pattern matches) and whatever they give is cached here.  So neither
# this module nor the engine knows which targets exist, and importing it imports no
# platform (issue 9: the engine used to know the ``zoo:`` prefix).
_REGISTRY: dict[str, str | TargetFactory] = {}
_FAMILIES_LOADED: set[str] = set()


def register_target(name: str, factory: str | TargetFactory) -> None:
    """Make ``name`` selectable: ``factory`` is a callable or ``"module:function"``."""
    _REGISTRY[name] = factory


def available_targets() -> list[str]:
    """Every selectable target name, sorted (this loads every target family)."""
    names = set(_REGISTRY)
    for entry in _entry_points():
        if _is_family(entry.name):
            try:
                _load_family(entry)
            except UsageError:
                names.add(entry.name)  # a broken family: show its pattern at least
        else:
            names.add(entry.name)
    return sorted(names | set(_REGISTRY))


def _entry_points() -> tuple[EntryPoint, ...]:
    from importlib.metadata import entry_points  # only on a miss: it is not free

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _is_family(pattern: str) -> bool:
    return "*" in pattern


def _load(entry: EntryPoint) -> object:
    try:
        return entry.load()
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"target {entry.name!r} ({entry.value}) cannot be loaded: {exc}; "
            "check that its package is installed and the entry point names an existing object"
        ) from exc


def _load_family(entry: EntryPoint) -> None:
    """Register the names of the family ``entry`` (once) that match its pattern."""
    if entry.name in _FAMILIES_LOADED:
        return
    members = _load(entry)
    if not isinstance(members, Mapping):
        raise UsageError(
            f"target family {entry.name!r} ({entry.value}) gives a "
            f"{type(members).__name__}, not a mapping of target names to factories"
        )
    for name, factory in members.items():
        if isinstance(name, str) and fnmatchcase(name, entry.name):
            _REGISTRY.setdefault(name, factory)
    _FAMILIES_LOADED.add(entry.name)


def _from_entry_points(name: str) -> str | TargetFactory | None:
    entries = _entry_points()
    for entry in entries:
        if entry.name == name and not _is_family(entry.name):
            factory = _load(entry)
            if not callable(factory):
                raise UsageError(
                    f"target {name!r} ({entry.value}) is a {type(factory).__name__}, "
                    "not a target factory"
                )
            _REGISTRY.setdefault(name, factory)
            return _REGISTRY[name]
    for entry in entries:
        if _is_family(entry.name) and fnmatchcase(name, entry.name):
            _load_family(entry)
    return _REGISTRY.get(name)


_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _from_import_path(name: str) -> tuple[TargetFactory | None, str]:
    """``package.module:attribute`` as a factory, or ``None`` and why it is not one.

    Tried after the registered names and entry points, so a name such as
    ``zoo:nope`` is first looked up as a name; a path is recorded in scenario files
    as given, so replays and exported tests load the same object with no script.
    """
    if not _IMPORT_PATH.match(name):
        return None, ""
    module_name, _, attr = name.partition(":")
    _cwd_importable()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None, f"no module {module_name!r} to import it from"
        raise UsageError(f"target {name!r}: importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:  # the user's module raised while importing: say so, briefly
        raise UsageError(
            f"target {name!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        return None, f"module {module_name!r} has no attribute {attr!r}"
    if not callable(factory):
        raise UsageError(
            f"target {name!r} is a {type(factory).__name__}, not a target factory "
            "(factory(spec, services, auth) -> async context manager yielding a Target) "
            "or a Target class"
        )
    if isinstance(factory, type):
        factory = _class_factory(name, factory)
    register_target(name, factory)
    return factory, ""


_TARGET_METHODS = ("connect", "run", "residue", "reset")


def _class_factory(name: str, cls: type) -> TargetFactory:
    """A factory for a ``Target`` class: instantiate it, and close it when done.

    The class is called with whichever of ``spec``, ``services`` and ``auth`` its
    constructor names (by keyword, so their order is free).  An instance that is
    itself an async context manager is entered; otherwise it is yielded as it is and
    its ``aclose()``, if it has one, is awaited at the end.
    """
    missing = [m for m in _TARGET_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise UsageError(
            f"target {name!r} is a class without the Target methods {missing}; give a "
            "class with async connect/run/residue/reset, or a factory function"
        )
    import inspect  # only for a class target: keeps ``import isolation_fuzz`` light

    try:
        accepted = set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        accepted = set()

    @asynccontextmanager
    async def factory(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Target]:
        given = {"spec": spec, "services": services, "auth": auth}
        instance = cls(**{k: v for k, v in given.items() if k in accepted})
        if hasattr(instance, "__aenter__") and hasattr(instance, "__aexit__"):
            async with instance as entered:
                yield entered if entered is not None else instance
            return
        try:
            yield instance
        finally:
            close = getattr(instance, "aclose", None)
            if callable(close):
                await close()

    # Declarations (capabilities) live on the class; the factory carries them on.
    for attribute in ("capabilities",):
        if hasattr(cls, attribute):
            setattr(factory, attribute, getattr(cls, attribute))
    return factory


def _cwd_importable() -> None:
    """Let an import path name a module of the current directory, as ``python -m`` does.

    A console script's ``sys.path`` starts at its own directory, not the working one,
    so ``--target examples.chatdesk.adapter:open_target`` in a repository's root could
    not import the repository's own modules (uvicorn and gunicorn add it the same way).
    """
    import os
    import sys

    cwd = os.getcwd()
    if "" not in sys.path:
        importable_after_pythonpath(cwd)


def importable_after_pythonpath(directory: str) -> None:
    """Put ``directory`` on ``sys.path`` after the ``PYTHONPATH`` entries, if not there.

    After, not first (issue 20): a user who points ``PYTHONPATH`` at another copy of
    a module means that copy; put first, the working directory's copy won silently,
    and a run came back clean against code the user did not mean to fuzz.
    """
    import os
    import sys

    if directory in sys.path:
        return
    wanted = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    after = [i for i, entry in enumerate(sys.path) if entry and os.path.abspath(entry) in wanted]
    sys.path.insert(max(after) + 1 if after else 0, directory)


def _claimed_by_family(name: str) -> bool:
    # A family owns its pattern: ``zoo:nope`` is an unknown zoo bug, never an import of
    # a module called ``zoo`` that happens to be on sys.path.
    return any(_is_family(e.name) and fnmatchcase(name, e.name) for e in _entry_points())


def _resolve(spec: TargetSpec) -> TargetFactory:
    name = spec.name
    path = _REGISTRY.get(name)
    if path is None:
        path = _from_entry_points(name)
    why = ""
    if path is None and not _claimed_by_family(name):
        path, why = _from_import_path(name)
    if path is None:
        choices = available_targets()
        tried = f" ({why})" if why else ""
        if not choices:
            raise UsageError(
                f"unknown target {name!r}{tried}, and no target is installed: install "
                f"isolation-fuzz (pip install -e .) so that its {ENTRY_POINT_GROUP!r} "
                "entry points exist"
            )
        raise UsageError(
            f"unknown target {name!r}{tried}; choose one of {', '.join(choices)}, "
            "or give an import path package.module:factory"
        )
    if not isinstance(path, str):
        return path
    module_name, _, attr = path.partition(":")
    try:
        factory: TargetFactory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"target {name!r} ({path}) cannot be loaded: {exc}") from exc
    return factory


def resolve_target(spec: TargetSpec) -> TargetFactory:
    """The factory for ``spec``, or a `UsageError` naming the choices (checked up front)."""
    if spec.transport not in ("local", "websocket"):
        raise UsageError(f"unknown transport {spec.transport!r}; use 'local' or 'websocket'")
    return _resolve(spec)


def declared_capabilities(spec: TargetSpec) -> Capabilities:
    """What the target named by ``spec`` declares (see :mod:`isolation_fuzz.capabilities`).

    Read from the factory, so it is known before any engine starts; the defaults (all
    three stores, the five event kinds, any user id) when it declares nothing.
    """
    return capabilities_of(resolve_target(spec))


@asynccontextmanager
async def open_target(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Target]:
    """Open the target named by ``spec`` on ``services`` with the campaign's auth config.

    What the user's factory raises while it opens or closes the target is theirs:
    :class:`~isolation_fuzz.errors.TargetFailed`, naming their frame, never "a bug in
    isolation-fuzz".  The tool's own errors (a service lost, a bad name) pass as they
    are, and so does whatever the body raises.
    """
    factory = resolve_target(spec)
    try:
        manager = factory(spec, services, auth)
        system = await manager.__aenter__()
    except IsolationFuzzError:
        raise
    except Exception as error:
        raise TargetFailed(spec.name, "to start", error) from error
    try:
        yield system
    except BaseException as exc:
        if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
            raise
        return
    try:
        await manager.__aexit__(None, None, None)
    except IsolationFuzzError:
        raise
    except Exception as error:
        raise TargetFailed(spec.name, "to shut down", error) from error


