"""DRAIL and the baselines on the PointMazes: success, and env steps / wall-clock to 90%.

    python -m benchmarks.maze_imitation [--tasks pointmaze-umaze pointmaze-medium]
        [--methods drail gail airl diffail wail bc] [--seeds 0 1 2] [--parallel 2]

Each run is `diffil train METHOD --task TASK --seed S` with the task's preset budget (umaze 300k,
medium 1M env steps) and 100 scripted demonstrations, one torch thread per run, ``--parallel``
runs at a time; then `diffil eval RUN --episodes 100`. Results per task go to
``results/maze_imitation_<task>.md``. Runs are kept under ``--runs`` for inspection.

Targets (issue: DRAIL on PPO): umaze >= 98% success within 300k steps, medium >= 95% within 1M,
3 seeds each. The `imitation` library (1.0.1, same demos, this machine) reaches on umaze at
300k: AIRL 99%, GAIL 71% (~100 s each); on medium at 1M: AIRL 85%, GAIL 61% (~6 min each).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import DIFFIL, add_set_option, diffil_train, single_thread_env
from benchmarks.report import write_result
from diffil.algorithms.config import read_run_config
from diffil.algorithms.methods import get_method

# The `imitation` library (1.0.1, PPO with 8 envs, the same 100 scripted demos, this machine), as
# quoted in the issue that set the targets.
IMITATION_REFERENCE = {
    "pointmaze-umaze": "at 300k steps: AIRL 99%, GAIL 71% success (~100 s each)",
    "pointmaze-medium": "at 1M steps: AIRL 85%, GAIL 61% success (~6 min each)",
}
# DRAIL's targets as the issues set them (pointmaze-large: issue 22, with the default command).
TARGETS = {
    "pointmaze-umaze": ">= 98% within 300k steps",
    "pointmaze-medium": ">= 95% within 1M",
    "pointmaze-large": ">= 90% with the default command, within its preset budget (<= 3M)",
}


def run_one(
    method: str, task: str, seed: int, runs: Path, train: bool = True, sets: tuple[str, ...] = ()
) -> dict | None:
    out = runs / f"{task}-{method}-s{seed}"
    if not train and not (out / "eval.json").exists():
        return None
    start = time.perf_counter()
    if not (out / "eval.json").exists():
        overrides = [arg for item in sets for arg in ("--set", item)]
        args = [method, "--task", task, "--seed", str(seed), *overrides]
        if not diffil_train(out, args, runs / f"{out.name}.log"):
            return None
    train_seconds = time.perf_counter() - start
    trained = json.loads((out / "eval.json").read_text())
    final = out / "eval100.json"
    if not final.exists():
        result = subprocess.run(
            [*DIFFIL, "eval", str(out), "--episodes", "100"],
            env=single_thread_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        final.write_text(json.dumps({"output": result.stdout.strip()}))
    text = json.loads(final.read_text())["output"]
    success = float(text.split("success ")[1].split("%")[0]) / 100
    row = {
        "method": method,
        "task": task,
        "seed": seed,
        "success_100": success,
        "env_steps": trained["env_steps"],
        "seconds": trained["seconds"],
        "reached_90": trained.get("reached_90"),
        "wall_seconds_this_call": train_seconds,
    }
    print(json.dumps(row), flush=True)
    return row


def summarise(task: str, rows: list[dict]) -> str:
    lines = [
        "| method | success (median of seeds) | per seed | env steps to 90% (median) | "
        "seconds to 90% (median) | run seconds (median) |",
        "|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        reached = [r["reached_90"] for r in mine if r["reached_90"]]
        steps90 = (
            f"{statistics.median(r['env_steps'] for r in reached):,.0f} "
            f"({len(reached)}/{len(mine)} seeds)"
            if reached
            else "not reached"
        )
        secs90 = f"{statistics.median(r['seconds'] for r in reached):.0f}" if reached else "-"
        lines.append(
            f"| {method} | {statistics.median(r['success_100'] for r in mine):.0%} | "
            + ", ".join(f"{r['success_100']:.0%}" for r in mine)
            + f" | {steps90} | {secs90} | {statistics.median(r['seconds'] for r in mine):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["pointmaze-umaze", "pointmaze-medium"])
    parser.add_argument(
        "--methods", nargs="+", default=["drail", "gail", "airl", "diffail", "wail", "bc"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="Run directories (default benchmarks/runs, or benchmarks/runs/TAG with --tag).",
    )
    parser.add_argument("--tag", default="", help="Suffix of the results file names.")
    add_set_option(parser)
    parser.add_argument(
        "--summarise-only", action="store_true", help="Tabulate finished runs; train nothing."
    )
    args = parser.parse_args()
    if args.runs is None:  # a tagged variant (e.g. --set rl=sac) must not reuse untagged runs
        args.runs = Path("benchmarks/runs") / args.tag if args.tag else Path("benchmarks/runs")
    args.runs.mkdir(parents=True, exist_ok=True)
    jobs = [(m, t, s) for t in args.tasks for m in args.methods for s in args.seeds]
    with ThreadPoolExecutor(args.parallel) as pool:
        done = pool.map(
            lambda job: run_one(*job, args.runs, not args.summarise_only, tuple(args.sets)), jobs
        )
        rows = [row for row in done if row is not None]
    for task in args.tasks:
        mine = [r for r in rows if r["task"] == task]
        if not mine:
            continue
        seeds = sorted({r["seed"] for r in mine})
        demos = sorted(
            {
                read_run_config(args.runs / f"{task}-{r['method']}-s{r['seed']}").num_demos
                for r in mine
            }
        )
        table = "\n".join(
            [
                f"Seeds {seeds} (see the per-seed column); "
                f"{' or '.join(map(str, demos))} scripted demos; the task preset's "
                "budget; success over 100 evaluation episodes (all start/goal cells) of the final "
                "policy; 'to 90%' = first periodic evaluation (30 episodes) at >= 90%. "
                + (
                    "Tabulated from runs made earlier by this script (one torch thread each, two "
                    "at a time, at times beside other jobs): the seconds are wall-clock under that "
                    "load; the `_quiet` results time single runs on an idle machine."
                    if args.summarise_only
                    else f"Runs used one torch thread each, {args.parallel} at a time."
                )
                + (f" Overrides: {', '.join(args.sets)}." if args.sets else ""),
                "",
                summarise(task, mine),
            ]
        )
        name = f"maze_imitation_{task}" + (f"_{args.tag}" if args.tag else "")
        notes = (
            f"DRAIL target (3 seeds): {TARGETS.get(task, 'none set')}. For comparison, the "
            f"`imitation` library {IMITATION_REFERENCE.get(task, '(no figure)')}."
        )
        if any(get_method(m).offline for m in args.methods):
            notes += (
                " Offline methods (bc, diffusion-policy, flow-policy) use no environment steps; "
                "their run seconds are training plus the final evaluation (eval.final_episodes). "
                "DRAIL's paper, on its medium maze: BC 61.6%, Diffusion Policy 68.8%."
            )
        title = f"Imitation on {task} {args.tag}".strip()
        path = write_result(name, title, table, {"rows": mine}, notes)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
