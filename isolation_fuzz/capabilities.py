"""What a target declares it has: its stores, its event kinds, the user ids it accepts.

Design note.  The fuzzer used to assume every system under test had all three
stores, emitted exactly the reference platform's five event kinds, and accepted any
user id (issue 11: an adapter for a real backend had to fake a Postgres store nobody
used, re-implement the five-event lifecycle, and map generated ids by hand).  A
target now declares what it has in one frozen :class:`Capabilities` record, and
every field defaults to the old behaviour, so a target that declares nothing is
fuzzed exactly as before (same draws, same checks).

Where the declaration lives: a ``capabilities`` attribute of the target *factory*
(a function attribute, or a class attribute of a ``Target`` class).  It must be
readable before anything is opened, because it decides which engines start: a
system that declares only Redis starts only Redis.  A ``capabilities`` attribute
of the opened target itself is also read (:func:`refine`), for everything but the
engines.  Either may be a :class:`Capabilities` or a plain mapping of its fields
(as a ``pyproject.toml`` table gives it)::

    async def open_my_system(spec, services, auth): ...
    open_my_system.capabilities = Capabilities(
        stores=("redis",),
        event_kinds=("run_begin", "token", "run_end"),
        begin_kinds=("run_begin",),
        end_kinds=("run_end",),
        user_ids=lambda uid: uid.isascii() and ":" not in uid,
    )

What each field changes:

* ``stores``: only these are drawn into plans and looks, and only their engines start.
* ``event_kinds`` / ``begin_kinds`` / ``end_kinds``: ``complete_lifecycle`` checks
  the declared kinds only (each finished run's begin event first and once, its end
  event last and once, no event twice, in ``seq`` order); events of any other kind
  are still routed, carried and checked for routing and canaries, never rejected.
  With the default five kinds the exact per-tool-call lifecycle is checked, as before.
* ``tools``: the tools drawn into plans.  The default is the five every target
  has (remember, recall, list, aggregate, forget); a target that implements
  ``scratch`` (keep a value in the request's own scratch and read it back) adds it,
  and its request-scoped data is then checked by ``read_your_writes`` (issue 13).
* ``user_ids``: a predicate (``str -> bool``) or a Hypothesis strategy of valid ids.
  Generated ids that fail a predicate are replaced by valid ones of the same
  adversarial family where possible, and the report counts them; a strategy is drawn
  from instead of the adversarial families.

A bad declaration (an unknown store, no store, a predicate that is not callable, a
begin or end kind that is not among the kinds) is a :class:`UsageError`: one line,
exit 2, before any engine starts.

Importing this module costs the records and the errors only (it is part of the
cheap public face); Hypothesis is looked at only when a strategy is declared.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, cast

from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import CORE_TOOLS, EVENT_KINDS, STORES, TOOLS, Store

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from isolation_fuzz.tokens import AuthConfig

__all__ = [
    "DATA_SCOPES",
    "DEFAULT_BEGIN_KINDS",
    "DEFAULT_END_KINDS",
    "EVENT_ROUTINGS",
    "Capabilities",
    "capabilities_of",
    "declared_auth",
    "refine",
]

DEFAULT_BEGIN_KINDS: tuple[str, ...] = ("agent_started",)
DEFAULT_END_KINDS: tuple[str, ...] = ("agent_completed",)
#: Where a system may keep a user's data (``Capabilities.data_scope``).
DATA_SCOPES: tuple[str, ...] = ("user", "thread", "run")
#: To whom a run's events are owed (``Capabilities.event_routing``).
EVENT_ROUTINGS: tuple[str, ...] = ("user", "connection")

def _names(what: str, value: object) -> tuple[str, ...]:
    """``value`` as a tuple of names; one bare string is one name, not its letters."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable):
        raise UsageError(
            f"capabilities: {what} must be a list of names, not {type(value).__name__} "
            f"{value!r}"
        )
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise UsageError(f"capabilities: {what} must be non-empty strings, got {name!r}")
    return tuple(dict.fromkeys(names))  # duplicates mean nothing more


def _is_strategy(value: object) -> bool:
    # A strategy can only exist if Hypothesis is loaded: do not import it otherwise.
    if "hypothesis.strategies" not in sys.modules:
        return False
    from hypothesis.strategies import SearchStrategy

    return isinstance(value, SearchStrategy)


@dataclass(frozen=True)
class Capabilities:
    """What a system under test has; every field defaults to the reference platform's.

    Attributes:
        stores: The stores the target uses, among ``redis``, ``postgres`` and
            ``clickhouse`` (kept in that order).  Only these are drawn into plans
            and looks, and only their engines start.
        event_kinds: The event kinds whose lifecycle ``complete_lifecycle`` checks.
            Events of other kinds are routed and checked for routing, never rejected.
        begin_kinds: The kinds, among ``event_kinds``, of the event that begins a run.
        end_kinds: The kinds, among ``event_kinds``, of the event that ends a run.
        user_ids: A predicate ``str -> bool`` or a Hypothesis strategy of the user
            ids the target accepts; None accepts every generated id.
        tools: The tools drawn into plans (kept in `isolation_fuzz.model.TOOLS` order);
            the default leaves out ``scratch``, which a target must implement to get.
        services: Engines to start besides the stores: what the system needs running
            but keeps no user data of its own in that the fuzzer could address
            separately (an ASGI app whose one data space spans Postgres and a Redis
            cache declares ``stores=("postgres",)``, ``services=("redis",)``).
        data_scope: Where the system keeps a user's data: ``user`` (one memory per
            user, across threads: the default), ``thread`` (per user and thread, as
            a conversation's memory) or ``run``.  ``read_your_writes`` expects a
            read to agree with the identity's own writes in that scope only.
        thread_ids: A predicate ``str -> bool`` of the thread ids the system
            accepts (its own rule, apart from ``user_ids``); None accepts any.
        event_routing: To whom a run's events are owed: ``user`` (every connection
            of its user, the default) or ``connection`` (only the connection that
            started it, as a browser tab: the identity's newest connection open
            when the run started; the target runs through that one).
    """

    stores: tuple[Store, ...] = STORES
    event_kinds: tuple[str, ...] = EVENT_KINDS
    begin_kinds: tuple[str, ...] = DEFAULT_BEGIN_KINDS
    end_kinds: tuple[str, ...] = DEFAULT_END_KINDS
    user_ids: Callable[[str], bool] | SearchStrategy[str] | None = None
    tools: tuple[str, ...] = CORE_TOOLS
    services: tuple[Store, ...] = ()
    data_scope: str = "user"
    thread_ids: Callable[[str], bool] | None = None
    event_routing: str = "user"

    def __post_init__(self) -> None:
        for what, value, allowed in (("data_scope", self.data_scope, DATA_SCOPES),
                                     ("event_routing", self.event_routing, EVENT_ROUTINGS)):
            if value not in allowed:
                raise UsageError(
                    f"capabilities: {what} {value!r} is not one of {', '.join(allowed)}"
                )
        stores = _names("stores", self.stores)
        unknown = [s for s in stores if s not in STORES]
        if unknown:
            raise UsageError(
                f"capabilities: unknown store {unknown[0]!r}; declare some of "
                f"{', '.join(STORES)}"
            )
        if not stores:
            raise UsageError(
                "capabilities: stores is empty; declare at least one of " + ", ".join(STORES)
            )
        # Canonical order, whatever the declaration's: draws must not depend on it.
        object.__setattr__(self, "stores", tuple(s for s in STORES if s in stores))
        services = _names("services", self.services)
        stray_services = [s for s in services if s not in STORES]
        if stray_services:
            raise UsageError(
                f"capabilities: unknown service {stray_services[0]!r}; declare some of "
                f"{', '.join(STORES)}"
            )
        object.__setattr__(self, "services", tuple(s for s in STORES if s in services))
        kinds = _names("event_kinds", self.event_kinds)
        if not kinds:
            raise UsageError("capabilities: event_kinds is empty; declare the kinds a run emits")
        object.__setattr__(self, "event_kinds", kinds)
        for what in ("begin_kinds", "end_kinds"):
            chosen = _names(what, getattr(self, what))
            if not chosen:
                raise UsageError(f"capabilities: {what} is empty; name one of the event_kinds")
            stray = [k for k in chosen if k not in kinds]
            if stray:
                raise UsageError(
                    f"capabilities: {what} names {stray[0]!r}, which is not among the "
                    f"event_kinds ({', '.join(kinds)}); add it there or fix the name"
                )
            object.__setattr__(self, what, chosen)
        both = set(self.begin_kinds) & set(self.end_kinds)
        if both:
            raise UsageError(
                f"capabilities: {sorted(both)[0]!r} is both a begin and an end kind; "
                "a run's first and last events must be of different kinds"
            )
        tools = _names("tools", self.tools)
        stray_tools = [t for t in tools if t not in TOOLS]
        if stray_tools or not tools:
            raise UsageError(
                f"capabilities: unknown tool {stray_tools[0]!r}; declare some of "
                f"{', '.join(TOOLS)}" if stray_tools else
                "capabilities: tools is empty; declare at least one of " + ", ".join(TOOLS)
            )
        object.__setattr__(self, "tools", tuple(t for t in TOOLS if t in tools))
        if self.thread_ids is not None and not callable(self.thread_ids):
            raise UsageError(
                f"capabilities: thread_ids must be a predicate (str -> bool), not "
                f"{type(self.thread_ids).__name__} {self.thread_ids!r}"
            )
        rule = self.user_ids
        if rule is not None and not callable(rule) and not _is_strategy(rule):
            raise UsageError(
                f"capabilities: user_ids must be a predicate (str -> bool) or a Hypothesis "
                f"strategy of valid ids, not {type(rule).__name__} {rule!r}"
            )

    @property
    def engines(self) -> tuple[Store, ...]:
        """Every engine the campaign starts: the stores and the other services."""
        return tuple(s for s in STORES if s in self.stores or s in self.services)

    @property
    def exact_lifecycle(self) -> bool:
        """Whether the events are the reference platform's, whose every event is known.

        Then ``complete_lifecycle`` expects exactly: started, per tool call thinking,
        executing, completed, then agent completed, numbered from 0.
        """
        return (
            set(self.event_kinds) == set(EVENT_KINDS)
            and self.begin_kinds == DEFAULT_BEGIN_KINDS
            and self.end_kinds == DEFAULT_END_KINDS
        )

    @property
    def user_id_predicate(self) -> Callable[[str], bool] | None:
        """The declared predicate, or None when ids are unrestricted or come from a strategy."""
        rule = self.user_ids
        if rule is None or _is_strategy(rule):
            return None
        return cast("Callable[[str], bool]", rule)

    @property
    def user_id_strategy(self) -> SearchStrategy[str] | None:
        """The declared strategy of valid ids, or None."""
        rule = self.user_ids
        return cast("SearchStrategy[str]", rule) if _is_strategy(rule) else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form for reports (a user-id rule is described, not serialized)."""
        rule = self.user_ids
        described = None if rule is None else (
            "strategy" if _is_strategy(rule) else getattr(rule, "__name__", "predicate")
        )
        return {
            "stores": list(self.stores),
            "event_kinds": list(self.event_kinds),
            "begin_kinds": list(self.begin_kinds),
            "end_kinds": list(self.end_kinds),
            "user_ids": described,
            "tools": list(self.tools),
            "services": list(self.services),
            "data_scope": self.data_scope,
            "event_routing": self.event_routing,
            "thread_ids": None if self.thread_ids is None else getattr(
                self.thread_ids, "__name__", "predicate"),
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Capabilities:
        """Build from a mapping of field names (a pyproject table, a dict attribute)."""
        known = {f.name for f in fields(cls)}
        stray = sorted(str(k) for k in data if k not in known)
        if stray:
            raise UsageError(
                f"capabilities: unknown field {stray[0]!r}; use {', '.join(sorted(known))}"
            )
        return cls(**data)


def _coerce(declared: object, where: str) -> Capabilities | None:
    if declared is None or isinstance(declared, property):
        return None  # a property of a Target class is read from the instance
    if isinstance(declared, Capabilities):
        return declared
    if isinstance(declared, Mapping):
        return Capabilities.from_mapping(declared)
    raise UsageError(
        f"{where}.capabilities is a {type(declared).__name__}; give a "
        "isolation_fuzz.Capabilities(...) or a mapping of its fields"
    )


def capabilities_of(factory: object) -> Capabilities:
    """What ``factory`` (a target factory or ``Target`` class) declares; the defaults if nothing.

    Raises:
        UsageError: the declaration is malformed (one line, before anything starts).
    """
    where = getattr(factory, "__qualname__", type(factory).__name__)
    return _coerce(getattr(factory, "capabilities", None), where) or Capabilities()


def refine(declared: Capabilities, target: object) -> Capabilities:
    """The capabilities in force once ``target`` is open: its own declaration, if any.

    The factory's declaration chose the engines; the opened target may narrow what
    is drawn, but may not use a store whose engine was not started.

    Raises:
        UsageError: the target declares a store its factory did not.
    """
    own = _coerce(getattr(target, "capabilities", None), type(target).__qualname__)
    if own is None or own == declared:
        return declared
    missing = [s for s in own.engines if s not in declared.engines]
    if missing:
        raise UsageError(
            f"target {type(target).__qualname__} declares store {missing[0]!r}, which its "
            "factory did not, so its engine was not started; declare capabilities on the "
            "factory (they must be known before services start)"
        )
    return own


def declared_auth(factory: object) -> AuthConfig | None:
    """The auth config the factory declares for a campaign, or None (the fuzzer's own).

    A system that verifies tokens of its own format (its algorithm, key and claims)
    declares it as an ``auth_config`` attribute of its factory: an
    :class:`~isolation_fuzz.tokens.AuthConfig`, or a function returning a fresh one
    per campaign (so that a generated key lives only as long as the campaign).
    """
    from isolation_fuzz.tokens import AuthConfig

    declared = getattr(factory, "auth_config", None)
    if declared is None:
        return None
    config = declared() if callable(declared) and not isinstance(declared, AuthConfig) else declared
    if not isinstance(config, AuthConfig):
        where = getattr(factory, "__qualname__", type(factory).__name__)
        raise UsageError(
            f"{where}.auth_config gives a {type(config).__name__}; give an "
            "isolation_fuzz.tokens.AuthConfig or a function returning one"
        )
    return config
