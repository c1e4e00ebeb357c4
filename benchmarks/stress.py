"""What stress mode sustains on this machine: runs/s, events/s, delivery latency, memory.

Runs ``isolation-fuzz stress``'s engine (:func:`isolation_fuzz.engine.stress.runner.run_stress`)
on the correct reference platform, embedded engines, for each number of identities
and each transport (real WebSockets, or in-process delivery), every configuration in
a fresh interpreter so that its peak RSS is its own.  The offered rate is set above
what the machine sustains, so runs/s is the throughput, not the rate asked for (at
most 256 runs are in flight).  Delivery latency is from a run's return until all its
events are in hand on its owner's connection (a sync round trip proves it).  Every
configuration must end clean: a violation or an error on the correct platform fails
the benchmark.  Writes benchmarks/results/stress.md.

    python benchmarks/stress.py [--identities 100 300] [--duration 15] [--rate 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def one(identities: int, transport: str, duration: float, rate: float, seed: int) -> dict[str, Any]:
    """One configuration, in this process: the stress figures, the verdict and peak RSS."""
    from isolation_fuzz.engine.stress.runner import StressConfig, run_stress
    from isolation_fuzz.target import TargetSpec

    config = StressConfig(target=TargetSpec("reference", transport), identities=identities,
                          rate=rate, duration=duration, seed=seed)
    result = run_stress(config)
    figures = result.figures()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**figures, "verdict": result.campaign.verdict, "rss_mib": round(rss_mib, 1),
            "rss_per_identity_kib": round(rss_mib * 1024 / identities, 1)}


def _in_subprocess(identities: int, transport: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", str(identities), transport,
               "--duration", str(args.duration), "--rate", str(args.rate), "--seed", str(args.seed)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLATION_FUZZ_")}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{identities} identities over {transport} failed:\n{done.stderr}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| identities | transport | runs/s | events/s | p50 latency | p99 latency | "
            "checks (s) | peak RSS | RSS per identity | verdict |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['identities']} | {r['transport']} | {r['runs_per_second']:g} | "
            f"{r['events_per_second']:,.0f} | {r['latency_p50_ms']:.2f} ms | "
            f"{r['latency_p99_ms']:.2f} ms | {r['check_seconds']:.1f} | {r['rss_mib']:.0f} MiB | "
            f"{r['rss_per_identity_kib']:.0f} KiB | {r['verdict']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--transports", nargs="+", default=["websocket", "local"])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", nargs=2, metavar=("IDENTITIES", "TRANSPORT"))
    args = parser.parse_args()
    if args.one:
        row = one(int(args.one[0]), args.one[1], args.duration, args.rate, args.seed)
        print(json.dumps(row))
        return
    rows = []
    for identities in args.identities:
        for transport in args.transports:
            row = _in_subprocess(identities, transport, args)
            print(f"{identities} identities, {transport}: {row['runs_per_second']} runs/s, "
                  f"p99 {row['latency_p99_ms']} ms, {row['verdict']}", file=sys.stderr)
            rows.append(row)
    text = (
        "# Stress: what the correct reference platform sustains under `isolation-fuzz stress`\n\n"
        f"Measured by `python benchmarks/stress.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), Python {platform.python_version()}, embedded "
        f"Redis, Postgres and ClickHouse; {args.duration:g} s per configuration, offered "
        f"{args.rate:g} runs/s (above what is sustained), seed {args.seed}; schedule noise "
        "at every interleaving point; the history checked as it grows by the batch oracle.\n\n"
        + table(rows) + "\n\n"
        "runs/s and events/s: runs that ended, and events delivered, per second of the "
        "window. Latency: from a run's return until all its events are in hand on its "
        "owner's connection. checks: seconds the batch oracle took, in a worker thread, "
        "over the whole window (it grows with the history; the incremental oracle will "
        "flatten it). Peak RSS is the whole process, embedded ClickHouse (chdb) included, "
        "so most of it is not per identity. Every configuration must end clean.\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stress.md").write_text(text, encoding="utf-8")
    print(table(rows))
    if any(r["verdict"] != "clean" for r in rows):
        raise SystemExit("the correct platform did not end clean under stress")


if __name__ == "__main__":
    main()
