"""One DRAIL policy for several mazes, against single-task DRAIL on each (reference 000, [0050]).

    python -m benchmarks.multitask_mazes [--tasks pointmaze-umaze pointmaze-medium]
        [--method drail] [--seeds 0 1 2] [--parallel 1] [--tag TAG] [--set KEY=VALUE]

Each run is the default multi-task command, `diffil train METHOD --task A,B --seed S`: one
policy and one reward model, the task id appended to the observation as a one-hot, every
task's environments mixed in the rollouts, and the budget the sum of the tasks' preset budgets
(umaze 300k + medium 1M env steps). Its final evaluation (eval.json) scores each task on its own
(100 start/goal pairs each on the mazes). The single-task figures beside it are read from the
results files of benchmarks.maze_imitation named in ``SINGLE_TASK`` (same presets, their own
date and machine, given in the table), not re-run here.

Results go to ``results/multitask_mazes[_TAG].md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import add_set_option, diffil_train
from benchmarks.report import RESULTS, write_result

# Single-task DRAIL with the default command, per task: the results file that has it.
SINGLE_TASK = {
    "pointmaze-umaze": "maze_imitation_pointmaze-umaze_family",
    "pointmaze-medium": "maze_imitation_pointmaze-medium",
    "pointmaze-large": "maze_imitation_pointmaze-large_family",
}


def run_one(tasks: list[str], method: str, seed: int, runs: Path, sets: list[str]) -> dict | None:
    out = runs / f"{'+'.join(tasks)}-{method}-s{seed}"
    if not (out / "eval.json").is_file():
        args = [method, "--task", ",".join(tasks), "--seed", str(seed)]
        args += [a for item in sets for a in ("--set", item)]
        if not diffil_train(out, args, runs / f"{out.name}.log"):
            return None
    found = json.loads((out / "eval.json").read_text())
    row = {
        "seed": seed,
        "success": found.get("success_rate"),
        "env_steps": found.get("env_steps"),
        "seconds": found.get("seconds"),
        "per_task": {t: r.get("success_rate") for t, r in found.get("tasks", {}).items()},
    }
    print(json.dumps(row), flush=True)
    return row


def single_task(task: str, method: str) -> tuple[list[float], str] | None:
    """Per-seed success of single-task ``method`` on ``task`` and the file's date."""
    name = SINGLE_TASK.get(task)
    path = RESULTS / f"{name}.json"
    if name is None or not path.is_file():
        return None
    data = json.loads(path.read_text())
    scores = [r["success_100"] for r in data["rows"] if r["method"] == method]
    return (scores, f"[{name}]({name}.md), {data['date']}") if scores else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["pointmaze-umaze", "pointmaze-medium"])
    parser.add_argument("--method", default="drail")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--tag", default="", help="Suffix of the results file name.")
    add_set_option(parser)
    args = parser.parse_args()
    runs = Path("benchmarks/runs") / ("multitask" + (f"-{args.tag}" if args.tag else ""))
    runs.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.parallel) as pool:
        done = pool.map(
            lambda seed: run_one(args.tasks, args.method, seed, runs, args.sets), args.seeds
        )
        rows = [r for r in done if r is not None]
    if not rows:
        raise SystemExit("no run finished; see the logs under " + str(runs))
    lines = [
        f"| task | multi-task {args.method}: success (median of seeds) | per seed | "
        f"single-task {args.method} (median) | per seed | single-task source |",
        "|---|---|---|---|---|---|",
    ]
    for task in args.tasks:
        mine = [r["per_task"][task] for r in rows]
        single = single_task(task, args.method)
        single_cells = (
            f"{statistics.median(single[0]):.0%} | "
            + ", ".join(f"{s:.0%}" for s in single[0])
            + f" | {single[1]}"
            if single
            else "- | - | not measured"
        )
        lines.append(
            f"| {task} | {statistics.median(mine):.0%} | "
            + ", ".join(f"{s:.0%}" for s in mine)
            + f" | {single_cells} |"
        )
    steps = statistics.median(r["env_steps"] for r in rows)
    secs = statistics.median(r["seconds"] for r in rows)
    table = "\n".join(
        [
            f"Seeds {[r['seed'] for r in rows]}; one `{args.method}` run per seed over "
            f"{', '.join(args.tasks)} with the summed preset budget ({steps:,.0f} env steps, "
            f"median run {secs:.0f} s wall-clock, one torch thread, {args.parallel} run(s) at a "
            "time); success over each task's final evaluation (100 start/goal pairs per maze)."
            + (f" Overrides: {', '.join(args.sets)}." if args.sets else ""),
            "",
            *lines,
        ]
    )
    name = "multitask_mazes" + (f"_{args.tag}" if args.tag else "")
    title = f"One {args.method} policy for {' and '.join(args.tasks)} {args.tag}".strip()
    print(f"wrote {write_result(name, title, table, {'rows': rows})}")


if __name__ == "__main__":
    main()
