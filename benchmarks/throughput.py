"""Steps per second of a campaign, next to raw driver operations per second.

For each service setup (embedded engines; the external Redis and Postgres when
ISOLATION_FUZZ_REDIS_URL / ISOLATION_FUZZ_POSTGRES_URL are set), this measures:

* campaign: moves (rules) per second of a clean quick campaign on the reference
  platform, and example throughput;
* raw: the same store operations the agent's tools perform (a memory write and a
  read per store, Postgres in a transaction with the acting user set) issued
  directly through the drivers, with no fuzzer, scheduler or platform around them.

The ratio is what the fuzzer's bookkeeping costs.  Each campaign runs twice, in the
same process on the same engines' setup: with ``reset()`` between examples (the fast
path) and with a fresh target per example (``Limits(fresh_target=True)``, the factory
called again: for the reference platform, its schema checked and its pools reopened).
With ``reset()`` it also runs once per interleaving-point mode (issue 12): explicit
checkpoints only, automatic points plus explicit ones (``auto``, the default) and
automatic points only, so their moves/s stand side by side from one run.
Writes
benchmarks/results/throughput.md and throughput.json.

    python benchmarks/throughput.py [--examples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import anyio

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.example.harness import Limits
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.platform import schema
from isolation_fuzz.services import ServiceConfig, ServiceSet, open_services

RESULTS = Path(__file__).parent / "results"


async def _raw_ops(services: ServiceSet, seconds: float) -> dict[str, float]:
    await schema.install(services)
    redis = services.redis()
    pool = await services.postgres_pool(min_size=1, max_size=2)
    ch = await services.clickhouse()
    db = services.clickhouse_database
    out: dict[str, float] = {}
    try:
        async def redis_op(i: int) -> None:
            await redis.set(f"{services.redis_prefix}raw:{i % 4}", "v")
            await redis.get(f"{services.redis_prefix}raw:{i % 4}")

        async def pg_op(i: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('isolation_fuzz.user_id', 'u1', true)")
                await conn.execute(
                    "INSERT INTO memories (owner, key, value) VALUES ('u1', $1, 'v') "
                    "ON CONFLICT (owner, key) DO UPDATE SET value = EXCLUDED.value", str(i % 4))
                await conn.fetchval("SELECT value FROM memories WHERE key = $1", str(i % 4))

        async def ch_op(i: int) -> None:
            await ch.command(
                f"INSERT INTO {db}.memories VALUES ('u1', {{k:String}}, 'v', 0, {{n:UInt64}})",
                {"k": str(i % 4), "n": i})
            await ch.query_rows(
                f"SELECT argMax(value, version) FROM {db}.memories WHERE owner = 'u1' "
                "AND key = {k:String}", {"k": str(i % 4)})

        for name, op in (("redis", redis_op), ("postgres", pg_op), ("clickhouse", ch_op)):
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                await op(count)
                count += 1
            out[name] = count * 2 / (time.perf_counter() - started)  # two driver ops each
    finally:
        await redis.aclose()
        await pool.close()
        await ch.aclose()
    return out


async def _raw(config: ServiceConfig, seconds: float) -> dict[str, float]:
    async with open_services(config) as services:
        return await _raw_ops(services, seconds)


def measure(
    name: str, config: ServiceConfig, examples: int, raw: dict[str, float], fresh: bool = False,
    points: Points = "auto",
) -> dict[str, Any]:
    result = run_campaign(CampaignConfig(
        max_examples=examples, seed=42, services=config,
        limits=Limits(fresh_target=fresh, points=points),
    ))
    seconds = result.fuzzing_seconds
    # A tool call is one store operation; the plans spread them over the three stores,
    # so the raw rate to compare with is the harmonic mean of the three stores' rates.
    raw_mixed = len(raw) / sum(1 / rate for rate in raw.values())
    calls_per_second = result.tool_calls / seconds
    return {
        "setup": name,
        "between_examples": "fresh target" if fresh else "reset()",
        "points": points,
        "services": result.services,
        "examples": result.examples,
        "moves": result.steps,
        "tool_calls": result.tool_calls,
        "fuzzing_seconds": round(seconds, 2),
        "moves_per_second": round(result.steps / seconds, 1),
        "examples_per_second": round(result.examples / seconds, 1),
        "tool_calls_per_second": round(calls_per_second, 1),
        "raw_ops_per_second": {k: round(v, 1) for k, v in raw.items()},
        "raw_mixed_ops_per_second": round(raw_mixed, 1),
        "ratio": round(raw_mixed / calls_per_second, 1),
        "verdict": result.verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    setups = [("embedded", ServiceConfig())]
    env = ServiceConfig.from_env()
    if env.redis_url or env.postgres_url:
        setups.append(("external redis/postgres", env))
    rows = []
    for name, config in setups:
        raw = anyio.run(_raw, config, 3.0)
        rows += [measure(name, config, args.examples, raw, False, points)
                 for points in ("explicit", "auto", "auto-only")]
        rows.append(measure(name, config, args.examples, raw, True, "auto"))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Throughput", "", f"Machine: {machine}. Campaign: quick profile, seed 42, "
        f"{args.examples} examples, reference platform, in-process events.", "",
        "| setup | between examples | points | moves/s | examples/s | tool calls/s (fuzzed) | "
        "raw ops/s redis / postgres / clickhouse | raw mixed ops/s | raw : fuzzed | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        raw = r["raw_ops_per_second"]
        lines.append(
            f"| {r['setup']} | {r['between_examples']} | {r['points']} | "
            f"{r['moves_per_second']} | "
            f"{r['examples_per_second']} | "
            f"{r['tool_calls_per_second']} | {raw['redis']} / {raw['postgres']} / "
            f"{raw['clickhouse']} | {r['raw_mixed_ops_per_second']} | {r['ratio']}x | "
            f"{r['verdict']} |"
        )
    side = ", ".join(f"{r['points']} {r['moves_per_second']}" for r in rows
                     if r["between_examples"] == "reset()" and r["setup"] == "embedded")
    lines += ["", f"Moves/s by interleaving points, side by side (embedded, reset()): {side}."]
    lines += ["", (
        'A move is one state-machine rule: start a run, step it, let it finish, look, '
        'forge a token; each performs several store operations and event deliveries, plus'
        " the oracle's incremental check of what the move added. A tool call is one store"
        ' operation; `raw : fuzzed` is how many times faster the same operations go '
        'through the bare drivers (no fuzzer, scheduler, platform, events, canaries or '
        'oracle) than inside a campaign. `reset()` keeps one target open and clears each '
        "example's data; `fresh target` (`--fresh-target`) also closes it and calls the "
        'factory again after every example. `points`: where runs may be interleaved '
        '(`--points`): only at `checkpoint()` calls (explicit), at every real await as '
        'well (auto), or at awaits only (auto-only); more points mean more, shorter '
        'moves.'
    )]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "throughput.md").write_text(table + "\n")
    (RESULTS / "throughput.json").write_text(
        json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
