"""Wall-clock of a benchmark suite on the local pool: N workers against one, same cells.

    python -m benchmarks.bench_workers [--workers 2] [--steps 20000] [--seeds 2] [--repeats 3]
        [--out benchmarks/runs/bench-workers]

The suite is pointmaze-umaze, GAIL and BC, ``--seeds`` seeds, one regime (100% coverage,
10 demonstrations), ``--steps`` env steps (BC: its preset's gradient steps). It runs twice into
fresh folders: once with one worker (cells one after another) and once with ``--workers``
(``--repeats`` such pairs, alternating which goes first; the ratio quoted is the median of the
pairs' ratios), each time timed from the start of ``diffil bench run`` to its end
(demonstrations, process start-up and every cell included). Target (issue 17): 2 workers
take <= 0.6x the time of one.
Run it on an otherwise idle machine: the ratio measures how well the cells use the cores
there are, and anything else running takes them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.report import write_result
from diffil.bench.runner import run_suite
from diffil.bench.suite import suite_from_dict


def timed_run(suite_data: dict, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    summary = run_suite(suite_from_dict(suite_data, "bench_workers"), out, workers=workers)
    seconds = time.perf_counter() - started
    states = [o.state for o in summary.outcomes.values()]
    return {
        "workers": workers,
        "seconds": round(seconds, 1),
        "cells": len(states),
        "failed": states.count("failed"),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/bench-workers"))
    args = parser.parse_args()
    suite = {
        "name": "workers",
        "tasks": ["pointmaze-umaze"],
        "methods": ["gail", "bc"],
        "seeds": args.seeds,
        "budget": {"online": args.steps},
        "regimes": [{"name": "cov100", "coverage": 1.0, "demos": 10}],
        "overrides": {"eval": {"every": args.steps, "episodes": 10, "final_episodes": 10}},
    }
    rows, ratios = [], []
    for repeat in range(args.repeats):
        order = [1, args.workers] if repeat % 2 == 0 else [args.workers, 1]
        pair = {w: timed_run(suite, args.out / f"w{w}", w) for w in order}
        ratios.append(pair[args.workers]["seconds"] / pair[1]["seconds"])
        rows += [{**pair[w], "repeat": repeat} for w in order]
    ratio = statistics.median(ratios)
    table = "\n".join(
        [
            f"Suite: pointmaze-umaze x (gail, bc) x {args.seeds} seeds, one regime, "
            f"{args.steps:,} env steps; {os.cpu_count()} CPUs seen by the process.",
            "",
            "| repeat | workers | wall-clock s | cells | failed | load average before / after |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r['repeat']} | {r['workers']} | {r['seconds']} | {r['cells']} | "
                f"{r['failed']} | {r['load_before']} / {r['load_after']} |"
                for r in rows
            ),
            "",
            f"**{args.workers} workers / 1 worker: {ratio:.2f}** (median of the repeats' ratios "
            f"{', '.join(f'{r:.2f}' for r in ratios)}; target <= 0.6).",
        ]
    )
    print(table)
    data = {"rows": rows, "ratios": ratios}
    path = write_result("bench_workers", "Benchmark suite: workers", table, data)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
