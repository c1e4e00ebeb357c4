"""The registry of invariants: every property a campaign checks, in report order.

Design note.  An invariant is a plain function from a history to the violations
it finds, named for the property that must hold, registered with a decorator, as
Schemathesis registers its checks::

    from isolation_fuzz.engine.oracle.registry import invariant

    @invariant(holds_when="no run of an identity ever sees another's thread")
    def threads_stay_private(history: History) -> list[Violation]:
        ...

There is one registry.  The oracle, the JUnit cases, the README's table and the
tests all read it, so adding an invariant is one decorated function.  Registration
order is report order: the bundled invariants (`isolation_fuzz.engine.oracle.invariants`)
come first, whatever imports first (see `_load_bundled`), then the user's, in the
order their modules register them.

Checking is crash-safe, as Jepsen's ``check-safe`` is: an invariant that raises
cannot say whether its property held, so it yields an `Unknown`, never a
violation.  Results merge as Jepsen's ``merge-valid`` does: a real violation
outranks an unknown, and an unknown outranks "every invariant held".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import overload

from isolation_fuzz.engine.history import History
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Violation

__all__ = [
    "CheckFunction",
    "Checked",
    "Invariant",
    "Unknown",
    "check_all",
    "invariant",
    "register_invariant",
    "registered_invariants",
    "unregister_invariant",
]

#: What an invariant is: a function from a history to the violations it finds.
CheckFunction = Callable[[History], Iterable[Violation]]

_BUNDLED = "isolation_fuzz.engine.oracle.invariants"


@dataclass(frozen=True)
class Invariant:
    """A registered invariant: its name, its check, and the property it holds to.

    Attributes:
        name: the property's name (``no_foreign_data``); violations carry it.
        check: the function over a history that returns the violations it finds.
        holds_when: one line saying when the property holds (the README's table).
    """

    name: str
    check: CheckFunction
    holds_when: str

    def __call__(self, history: History) -> list[Violation]:
        """The violations ``check`` finds in ``history`` (may raise; see `check_all`)."""
        return list(self.check(history))


@dataclass(frozen=True)
class Unknown:
    """An invariant that crashed: it could not say whether its property held."""

    invariant: str
    #: The last step of the history it was checking.
    step: int
    #: The exception, as ``TypeName: message``.
    error: str


@dataclass(frozen=True)
class Checked:
    """What checking every registered invariant over one history found."""

    violations: tuple[Violation, ...]
    unknown: tuple[Unknown, ...] = ()

    @property
    def valid(self) -> bool | None:
        """False with a violation, None (unknown) with only crashes, else True."""
        if self.violations:
            return False
        return None if self.unknown else True


_REGISTRY: dict[str, Invariant] = {}
_loading_bundled = False


def _load_bundled() -> None:
    # The bundled invariants register when the oracle is imported.  Importing it
    # here, before any other registration or read, keeps them first in report
    # order even when a user's module registers before anything imported the
    # oracle.  (Re-entry while the oracle itself registers is a no-op.)
    global _loading_bundled
    if _loading_bundled:
        return
    _loading_bundled = True
    import_module(_BUNDLED)


def register_invariant(
    check: CheckFunction, *, name: str | None = None, holds_when: str | None = None
) -> Invariant:
    """Register ``check`` as an invariant, after those already registered.

    Args:
        check: a function from a `History` to the `Violation` records it finds.  It
            must only read the history; it runs after every step of every example.
        name: the property's name; defaults to the function's ``__name__``.
        holds_when: one line saying when the property holds; defaults to the first
            line of the function's docstring.

    Returns:
        The registered `Invariant`.

    Raises:
        UsageError: another function is already registered under ``name``.
            Registering the same function again (a module imported twice) replaces
            it in place.
    """
    _load_bundled()
    name = name or getattr(check, "__name__", None)
    if not name or not name.isidentifier():
        raise UsageError(
            f"an invariant needs a name that is an identifier, got {name!r}; "
            "pass name='...' to register_invariant"
        )
    doc = (getattr(check, "__doc__", None) or "").strip()
    entry = Invariant(name, check, holds_when or (doc.splitlines()[0] if doc else name))
    existing = _REGISTRY.get(name)
    if existing is not None and _qualname(existing.check) != _qualname(check):
        raise UsageError(
            f"an invariant named {name!r} is already registered ({_qualname(existing.check)}); "
            f"pick another name, or call unregister_invariant({name!r}) first"
        )
    _REGISTRY[name] = entry
    return entry


@overload
def invariant(check: CheckFunction, /) -> CheckFunction: ...


@overload
def invariant(
    *, name: str | None = None, holds_when: str | None = None
) -> Callable[[CheckFunction], CheckFunction]: ...


def invariant(
    check: CheckFunction | None = None,
    /,
    *,
    name: str | None = None,
    holds_when: str | None = None,
) -> CheckFunction | Callable[[CheckFunction], CheckFunction]:
    """Decorator: register a function as an invariant and return it unchanged.

    Use it bare (``@invariant``) or with arguments
    (``@invariant(name=..., holds_when=...)``); see `register_invariant`.  The
    function stays a plain function: tests call it directly on a history.
    """
    def decorate(fn: CheckFunction) -> CheckFunction:
        register_invariant(fn, name=name, holds_when=holds_when)
        return fn

    return decorate if check is None else decorate(check)


def unregister_invariant(name: str) -> None:
    """Stop checking the invariant ``name`` (a test's own, say).

    Raises:
        UsageError: no invariant is registered under ``name``.
    """
    _load_bundled()
    if _REGISTRY.pop(name, None) is None:
        known = ", ".join(_REGISTRY) or "none"
        raise UsageError(f"no invariant is registered as {name!r}; registered: {known}")


def registered_invariants() -> tuple[Invariant, ...]:
    """Every registered invariant, in registration (and report) order."""
    _load_bundled()
    return tuple(_REGISTRY.values())


def check_all(history: History) -> Checked:
    """Check every registered invariant over ``history``, crash-safely.

    Violations are ordered by step; ties keep registration order.  An invariant
    that raises, or returns something other than violations, is `Unknown`.
    """
    found: list[Violation] = []
    unknown: list[Unknown] = []
    for entry in registered_invariants():
        try:
            violations = entry(history)
            bad = next((v for v in violations if not isinstance(v, Violation)), None)
            if bad is not None:
                raise TypeError(f"it returned {bad!r}, not a Violation")
        except Exception as exc:  # check-safe: a crash is never a violation
            unknown.append(Unknown(entry.name, history.last_step, f"{type(exc).__name__}: {exc}"))
            continue
        found += violations
    return Checked(tuple(sorted(found, key=lambda v: v.step)), tuple(unknown))


def _qualname(fn: object) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
