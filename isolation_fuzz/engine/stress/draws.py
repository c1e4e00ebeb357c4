"""What a stress window draws: many identities, plans, threads, all from one seed.

Design note (issue 14).  A stress window is not a Hypothesis search: nothing is
shrunk while it runs and its cases are not examples, so its draws come from
``random.Random`` seeded by the stress seed (``--seed``), and the same seed gives the
same identities, the same plans in the same order.  What it draws mirrors the
state machine's strategies, scaled up:

* **User ids** come in families, as :mod:`isolation_fuzz.strategies.identities` builds them: around
  each base id (``u7``) its prefix twin (``u70``), a delimiter (``u7:x``), case
  (``U7``), a glob and a LIKE pattern (``u7*``, ``u7%``), whitespace and a sanitiser
  twin (``u7_``), so that hundreds of identities hold dozens of colliding pairs.  A
  target's declared predicate is honoured as for ``run``
  (:func:`~isolation_fuzz.engine.campaign.userids.admit`: same stem, then repaired, then plain);
  a declared strategy is drawn from with :func:`hypothesis.find` under the seed.
* **Plans** are one to three calls over the declared stores and tools, writes weighted
  up, keys from the strategies' pool; **threads** from the shared pool, sometimes a
  user's id, so routing by thread alone shows.
* **Marks**: values carry a canary of their owner and keys its key mark, derived
  exactly as for an example (:func:`~isolation_fuzz.engine.example.execution.canary_for`,
  :func:`~isolation_fuzz.engine.example.execution.owned_key`), so a stress finding turns
  into a scenario whose plans already carry them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from hypothesis import Phase, find, settings
from hypothesis import strategies as st

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.campaign.userids import admit
from isolation_fuzz.engine.example.execution import canary_for, owned_key
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Plan, ToolCall
from isolation_fuzz.strategies.plans import KEY_POOL
from isolation_fuzz.strategies.threads import THREAD_POOL, thread_pool

__all__ = ["Marker", "draw_plan", "draw_thread", "identity_name", "stress_user_ids"]

_WEIGHTED = ("remember", "remember", "recall", "aggregate", "list", "forget", "scratch")
_VALUES = ("v", "note", "secret")


def identity_name(index: int) -> str:
    """The short name of the ``index``-th identity of a stress window: ``I001``..."""
    return f"I{index + 1:03d}"


def _family_ids(rng: random.Random) -> Iterator[str]:
    group = 0
    while True:
        group += 1
        base = f"{rng.choice(('u', 'user', 'a', 'x'))}{group}"
        yield from (base, base + "0", base + ":x", base.upper(), base + "*", base + "%",
                    " " + base, base + "_")


def stress_user_ids(n: int, seed: int, capabilities: Capabilities) -> list[str]:
    """``n`` distinct user ids in colliding families, valid for the target.

    Raises:
        UsageError: the target's declared rule leaves fewer than ``n`` valid ids.
    """
    rng = random.Random(f"{seed}/identities")
    strategy = capabilities.user_id_strategy
    if strategy is not None:
        ids: list[str] = find(
            st.lists(strategy, min_size=n, max_size=n, unique=True), lambda _: True,
            settings=settings(database=None, phases=[Phase.generate], max_examples=100),
            random=rng,
        )
        return ids
    drawn: list[str] = []
    for uid in _family_ids(rng):
        if uid not in drawn:
            drawn.append(uid)
        if len(drawn) == n:
            break
    predicate = capabilities.user_id_predicate
    if predicate is None:
        return drawn
    admitted, _, _ = admit(drawn, predicate)
    taken = {uid for uid in admitted if uid is not None}
    out = []
    spares = (f"{stem}{i}" for i in range(10 * n) for stem in ("user", "user-", "user_", "u"))
    for admitted_id in admitted:
        valid: str | None = admitted_id
        while valid is None:
            spare = next(spares, None)
            if spare is None:
                raise UsageError(
                    f"the target's user_ids predicate accepts too few ids for {n} identities; "
                    "declare a Hypothesis strategy of valid ids as user_ids, or lower "
                    "--identities"
                )
            if spare not in taken and _accepts(predicate, spare):
                valid = spare
        taken.add(valid)
        out.append(valid)
    return out


def _accepts(predicate: object, uid: str) -> bool:
    try:
        return bool(predicate(uid))  # type: ignore[operator]
    except Exception:  # a predicate that raises refuses the id, as in userids
        return False


def draw_plan(rng: random.Random, capabilities: Capabilities, max_calls: int = 3) -> Plan:
    """One to ``max_calls`` tool calls over the declared stores and tools (unmarked)."""
    tools = [t for t in _WEIGHTED if t in capabilities.tools]
    calls = []
    for _ in range(rng.randint(1, max_calls)):
        tool = rng.choice(tools)
        store = rng.choice(capabilities.stores)
        key = rng.choice(KEY_POOL) if tool in ("remember", "recall", "forget") else None
        value = rng.choice(_VALUES) if tool in ("remember", "scratch") else None
        calls.append(ToolCall(tool, store, key, value))  # type: ignore[arg-type]
    return tuple(calls)


def draw_thread(
    rng: random.Random, user_ids: list[str], accepts: Callable[[str], bool] | None = None
) -> str:
    """A thread from the shared pool, one time in eight a user's id (as ``accepts`` says)."""
    if accepts is not None:
        user_ids = [uid for uid in user_ids if accepts(uid)]
    if user_ids and rng.random() < 0.125:
        return rng.choice(user_ids)
    return rng.choice(THREAD_POOL if accepts is None else thread_pool((), accepts))


class Marker:
    """Marks plans with their owners' canaries and key marks, numbering each owner's."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def mark(self, name: str, plan: Plan) -> Plan:
        """``plan`` with ``name``'s key mark on every key not shared, a fresh canary on
        every value."""
        out = []
        for call in plan:
            key, value = call.key, call.value
            if key is not None:
                key = owned_key(name, key)
            if value is not None:
                n = self._count.get(name, 0)
                self._count[name] = n + 1
                value = f"{canary_for(name, n)} {value}"
            out.append(ToolCall(call.tool, call.store, key, value))
        return tuple(out)
