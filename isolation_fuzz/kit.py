"""The adapter kit: what an adapter needs from the fuzzer, documented and public.

Design note.  Before this module (issue 11), an adapter for a real system borrowed
the fuzzer's internals: the reference platform's ``LocalConnection`` as its event
stream, the reference ``Authenticator`` to read the fuzzer's tokens, and
``services.endpoints.urls`` to find the engines.  A 312-line adapter came of it.
The kit gives each of those a small public object instead:

* :class:`QueueEventStream`: a ready :class:`~isolation_fuzz.target.EventStream`.
  Push events into it (``put``), or hand it the queue your system already fills
  (``source=``) and a function that turns one of its messages into an
  :class:`~isolation_fuzz.model.Event`; ``take`` and ``sync`` drain the queue.
* :class:`EventNumbering`: numbers each run's events from 0, for systems whose
  messages carry no sequence number of their own.
* :class:`Verification`: the campaign's token settings (key, algorithm, issuer,
  audience) to configure the system under test with, and :meth:`Verification.verify`
  for adapters that must read a token themselves (it returns the user id, or raises
  :class:`~isolation_fuzz.errors.AuthError`).
* :class:`Refused`: what a target raises when a valid user asks for a thread or
  resource that is not theirs; the fuzzer counts it ``refused`` (correct isolation).
* :class:`ServiceHandles`: the campaign's Redis, Postgres and ClickHouse as URLs,
  DSNs and fresh clients, with the campaign namespace and key prefix, so the
  system stores everything where the fuzzer cleans up.

Cost: importing the kit loads the records and the errors only; ``jwt``, ``asyncio``'s
queue types and the drivers are imported by the calls that need them, so a system's
own modules may import the kit freely.  The kit imports nothing from the engine,
the platform, the CLI or the reporters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from isolation_fuzz.errors import AuthError, Refused, UsageError
from isolation_fuzz.model import Event

if TYPE_CHECKING:
    from isolation_fuzz.services import AsyncClickHouse, ServiceSet

__all__ = [
    "EventNumbering",
    "QueueEventStream",
    "Refused",
    "ServiceHandles",
    "Verification",
]


class _Queue(Protocol):
    """Anything with ``get_nowait`` that raises when empty (``asyncio.Queue``, ``queue.Queue``)."""

    def get_nowait(self) -> Any: ...


class EventNumbering:
    """Numbers the events of each run from 0, in the order they are numbered.

    Use one per connection when numbering what a connection receives (a duplicate
    then shows as a repeated kind), or one per target when numbering at emission.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, run_id: str) -> int:
        """The next number of ``run_id``'s events (0 for its first)."""
        seq = self._next.get(run_id, 0)
        self._next[run_id] = seq + 1
        return seq

    def event(
        self, kind: str, *, user_id: str, thread_id: str, run_id: str,
        payload: Mapping[str, Any] | None = None,
    ) -> Event:
        """An :class:`Event` of ``run_id`` carrying the run's next number."""
        return Event(
            kind, user_id, thread_id, run_id, self.next(run_id),
            dict(payload or {}),
        )


class QueueEventStream:
    """A ready :class:`~isolation_fuzz.target.EventStream` backed by a queue.

    Args:
        connection_id: A name for the connection, unique within the target.
        source: A queue the system fills with its own messages (``asyncio.Queue``
            or ``queue.Queue``), drained by :meth:`take` and :meth:`sync`.  Leave it
            out to push events with :meth:`put` instead.
        convert: Turns one of ``source``'s messages into an :class:`Event`, or
            ``None`` to drop a message that is no agent event (a heartbeat).
            Without it, messages must already be events.
        flush: Awaited by :meth:`sync` before draining: for a system that delivers
            through a background task or a socket, wait here until what was sent
            has arrived.
        on_close: Awaited once by :meth:`aclose` (unsubscribe, close a socket).
    """

    def __init__(
        self,
        connection_id: str,
        *,
        source: _Queue | None = None,
        convert: Callable[[Any], Event | None] | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.connection_id = connection_id
        self._source = source
        self._convert = convert
        self._flush = flush
        self._on_close = on_close
        self._received: list[Event] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has been called."""
        return self._closed

    def put(self, event: Event) -> None:
        """Deliver ``event`` to this connection (ignored once closed, like a closed socket)."""
        if not self._closed:
            self._received.append(event)

    def _drain(self) -> None:
        if self._source is None:
            return
        import asyncio
        import queue

        while True:
            try:
                message = self._source.get_nowait()
            except (asyncio.QueueEmpty, queue.Empty):
                return
            event = self._convert(message) if self._convert is not None else message
            if event is None:
                continue
            if not isinstance(event, Event):
                raise TypeError(
                    f"connection {self.connection_id}: got a {type(event).__name__}, not an "
                    "isolation_fuzz.Event; pass convert= to turn the system's messages into events"
                )
            self._received.append(event)

    def take(self) -> list[Event]:
        """Return (and forget) the events received since the last call."""
        self._drain()
        received, self._received = self._received, []
        return received

    async def sync(self) -> None:
        """Return once everything sent before this call is here (``flush``, then drain)."""
        if self._flush is not None:
            await self._flush()
        self._drain()

    async def aclose(self) -> None:
        """Stop receiving; events already received stay available to :meth:`take`."""
        if self._closed:
            return
        self._drain()
        self._closed = True
        if self._on_close is not None:
            await self._on_close()


@dataclass(frozen=True)
class Verification:
    """How the campaign's tokens are signed: configure the system under test with this.

    The fuzzer mints a real JWT per identity (claims ``sub`` = user id, ``iss``,
    ``aud``, ``exp``, ``nbf``, ``iat``) and also forges bad ones; a correct system
    accepts the first and rejects the rest.

    Attributes:
        key: The secret (HS256) or PEM public key (RS256) that verifies the tokens.
            Hidden from the repr.
        algorithm: ``"HS256"``, ``"RS256"``, ``"ES256"`` or ``"EdDSA"``; pin it,
            never read it from the token.
        issuer: The ``iss`` claim to require (None: the system checks none).
        audience: The ``aud`` claim to require (None: the system checks none).
        subject_claim: The claim that holds the user id (``sub`` unless declared).
    """

    key: str = field(repr=False)
    algorithm: str
    issuer: str | None
    audience: str | None
    subject_claim: str = "sub"

    @classmethod
    def of(cls, auth: Any) -> Verification:
        """The settings of the campaign's auth config (the factory's third argument)."""
        try:
            return cls(auth.verify_key, auth.algorithm, auth.issuer, auth.audience,
                       getattr(auth, "subject_claim", "sub"))
        except AttributeError as exc:
            raise UsageError(
                f"Verification.of wants the auth config a target factory is given, "
                f"not a {type(auth).__name__}"
            ) from exc

    def verify(self, token: str) -> str:
        """The user id (``sub``) of a token the fuzzer minted, or :class:`AuthError`.

        Signature, algorithm, issuer, audience, expiry and not-before are all checked;
        the error's reason never repeats the token.
        """
        import jwt

        if not isinstance(token, str) or not token.strip():
            raise AuthError("no token")
        required = ["exp", self.subject_claim]
        required += [name for name, wanted in (("iss", self.issuer), ("aud", self.audience))
                     if wanted is not None]
        try:
            claims = jwt.decode(
                token, self.key, algorithms=[self.algorithm], audience=self.audience,
                issuer=self.issuer, options={"require": required},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"the token does not verify ({type(exc).__name__})") from None
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(f"the token has no user id ({self.subject_claim})")
        return subject


@dataclass(frozen=True)
class ServiceHandles:
    """The campaign's engines, as a system under test wants to be configured with them.

    Everything the system stores must live under :attr:`namespace`: Redis keys start
    with :attr:`redis_prefix`, Postgres tables go in :attr:`postgres_schema`,
    ClickHouse tables in :attr:`clickhouse_database`.  The fuzzer removes exactly
    that when the campaign ends, and never flushes a database.  Build it from the
    factory's second argument with :meth:`of`.
    """

    services: ServiceSet = field(repr=False)

    @classmethod
    def of(cls, services: ServiceSet) -> ServiceHandles:
        """Handles on the service set a target factory is given."""
        return cls(services)

    @property
    def namespace(self) -> str:
        """This campaign's namespace (lowercase letters, digits and ``_``)."""
        return self.services.namespace

    @property
    def redis_prefix(self) -> str:
        """The prefix every Redis key of the campaign must start with (``<namespace>:``)."""
        return self.services.redis_prefix

    @property
    def postgres_schema(self) -> str:
        """The Postgres schema for the system's tables."""
        return self.services.postgres_schema

    @property
    def clickhouse_database(self) -> str:
        """The ClickHouse database for the system's tables."""
        return self.services.clickhouse_database

    @property
    def stores(self) -> tuple[str, ...]:
        """The services running for this campaign, of ``redis``, ``postgres``, ``clickhouse``."""
        return tuple(self.services.endpoints.urls)

    def _url(self, service: str) -> str:
        url = self.services.endpoints.urls.get(service)  # type: ignore[call-overload]
        if url is None:
            raise UsageError(
                f"{service} is not running in this campaign: declare it among the "
                "target's stores"
            )
        return str(url)

    @property
    def redis_url(self) -> str:
        """A ``redis://`` or ``unix://`` URL (the embedded engine is a unix socket)."""
        return self._url("redis")

    @property
    def postgres_dsn(self) -> str:
        """The Postgres URL as configured (an administrative user; see :meth:`postgres_pool`)."""
        return self._url("postgres")

    @property
    def clickhouse_url(self) -> str:
        """The ClickHouse URL (``chdb://`` for the embedded engine)."""
        return self._url("clickhouse")

    def redis(self) -> Any:
        """A new ``redis.asyncio.Redis`` client (string replies); close it with ``aclose``."""
        self._url("redis")
        return self.services.redis()

    async def postgres_pool(self, **kwargs: Any) -> Any:
        """A new ``asyncpg`` pool in :attr:`postgres_schema`, as a non-superuser role.

        Its connections act as the campaign's application role, so row-level
        security applies; create tables with :meth:`postgres_admin`.
        """
        self._url("postgres")
        return await self.services.postgres_pool(**kwargs)

    async def postgres_admin(self) -> Any:
        """A new ``asyncpg`` connection as the configured user, to create tables with."""
        self._url("postgres")
        return await self.services.postgres_admin()

    async def clickhouse(self) -> AsyncClickHouse:
        """A new async ClickHouse client (``command``, ``query_rows``, ``aclose``)."""
        self._url("clickhouse")
        return await self.services.clickhouse()
