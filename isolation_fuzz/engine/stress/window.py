"""One stress window: many identities connected, runs truly at once, checked as they go.

Design note (issue 14).  Unlike an example, nothing here is stepped: every run is a
task on the campaign's event loop and the loop interleaves them wherever they await.
What the window adds to plain concurrency:

* **Noise at every interleaving point.**  Each run installs a
  :class:`~isolation_fuzz.engine.schedule.points.RunHook` whose "pause" is a seeded sleep
  (:class:`~isolation_fuzz.engine.stress.noise.Noise`) instead of a wait for the scheduler,
  and is driven by it (:meth:`RunHook.drive`), so the points are exactly those a
  stepped run has (every real await in ``auto`` mode, explicit checkpoints) and the
  order runs passed them is logged for the stepped replay.
* **One history.**  Records get steps from one counter: a run's start, a run's end
  (its tool results, its end, its residue), and each pass of the event collector
  (every delivery it took).  The read model's concurrency windows are then the real
  ones: a run's calls happened between the step that started it and the step that
  recorded its results.
* **Complete deliveries before a run ends.**  When a run returns, its owner's
  connection is synced (every event sent before is in hand) before the run's end is
  recorded, so ``complete_lifecycle`` never judges a run whose events are in flight.
  How long that takes after the run returned is the *delivery latency* reported.
* **Checked as it goes** through a :class:`~isolation_fuzz.engine.stress.checker.Checker`, in a
  worker thread, at the cadence of :class:`~isolation_fuzz.engine.stress.checker.CheckCadence`.
  The first violation stops new runs; runs in flight finish and are checked too.
* **Final reads**, as every example ends: each identity looks at all it holds.

Runs start at ``rate`` per second for ``duration`` seconds, at most ``max_in_flight``
at a time (a target slower than the rate is then measured, not drowned).  A run that
does not end within the service timeout plus the block timeout means a stalled
service (exit 3, named) or a target that hangs on its own: nothing else can hold it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskGroup

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.engine.example.harness import Harness
from isolation_fuzz.engine.schedule.points import RunHook
from isolation_fuzz.engine.stopping import signalled
from isolation_fuzz.engine.stress.checker import CheckCadence, Checker, IncrementalChecker
from isolation_fuzz.engine.stress.draws import Marker, draw_plan, draw_thread, identity_name
from isolation_fuzz.engine.stress.noise import Noise, NoiseSettings
from isolation_fuzz.errors import InfrastructureError, TargetStalled, is_infrastructure_failure
from isolation_fuzz.model import (
    ConnectionOpened,
    EventDelivered,
    Plan,
    Record,
    ResidueProbed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolResult,
    Violation,
)
from isolation_fuzz.target import EventStream
from isolation_fuzz.tokens import mint_token

__all__ = ["StressStats", "Window", "WindowSettings"]

#: How often the collector takes what arrived on every connection.
_COLLECT_EVERY = 0.005
#: How many connections open (or close) at once.
_CONNECT_AT_ONCE = 32


@dataclass(frozen=True)
class WindowSettings:
    """How big and how long one window is."""

    identities: int = 100
    rate: float = 50.0
    duration: float = 10.0
    seed: int = 0
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    max_in_flight: int = 256
    stop_on_violation: bool = True
    final_reads: bool = True


@dataclass
class StressStats:
    """Live counters of a window; read from another thread for the progress line."""

    identities: int = 0
    connected: int = 0
    started: int = 0
    ended: int = 0
    failed: int = 0
    events: int = 0
    points: int = 0
    tool_calls: int = 0
    violations: int = 0
    checks: int = 0
    check_seconds: float = 0.0
    began: float = field(default_factory=time.monotonic)
    running_seconds: float = 0.0
    #: Seconds from each run's return until all its events were in hand.
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float, last: int | None = None) -> float | None:
        """The ``q`` quantile (0..1) of the delivery latencies (of the ``last`` ones)."""
        data = self.latencies[-last:] if last else self.latencies
        if not data:
            return None
        ordered = sorted(data)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Window:
    """One stress window over an open harness: connect, run, check, close."""

    def __init__(self, harness: Harness, settings: WindowSettings, user_ids: Sequence[str],
                 checker: Checker | None = None) -> None:
        self.harness = harness
        self.settings = settings
        self.identities = {identity_name(i): uid for i, uid in enumerate(user_ids)}
        self.checker = checker or IncrementalChecker(self.identities, harness.capabilities)
        self.noise = Noise(settings.seed, settings.noise)
        self.stats = StressStats(identities=len(self.identities))
        #: Every record, in order: the evidence a finding keeps.
        self.records: list[Record] = []
        self.violations: list[Violation] = []
        self.stop = anyio.Event()
        self._pending: list[Record] = []
        self._step = 0
        self._tokens: dict[str, str] = {}
        self._streams: dict[str, tuple[str, EventStream]] = {}
        self._connection_of: dict[str, str] = {}
        self._in_flight = 0
        self._slot = anyio.Event()
        self._probing = anyio.Lock()
        limits = harness.limits
        self._points = limits.points
        self._run_timeout = harness.controller.stalls.service_timeout + limits.block_timeout

    # -- the window ------------------------------------------------------------------

    async def run(self) -> None:
        """Connect everyone, run for the duration, finish with final reads and a check."""
        try:
            await self._connect()
            async with anyio.create_task_group() as background:
                background.start_soon(self._collect_loop)
                background.start_soon(self._check_loop)
                self.stats.began = time.monotonic()
                async with anyio.create_task_group() as runs:
                    await self._launch(runs)
                if self.settings.final_reads and not self.stop.is_set():
                    await self._final_reads()
                self.stats.running_seconds = time.monotonic() - self.stats.began
                await self._collect(sync=True)
                background.cancel_scope.cancel()
            await self._check()
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()

    async def _launch(self, runs: TaskGroup) -> None:
        rng = random.Random(f"{self.settings.seed}/runs")
        marker = Marker()
        names, user_ids = list(self.identities), list(self.identities.values())
        began = time.monotonic()
        deadline = began + self.settings.duration
        index = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            if signalled() is not None:
                self.stop.set()
                break
            wait = began + index / self.settings.rate - time.monotonic()
            if wait > 0:
                with anyio.move_on_after(wait):
                    await self.stop.wait()
                continue
            if self._in_flight >= self.settings.max_in_flight:
                self._slot = anyio.Event()
                with anyio.move_on_after(0.05):
                    await self._slot.wait()
                continue
            name = rng.choice(names)
            thread_id = draw_thread(rng, user_ids, self.harness.capabilities.thread_ids)
            plan = marker.mark(name, draw_plan(rng, self.harness.capabilities))
            index += 1
            self._in_flight += 1
            runs.start_soon(self._one, f"s{index}", index, name, thread_id, plan)

    async def _final_reads(self) -> None:
        stores = self.harness.capabilities.stores
        plan = tuple(ToolCall("aggregate", store) for store in stores)
        limiter = anyio.CapacityLimiter(_CONNECT_AT_ONCE)
        base = self.stats.started + 1

        async def look(index: int, name: str) -> None:
            async with limiter:
                self._in_flight += 1
                await self._one(f"final-{name}", base + index, name, f"final-{name}", plan)

        async with anyio.create_task_group() as group:
            for index, name in enumerate(self.identities):
                group.start_soon(look, index, name)

    # -- one run ---------------------------------------------------------------------

    async def _one(self, run_id: str, index: int, name: str, thread_id: str, plan: Plan) -> None:
        try:
            await self._perform(run_id, index, name, thread_id, plan)
        finally:
            self._in_flight -= 1
            self._slot.set()

    async def _perform(self, run_id: str, index: int, name: str, thread_id: str,
                       plan: Plan) -> None:
        user_id = self.identities[name]
        self._append(RunStarted(self._next(), run_id, name, user_id, thread_id, plan))
        self.stats.started += 1
        self.noise.start(run_id, index)

        async def pause(label: str) -> None:
            self.stats.points += 1
            delay = self.noise.delay(run_id, label)
            if delay > 0:
                await anyio.sleep(delay)
            self.noise.resumed(run_id, label)

        hook = RunHook(pause, self._points)
        hook.task = asyncio.current_task()
        call = partial(self.harness.target.run, self._tokens[name], thread_id, plan, run_id)
        result: Any = None
        error: Exception | None = None
        with anyio.move_on_after(self._run_timeout) as scope:
            try:
                with installed_hook(hook):
                    result = await hook.drive(call)
            except Exception as exc:  # a failing run is an outcome, as in the stepped world
                error = exc
        self.noise.end(run_id)
        if scope.cancelled_caught:
            await self.harness.controller.stalls.check_services()  # a dead service: exit 3
            raise TargetStalled(
                f"run {run_id} did not end within {self._run_timeout:g}s under stress although "
                "every service answered: the target hangs. If it is only slow, lower --rate "
                "or raise --service-timeout"
            )
        returned = time.monotonic()
        await self._take_owner(name)
        self.stats.latencies.append(time.monotonic() - returned)
        self.stats.ended += 1
        step = self._next()
        if error is not None:
            self._failed(step, run_id, name, error)
            return
        for i, (tool_call, value) in enumerate(zip(plan, result, strict=False)):
            self._append(ToolResult(step, run_id, name, i, tool_call, value))
        self.stats.tool_calls += len(plan)
        self.harness.stats.tool_calls += len(plan)
        self.harness.stats.runs_finished += 1
        self._append(RunFinished(step, run_id, name, True, None))
        # One probe at a time: a target's probe may use one administrative connection
        # (the reference platform's does), which a campaign never uses twice at once.
        async with self._probing:
            residue = await self.harness.controller.stalls.bounded(
                "residue probe", self.harness.target.residue, run_id)
        for store, leftovers in sorted(residue.items()):
            if leftovers:
                self._append(ResidueProbed(self._step, run_id, name, store, tuple(leftovers)))

    def _failed(self, step: int, run_id: str, name: str, error: Exception) -> None:
        if is_infrastructure_failure(error):  # a refusal is the target's answer
            raise InfrastructureError(f"the target failed in run {run_id}: {error}") from error
        text = self.harness.redactor.redact(f"{type(error).__name__}: {error}")
        self._append(RunFinished(step, run_id, name, False, text))
        self.stats.failed += 1
        self.harness.stats.run_failed(error)

    # -- connections and events --------------------------------------------------------

    async def _connect(self) -> None:
        auth, redactor = self.harness.auth, self.harness.redactor
        for name, user_id in self.identities.items():
            token = mint_token(auth, user_id)
            redactor.add(token)
            self._tokens[name] = token
        limiter = anyio.CapacityLimiter(_CONNECT_AT_ONCE)
        opened: dict[str, EventStream] = {}

        async def connect(name: str) -> None:
            async with limiter:
                opened[name] = await self.harness.controller.stalls.bounded(
                    "connect", self.harness.target.connect, self._tokens[name])
                self.stats.connected += 1

        try:
            async with anyio.create_task_group() as group:
                for name in self.identities:
                    group.start_soon(connect, name)
        finally:
            # In name order whatever the order they opened in: connection ids replay.
            for index, name in enumerate(n for n in self.identities if n in opened):
                connection_id = f"c{index + 1}"
                self._streams[connection_id] = (name, opened[name])
                self._connection_of[name] = connection_id
                self._append(ConnectionOpened(0, connection_id, name))

    async def _take_owner(self, name: str) -> None:
        connection_id = self._connection_of[name]
        stream = self._streams[connection_id][1]
        await self.harness.controller.stalls.bounded("event delivery", stream.sync)
        self._deliver(self._next(), connection_id, name, stream)

    async def _collect_loop(self) -> None:
        while True:
            await anyio.sleep(_COLLECT_EVERY)
            await self._collect()

    async def _collect(self, *, sync: bool = False) -> None:
        if sync:
            limiter = anyio.CapacityLimiter(_CONNECT_AT_ONCE)

            async def one(stream: EventStream) -> None:
                async with limiter:
                    await self.harness.controller.stalls.bounded("event delivery", stream.sync)

            async with anyio.create_task_group() as group:
                for _, stream in self._streams.values():
                    group.start_soon(one, stream)
        step = self._step + 1
        if any(self._deliver(step, cid, name, stream)
               for cid, (name, stream) in list(self._streams.items())):
            self._step = step

    def _deliver(self, step: int, connection_id: str, name: str, stream: EventStream) -> bool:
        events = stream.take()
        for event in events:
            self._append(EventDelivered(step, connection_id, name, event))
        self.stats.events += len(events)
        return bool(events)

    async def _close(self) -> None:
        limiter = anyio.CapacityLimiter(_CONNECT_AT_ONCE)

        async def close(stream: EventStream) -> None:
            async with limiter:
                with anyio.move_on_after(self.harness.controller.stalls.service_timeout):
                    await stream.aclose()

        streams, self._streams = list(self._streams.values()), {}
        async with anyio.create_task_group() as group:
            for _, stream in streams:
                group.start_soon(close, stream)

    # -- history and checking ----------------------------------------------------------

    def _next(self) -> int:
        self._step += 1
        return self._step

    def _append(self, record: Record) -> None:
        self.records.append(record)
        self._pending.append(record)

    async def _check_loop(self) -> None:
        cadence = CheckCadence()
        while True:
            await anyio.sleep(0.01)
            if cadence.due(len(self._pending)):
                started = time.monotonic()
                await self._check()
                cadence.checked(time.monotonic() - started)

    async def _check(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        started = time.monotonic()
        fresh = await anyio.to_thread.run_sync(self.checker.add, batch)
        self.stats.checks += 1
        self.stats.check_seconds += time.monotonic() - started
        if fresh:
            self.violations += fresh
            self.stats.violations += len(fresh)
            if self.settings.stop_on_violation:
                self.stop.set()
