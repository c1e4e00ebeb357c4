"""How often each identity family appears in generated identity sets, and what a set costs.

Samples identity sets the way the state machine draws them (``identity_sets(2, 3)``,
Hypothesis's own generation, a fixed seed) and counts, per family of
``isolation_fuzz.strategies.identity_families``:

* drawn: sets holding a pair drawn as that family, whole, that collides under its
  transformation (issue 13 asks for at least 3% each);
* collides: sets holding *any* two ids that collide under that family's
  transformation, whatever drew them (families overlap: ``a`` / ``a:b`` is a
  delimiter pair and a prefix pair too).

With ``--baseline REV`` the identity strategy of that git revision is sampled too
(its ``collides`` column: what the old generator reached) and timed next to today's.
Timing is microseconds per drawn set, next to a bare ``st.integers()`` for the cost
of Hypothesis's own loop.  Writes benchmarks/results/identity_families.md.

    python benchmarks/identity_families.py [--sets 10000] [--seed 0] [--baseline REV]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolation_fuzz.strategies.identities import labelled_identity_sets  # noqa: E402
from isolation_fuzz.strategies.identity_families import FAMILIES  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: The share of sets every family must reach (issue 13).
FLOOR = 0.03

Labelled = tuple[str, str, str]


def draw_many(strategy: st.SearchStrategy[Any], count: int, at: int = 0) -> list[Any]:
    """``count`` values as Hypothesis generates them for a test, from seed ``at``."""
    out: list[Any] = []

    @seed(at)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def sample(count: int, at: int = 0) -> list[tuple[list[str], list[Labelled]]]:
    """``count`` identity sets (2 or 3 ids, as the machine draws them) with their pairs."""
    return draw_many(labelled_identity_sets(min_size=2, max_size=3), count, at)


def drawn_shares(sets: Sequence[tuple[list[str], list[Labelled]]]) -> dict[str, float]:
    """Per family: the share of sets holding a whole, colliding pair drawn as it."""
    counts: Counter[str] = Counter()
    for _, pairs in sets:
        counts.update({name for name, a, b in pairs if FAMILIES[name].collides(a, b)})
    return {name: counts[name] / len(sets) for name in FAMILIES}


def colliding_shares(sets: Sequence[Sequence[str]]) -> dict[str, float]:
    """Per family: the share of sets in which any two ids collide under its transformation."""
    counts: Counter[str] = Counter()
    for ids in sets:
        pairs = list(itertools.combinations(ids, 2))
        counts.update(n for n, f in FAMILIES.items() if any(f.collides(a, b) for a, b in pairs))
    return {name: counts[name] / len(sets) for name in FAMILIES}


def microseconds_per_set(strategy: st.SearchStrategy[Any], count: int, at: int = 0) -> float:
    """Wall time per generated value, Hypothesis's loop included."""
    start = time.perf_counter()
    values = draw_many(strategy, count, at)
    return (time.perf_counter() - start) / len(values) * 1e6


def baseline_strategy(rev: str) -> st.SearchStrategy[list[str]]:
    """``identity_sets(2, 3)`` as strategies/identities.py defined it at git revision ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:strategies/identities.py"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout
    module = types.ModuleType(f"identities_at_{rev}")
    exec(compile(source, f"{rev}:strategies/identities.py", "exec"), module.__dict__)
    strategy: st.SearchStrategy[list[str]] = module.identity_sets(min_size=2, max_size=3)
    return strategy


def _table(now: dict[str, float], collides: dict[str, float],
           before: dict[str, float] | None) -> list[str]:
    head = "| family | collides when ids are | drawn | any pair collides |"
    rule = "|---|---|---|---|"
    if before is not None:
        head, rule = head + " before: any pair collides |", rule + "---|"
    lines = [head, rule]
    for name, family in FAMILIES.items():
        row = (f"| {name} | {family.transformation} | {now[name]:.1%} "
               f"| {collides[name]:.1%} |")
        lines.append(row + (f" {before[name]:.1%} |" if before is not None else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-sets", type=int, default=3_000)
    parser.add_argument("--baseline", metavar="REV", help="also sample and time this revision")
    args = parser.parse_args()

    sets = sample(args.sets, args.seed)
    now = drawn_shares(sets)
    collides = colliding_shares([ids for ids, _ in sets])
    old = baseline_strategy(args.baseline) if args.baseline else None
    before = colliding_shares(draw_many(old, args.sets, args.seed)) if old is not None else None

    timings = {"st.integers() (Hypothesis's loop alone)":
               microseconds_per_set(st.integers(), args.timing_sets, args.seed),
               "identity_sets(2, 3)": microseconds_per_set(
                   labelled_identity_sets(2, 3).map(lambda t: t[0]), args.timing_sets, args.seed)}
    if old is not None:
        timings[f"identity_sets(2, 3) at {args.baseline}"] = microseconds_per_set(
            old, args.timing_sets, args.seed)

    low = [name for name, share in now.items() if share < FLOOR]
    lines = [
        "# Identity families: how often each appears in generated identity sets",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. "
        f"{len(sets)} sets of 2 or 3 ids, drawn as the state machine draws them, seed "
        f"{args.seed}. *drawn*: sets holding a whole pair drawn as that family (it must "
        f"reach {FLOOR:.0%}); *any pair collides*: sets with two ids that collide under "
        "the family's transformation, whatever drew them (families overlap).",
        "",
        *_table(now, collides, before),
        "",
        f"Every family at least {FLOOR:.0%}: {'yes' if not low else 'NO: ' + ', '.join(low)}.",
        "",
        f"Cost per set ({args.timing_sets} draws each, Hypothesis's generation loop included):",
        "",
        "| strategy | microseconds per set |",
        "|---|---|",
        *(f"| {name} | {us:.0f} |" for name, us in timings.items()),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "identity_families.md").write_text(text, encoding="utf-8")
    raise SystemExit(1 if low else 0)


if __name__ == "__main__":
    main()
