"""Periodic evaluations of runs, finished or not, side by side at chosen env steps.

    python -m benchmarks.learning_curves --name NAME --title TITLE
        --group "LABEL=RUN_DIR [RUN_DIR ...]" [--group ...] --at 50000 100000 300000
        [--metric eval_success | eval_return] [--task hopper] [--threshold 0.9] [--notes TEXT]

Reads each run's ``metrics.csv`` (the rows with a periodic evaluation) and reports, per group,
the median over its runs of the first evaluation at or after each ``--at`` step, and the env
steps at which each run's evaluation first reached ``--threshold``. With ``--task`` the returns
are normalised by the task's reference scores (random 0, expert 1). Unlike the per-benchmark
summaries this needs no finished run, so it can tabulate runs stopped early (say so in --notes).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from benchmarks.report import write_result
from diffil.envs.registry import get_task


def evaluations(run: Path, metric: str) -> list[tuple[int, float]]:
    """(env steps, value) of every periodic evaluation logged in ``run/metrics.csv``."""
    with (run / "metrics.csv").open() as f:
        return [
            (int(float(row["env_steps"])), float(row[metric]))
            for row in csv.DictReader(f)
            if row.get(metric) not in (None, "")
        ]


def first_at_or_after(curve: list[tuple[int, float]], step: int) -> tuple[int, float] | None:
    return next(((s, v) for s, v in curve if s >= step), None)


def first_reaching(curve: list[tuple[int, float]], threshold: float) -> int | None:
    return next((s for s, v in curve if v >= threshold), None)


def parse_group(text: str) -> tuple[str, list[Path]]:
    label, sep, runs = text.partition("=")
    if not sep or not runs.split():
        raise SystemExit(f"--group {text!r}: write it as 'LABEL=RUN_DIR [RUN_DIR ...]'")
    paths = [Path(p) for p in runs.split()]
    missing = [str(p) for p in paths if not (p / "metrics.csv").is_file()]
    if missing:
        raise SystemExit(f"no metrics.csv in {', '.join(missing)}: pass run directories")
    return label.strip(), paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="results/<name>.md")
    parser.add_argument("--title", required=True)
    parser.add_argument("--group", action="append", required=True, type=parse_group)
    parser.add_argument("--at", nargs="+", type=int, required=True, help="env steps")
    parser.add_argument("--metric", default="eval_success")
    parser.add_argument("--task", help="normalise returns by this task's reference scores")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--notes", default="")
    args = parser.parse_args()

    scale = (lambda v: v) if args.task is None else get_task(args.task).normalized_score
    columns = [f"{step:,}" for step in args.at]
    header = ["group", "runs", "last logged step", *columns, f"first >= {args.threshold}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    data: dict[str, dict] = {}
    for label, runs in args.group:
        curves = [[(s, scale(v)) for s, v in evaluations(r, args.metric)] for r in runs]
        cells, per_step = [], {}
        for step in args.at:
            hits = [first_at_or_after(c, step) for c in curves]
            values = [v for hit in hits if hit is not None for v in [hit[1]]]
            cell = f"{statistics.median(values):.2f}" if values else "-"
            if len(runs) > 1:
                cell += " (" + ", ".join("-" if h is None else f"{h[1]:.2f}" for h in hits) + ")"
            steps_seen = {h[0] for h in hits if h is not None}
            if steps_seen and steps_seen != {step}:
                cell += " at " + ", ".join(f"{s:,}" for s in sorted(steps_seen))
            cells.append(cell)
            per_step[step] = [None if h is None else list(h) for h in hits]
        reached = [first_reaching(c, args.threshold) for c in curves]
        last = [c[-1][0] if c else 0 for c in curves]
        lines.append(
            "| "
            + " | ".join(
                [
                    label,
                    str(len(runs)),
                    ", ".join(f"{s:,}" for s in sorted(set(last))),
                    *cells,
                    ", ".join("not reached" if s is None else f"{s:,}" for s in reached),
                ]
            )
            + " |"
        )
        data[label] = {
            "runs": [str(r) for r in runs],
            "at": per_step,
            "first_reaching": reached,
            "last_logged": last,
        }
    what = args.metric if args.task is None else f"{args.metric} normalised ({args.task})"
    notes = (
        f"Cells: median over the group's runs of the first periodic evaluation ({what}) at or "
        "after the column's env steps, then each run's value, and the env steps of those "
        "evaluations where they differ from the column's. Last column: env steps of each run's "
        f"first evaluation >= {args.threshold}.\n\n{args.notes}"
    )
    data = {"metric": args.metric, "task": args.task, "threshold": args.threshold, **data}
    print(write_result(args.name, args.title, "\n".join(lines), data, notes))


if __name__ == "__main__":
    main()
