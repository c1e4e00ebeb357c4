"""The read model: every read agrees with its identity's own writes, concurrency allowed.

Histories are crafted by hand, one anomaly each (issue 13): a stale listing or
aggregate, a lost write, data destroyed by another identity's operation, a run's
own scratch removed by another run's cleanup, and a key name of another identity.
"""

from __future__ import annotations

from typing import Any

from isolation_fuzz.engine.canary import make_canary, make_key_mark
from isolation_fuzz.engine.example.execution import key_mark_for
from isolation_fuzz.engine.example.harness import NAMES
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle.reads import read_findings
from isolation_fuzz.model import RunFinished, RunStarted, ToolCall, ToolResult, Violation

CA, CA2, CB = make_canary(1), make_canary(3), make_canary(2)
MA, MB = make_key_mark(0xA), make_key_mark(0xB)
KA, KB = f"k{MA}", f"k{MB}"
V1, V2, VB = f"{CA} v", f"{CA2} w", f"{CB} v"


def _history() -> History:
    h = History()
    h.add_identity("A", "u1")
    h.add_identity("B", "u10")
    for marker, owner in ((CA, "A"), (CA2, "A"), (CB, "B"), (MA, "A"), (MB, "B")):
        h.canaries.register(marker, owner)
    return h


def _start(h: History, step: int, run_id: str, who: str, calls: list[ToolCall]) -> None:
    h.append(RunStarted(step, run_id, who, h.identities[who], "t1", tuple(calls)))


def _finish(h: History, step: int, run_id: str, results: list[Any], ok: bool = True) -> None:
    run = h.runs[run_id]
    if ok:
        for i, (call, result) in enumerate(zip(run.plan, results, strict=True)):
            h.append(ToolResult(step, run_id, run.identity, i, call, result))
    h.append(RunFinished(step, run_id, run.identity, ok, None if ok else "ValueError: x"))


def _run(h: History, step: int, run_id: str, who: str, calls: list[ToolCall],
         results: list[Any], ok: bool = True) -> None:
    _start(h, step, run_id, who, calls)
    _finish(h, step + 1, run_id, results, ok)


def _found(h: History) -> list[tuple[str, str, int, tuple[str, ...]]]:
    violations: list[Violation] = oracle.read_your_writes(h)
    return [(v.anomaly, v.evidence["run_id"], v.step, v.identities) for v in violations]


def remember(key: str, value: str, store: str = "redis") -> ToolCall:
    return ToolCall("remember", store, key, value)  # type: ignore[arg-type]


def forget(key: str, store: str = "redis") -> ToolCall:
    return ToolCall("forget", store, key)  # type: ignore[arg-type]


LIST = ToolCall("list", "redis")
AGGREGATE = ToolCall("aggregate", "redis")


def scratch(value: str) -> ToolCall:
    return ToolCall("scratch", "redis", value=value)


# -- list ----------------------------------------------------------------------------


def test_a_listing_with_a_forgotten_key_is_a_stale_read() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [forget(KA)], [True])
    _run(h, 5, "r3", "A", [LIST], [[KA]])
    assert _found(h) == [("StaleRead", "r3", 6, ("A",))]
    (v,) = oracle.read_your_writes(h)
    assert f"listed redis in run r3 call 0 and got the key {KA!r}" in v.message


def test_a_listing_missing_a_live_key_is_a_lost_write() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [LIST, LIST], [[KA], []])
    (v,) = oracle.read_your_writes(h)
    assert (v.anomaly, v.evidence["index"], v.evidence["key"]) == ("LostWrite", 1, KA)
    assert "the key 'k~k00000a' was missing, though it had written it (got [])" in v.message


def test_a_listing_may_reflect_the_identitys_overlapping_writes_either_way() -> None:
    for seen in ([], [KA]):
        h = _history()
        _start(h, 1, "r1", "A", [LIST])
        _run(h, 2, "r2", "A", [remember(KA, V1)], ["ok"])  # inside r1
        _finish(h, 4, "r1", [seen])
        assert _found(h) == []


def test_another_identitys_key_name_in_a_listing_is_foreign() -> None:
    h = _history()
    _run(h, 1, "r1", "B", [remember(KB, VB)], ["ok"])
    _run(h, 3, "r2", "A", [LIST], [[KB]])
    assert _found(h) == [("ForeignKeyName", "r2", 4, ("A", "B"))]
    (leak,) = oracle.no_foreign_data(h)
    assert leak.identities == ("A", "B")
    assert f"saw B ('u10')'s key name marked {MB} in the tool result" in leak.message


def test_results_of_another_shape_are_not_judged() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [LIST, AGGREGATE], [3, {"count": 1}])
    assert _found(h) == []


# -- aggregate -----------------------------------------------------------------------


def test_an_aggregate_with_an_overwritten_value_is_a_stale_read() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [remember(KA, V2)], ["ok"])
    _run(h, 5, "r3", "A", [AGGREGATE, AGGREGATE, AGGREGATE],
         [{"count": 1, "values": [V2]}, {"count": 1, "values": [V1]}, {"values": []}])
    assert _found(h) == [("StaleRead", "r3", 6, ("A",)), ("LostWrite", "r3", 6, ("A",))]
    stale, lost = oracle.read_your_writes(h)
    assert (stale.evidence["index"], stale.evidence["got"]) == (1, V1)
    assert lost.evidence["index"] == 2


def test_data_gone_while_another_identity_forgot_on_the_store_names_it() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _start(h, 3, "r2", "A", [AGGREGATE])
    _run(h, 4, "r3", "B", [forget(KB)], [True])  # a wrongly scoped delete, say
    _finish(h, 6, "r2", [[]])
    (v,) = oracle.read_your_writes(h)
    assert (v.anomaly, v.identities, v.evidence["culprits"]) == (
        "DataDestroyedByAnotherIdentity", ("A", "B"), ["r3"])
    assert "meanwhile run(s) r3 of B ('u10') forgot on redis" in v.message


def test_data_gone_while_another_identity_only_wrote_that_name_says_wrote_not_forgot() -> None:
    # Issue 20: a value destroyed while another identity wrote the same key name was
    # explained as "forgot", though that run had only remembered.
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _start(h, 3, "r2", "A", [AGGREGATE])
    _run(h, 4, "r3", "B", [remember(KA, V2)], ["ok"])  # written under A, say
    _finish(h, 6, "r2", [[]])
    (v,) = oracle.read_your_writes(h)
    assert v.anomaly == "DataDestroyedByAnotherIdentity"
    assert f"meanwhile run(s) r3 of B ('u10') wrote {KA!r} on redis" in v.message
    assert "forgot" not in v.message


def test_a_failed_writer_may_have_written_anything_up_to_its_failure() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [forget(KA), remember(KA, V2)], [], ok=False)
    for step, seen in [(5, [V1]), (7, []), (9, [V2])]:
        _run(h, step, f"x{step}", "A", [AGGREGATE], [{"values": seen}])
    assert _found(h) == []


# -- recall --------------------------------------------------------------------------


def test_a_recall_of_an_overwritten_value_is_a_stale_read() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember(KA, V1)], ["ok"])
    _run(h, 3, "r2", "A", [remember(KA, V2)], ["ok"])
    _run(h, 5, "r3", "A", [ToolCall("recall", "redis", KA)], [V1])
    (v,) = oracle.read_your_writes(h)
    assert v.anomaly == "StaleRead"
    assert v.message.endswith("a value it had already overwritten or forgotten")


def test_a_recall_raced_by_the_same_identity_may_see_either_value() -> None:
    for seen in (V1, V2):
        h = _history()
        _start(h, 1, "r1", "A", [remember(KA, V1), ToolCall("recall", "redis", KA)])
        _run(h, 2, "r2", "A", [remember(KA, V2)], ["ok"])
        _finish(h, 4, "r1", ["ok", seen])
        assert _found(h) == []


# -- scratch (a run's own request-scoped data) ---------------------------------------


def test_a_runs_scratch_reads_back_what_it_kept() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [scratch(V1), LIST, scratch(V2)], [[V1], [], [V1, V2]])
    assert _found(h) == []


def test_data_gone_while_another_identity_wrote_the_same_key_name_names_it() -> None:
    # A shared key name (isolation_fuzz.strategies.plans.SHARED_KEYS): an upsert deleting by name.
    h = _history()
    _run(h, 1, "r1", "A", [remember("k", V1)], ["ok"])
    _run(h, 3, "r2", "B", [remember("k", VB)], ["ok"])
    _run(h, 5, "r3", "A", [ToolCall("recall", "redis", "k")], [None])
    (v,) = oracle.read_your_writes(h)
    assert (v.anomaly, v.identities, v.evidence["culprits"]) == (
        "DataDestroyedByAnotherIdentity", ("A", "B"), ["r2"])


def test_another_identitys_write_of_another_key_name_is_no_suspect() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [remember("k", V1)], ["ok"])
    _run(h, 3, "r2", "B", [remember("j", VB)], ["ok"])
    _run(h, 5, "r3", "A", [ToolCall("recall", "redis", "k")], [None])
    (v,) = oracle.read_your_writes(h)
    assert (v.anomaly, v.identities) == ("LostWrite", ("A",))


def test_scratch_removed_while_another_identitys_run_ended_is_destroyed_by_it() -> None:
    h = _history()
    _start(h, 1, "r1", "A", [scratch(V1), scratch(V2)])
    _run(h, 2, "r2", "B", [LIST], [[]])  # its cleanup swept the thread
    _finish(h, 4, "r1", [[V1], [V2]])
    (v,) = oracle.read_your_writes(h)
    assert (v.anomaly, v.identities, v.evidence["culprits"]) == (
        "DataDestroyedByAnotherIdentity", ("A", "B"), ["r2"])
    assert v.evidence["key"] == V1
    assert "read back its scratch on redis in run r1 call 1 and" in v.message
    assert v.message.endswith("meanwhile run(s) r2 of B ('u10') cleaned up")


def test_scratch_removed_by_the_same_identitys_other_run_or_by_nobody() -> None:
    h = _history()
    _start(h, 1, "r1", "A", [scratch(V1), scratch(V2)])
    _run(h, 2, "r2", "A", [LIST], [[]])
    _finish(h, 4, "r1", [[V1], [V2]])
    assert _found(h) == [("DataDestroyedByAnotherRun", "r1", 4, ("A",))]
    h2 = _history()
    _run(h2, 1, "r1", "A", [scratch(V1), scratch(V2)], [[V1], [V2]])
    assert _found(h2) == [("LostWrite", "r1", 2, ("A",))]


def test_another_runs_scratch_read_back_is_a_stale_read() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [scratch(V1)], [[V1]])
    _run(h, 3, "r2", "A", [scratch(V2)], [[V1, V2]])
    assert _found(h) == [("StaleRead", "r2", 4, ("A",))]


# -- key marks -----------------------------------------------------------------------


def test_key_marks_are_derived_per_identity_and_distinct() -> None:
    marks = [key_mark_for(name) for name in NAMES]
    assert len(set(marks)) == len(marks)
    assert marks == [key_mark_for(name) for name in NAMES]  # derived, not drawn
    assert read_findings(_history()) == []


# -- where data lives (issue 20) -------------------------------------------------------


def _scoped(scope: str) -> History:
    from isolation_fuzz.capabilities import Capabilities

    h = History(Capabilities(data_scope=scope))
    h.add_identity("A", "u1")
    for marker in (CA, CA2, MA):
        h.canaries.register(marker, "A")
    return h


def _on(h: History, step: int, run_id: str, thread: str, calls: list[ToolCall],
        results: list[Any]) -> None:
    h.append(RunStarted(step, run_id, "A", "u1", thread, tuple(calls)))
    _finish(h, step + 1, run_id, results)


def test_per_thread_data_is_expected_only_in_its_thread() -> None:
    # A correct app whose notes live per thread: t2 has none of t1's notes, which a
    # per-user model calls a lost write.
    found = {}
    for scope in ("user", "thread"):
        h = _scoped(scope)
        _on(h, 1, "r1", "t1", [remember(KA, V1)], ["ok"])
        _on(h, 3, "r2", "t2", [ToolCall("recall", "redis", KA)], [None])
        found[scope] = _found(h)
    assert found == {"user": [("LostWrite", "r2", 4, ("A",))], "thread": []}


def test_per_thread_data_must_still_agree_with_the_threads_own_writes() -> None:
    # t2's value read back in t1 is right for a per-user app and wrong per thread.
    found = {}
    for scope in ("user", "thread"):
        h = _scoped(scope)
        _on(h, 1, "r1", "t1", [remember(KA, V1)], ["ok"])
        _on(h, 3, "r2", "t2", [remember(KA, V2)], ["ok"])
        _on(h, 5, "r3", "t1", [ToolCall("recall", "redis", KA)], [V2])
        found[scope] = _found(h)
    assert found == {"user": [], "thread": [("LostWrite", "r3", 6, ("A",))]}


def test_per_run_data_expects_nothing_of_earlier_runs() -> None:
    h = _scoped("run")
    _on(h, 1, "r1", "t1", [remember(KA, V1), ToolCall("recall", "redis", KA)], ["ok", V1])
    _on(h, 3, "r2", "t1", [ToolCall("recall", "redis", KA)], [None])
    assert _found(h) == []
