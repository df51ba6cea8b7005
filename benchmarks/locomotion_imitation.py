"""Imitation on MuJoCo locomotion from 1 and 5 expert trajectories: normalised return at 100k
and 300k env steps.

    python -m benchmarks.locomotion_imitation [--tasks hopper halfcheetah walker2d]
        [--methods drail-sac diffail-sac gail-sac smiling smiling-obs bc diffusion-policy
        flow-policy] [--trajectories 1 5] [--seeds 0 1 2] [--parallel 2]

Each run is `diffil train METHOD --task TASK --demos DATA_DIR/TASK.hdf5 --set num_demos=K --seed S
--steps 300000 --set eval.every=25000` (the adversarial methods with `--rl sac`; `smiling-obs`
is SMILING with `--obs-only`), one torch thread per run, ``--parallel`` runs at a time. The
demonstrations are the first K trajectories of the shipped ``src/diffil/datasets/<task>.hdf5``,
made with

    diffil expert train --task hopper
    diffil collect --task hopper --expert experts/hopper-s0 --episodes 25 --out hopper.hdf5

and then moved there.

The return at 100k steps is the periodic evaluation logged in the run's metrics.csv at that step;
the one at 300k is the final evaluation (eval.json). Both average ``eval.episodes`` episodes.
'env steps to 0.9' is the first periodic evaluation at >= 0.9 normalised return.
Offline methods (bc, diffusion-policy, flow-policy) use no env steps: they report their final
evaluation only. Results per task go to ``results/locomotion_imitation_<task>.md``; runs are kept
under ``--runs``.

Targets (issues: SAC backbone + SMILING; diffusion and flow policies): DRAIL-SAC or SMILING
>= 0.9 normalised return within 300k steps on hopper and halfcheetah; BC, diffusion policy and
flow policy from 5 trajectories on hopper and halfcheetah, 3 seeds (no target figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import learning_curves as curves
from benchmarks.common import DATA_DIR, add_set_option, demos_path, diffil_train, sets_for
from benchmarks.report import write_result
from diffil.algorithms.methods import get_method
from diffil.envs.registry import get_task
from diffil.utils.paths import shown_path

# label -> (diffil method, extra `diffil train` arguments)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "drail-sac": ("drail", ["--rl", "sac"]),
    "diffail-sac": ("diffail", ["--rl", "sac"]),
    "gail-sac": ("gail", ["--rl", "sac"]),
    "smiling": ("smiling", []),
    "smiling-obs": ("smiling", ["--obs-only"]),
    "bc": ("bc", []),
    "diffusion-policy": ("diffusion-policy", []),
    "flow-policy": ("flow-policy", []),
}
TARGET_METHODS = ("drail-sac", "smiling", "smiling-obs")
TARGET_TASKS = ("hopper", "halfcheetah")


def offline(label: str) -> bool:
    return get_method(VARIANTS[label][0]).offline


def normalised_curve(run: Path, task: str) -> list[tuple[int, float]]:
    """(env steps, normalised return) of every periodic evaluation in the run's metrics.csv."""
    if not (run / "metrics.csv").exists():
        return []
    spec = get_task(task)
    return [(at, spec.normalized_score(v)) for at, v in curves.evaluations(run, "eval_return")]


def run_one(job: tuple[str, str, int, int], args: argparse.Namespace) -> dict | None:
    task, label, k, seed = job
    out = args.runs / f"{task}-{label}-n{k}-s{seed}"
    if not (out / "eval.json").exists():
        if args.summarise_only:
            return None
        method, extra = VARIANTS[label]
        demos = demos_path(task, args.data_dir)
        overrides = [f"num_demos={k}", f"eval.every={args.eval_every}"]
        overrides += sets_for(label, args.sets)
        train_args = [method, "--task", task, "--seed", str(seed), "--demos", str(demos)]
        train_args += ["--steps", str(args.steps), *extra]
        train_args += [arg for item in overrides for arg in ("--set", item)]
        if not diffil_train(out, train_args, args.runs / f"{out.name}.log"):
            return None
    final = json.loads((out / "eval.json").read_text())
    curve = [] if offline(label) else normalised_curve(out, task)
    early = curves.first_at_or_after(curve, args.early)
    row = {
        "task": task,
        "method": label,
        "trajectories": k,
        "seed": seed,
        # recomputed, not read from eval.json: the task's reference scores may have changed
        "normalized_return": get_task(task).normalized_score(final["return_mean"]),
        "return_mean": final["return_mean"],
        "env_steps": final["env_steps"],
        "seconds": final["seconds"],
        "early_env_steps": early[0] if early else None,
        "early_normalized_return": early[1] if early else None,
        "steps_to_0.9": curves.first_reaching(curve, 0.9),
    }
    print(json.dumps(row), flush=True)
    return row


def _cells(values: list[float | None]) -> tuple[str, str]:
    known = [v for v in values if v is not None]
    if not known:
        return "-", "-"
    per = ", ".join("-" if v is None else f"{v:.2f}" for v in values)
    return f"{statistics.median(known):.2f}", per


def summarise(rows: list[dict], early: int, steps: int) -> str:
    lines = [
        f"| method | trajectories | normalised return at {early:,} (median) | per seed | "
        f"at {steps:,} (median) | per seed | env steps to 0.9 (median) | run seconds (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        for k in sorted({r["trajectories"] for r in rows if r["method"] == method}):
            mine = [r for r in rows if r["method"] == method and r["trajectories"] == k]
            e_med, e_per = _cells([r["early_normalized_return"] for r in mine])
            f_med, f_per = _cells([r["normalized_return"] for r in mine])
            if offline(method):
                e_med, e_per = "(offline)", "-"
            reached = [r["steps_to_0.9"] for r in mine if r.get("steps_to_0.9") is not None]
            to_09 = (
                f"{statistics.median(reached):,.0f} ({len(reached)}/{len(mine)} seeds)"
                if reached
                else ("-" if offline(method) else "not reached")
            )
            secs = statistics.median(r["seconds"] for r in mine)
            lines.append(
                f"| {method} | {k} | {e_med} | {e_per} | {f_med} | {f_per} | {to_09} | {secs:.0f} |"
            )
    return "\n".join(lines)


def verdict(task: str, rows: list[dict], steps: int) -> str:
    if task not in TARGET_TASKS:
        return "No target on this task."
    parts = []
    for method in TARGET_METHODS:
        for k in sorted({r["trajectories"] for r in rows if r["method"] == method}):
            mine = [
                r["normalized_return"]
                for r in rows
                if (r["method"], r["trajectories"]) == (method, k)
            ]
            parts.append(f"{method} ({k} traj.) {statistics.median(mine):.2f}")
    met = any(float(p.rsplit(" ", 1)[1]) >= 0.9 for p in parts)
    return (
        "Target: DRAIL-SAC or SMILING >= 0.9 normalised return within 300k steps: "
        + (f"(these runs: {steps:,} steps) " if steps != 300_000 else "")
        + ("met" if met else "NOT met")
        + (f" ({'; '.join(parts)})." if parts else " (none of them run).")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=["hopper", "halfcheetah", "walker2d"])
    parser.add_argument("--methods", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--trajectories", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300_000, help="Env steps per online run.")
    parser.add_argument(
        "--early", type=int, default=100_000, help="The earlier checkpoint tabulated (env steps)."
    )
    parser.add_argument("--eval-every", type=int, default=25_000, help="Must divide --early.")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/runs/locomotion"))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="Holds <task>.hdf5.")
    parser.add_argument("--tag", default="", help="Suffix of the results file names.")
    add_set_option(parser, per_method=True)
    parser.add_argument(
        "--summarise-only", action="store_true", help="Tabulate finished runs; train nothing."
    )
    parser.add_argument("--no-write", action="store_true", help="Print; write no result files.")
    args = parser.parse_args()
    if args.early % args.eval_every or args.steps % args.eval_every:
        parser.error("--eval-every must divide --early and --steps")
    if not args.summarise_only:
        for task in args.tasks:  # fail before starting anything
            path = demos_path(task, args.data_dir)
            if path is not None:
                from diffil.data.io import load_dataset

                have = len(load_dataset(path, task=task))
                if have < max(args.trajectories):
                    parser.error(f"{path} holds {have} trajectories, fewer than requested")
    args.runs.mkdir(parents=True, exist_ok=True)
    jobs = [
        (t, m, k, s)
        for t in args.tasks
        for m in args.methods
        for k in args.trajectories
        for s in args.seeds
    ]
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = [row for row in pool.map(lambda job: run_one(job, args), jobs) if row is not None]
    for task in args.tasks:
        mine = [r for r in rows if r["task"] == task]
        if not mine:
            continue
        ref = get_task(task).reference
        seeds = sorted({r["seed"] for r in mine})
        how = (
            "Tabulated from runs made earlier by this script"
            if args.summarise_only
            else f"Runs used one torch thread each, {args.parallel} at a time"
        )
        table = (
            f"Seeds {seeds} (see the per-seed columns); demonstrations: the first K trajectories "
            f"of `{shown_path(args.data_dir / f'{task}.hdf5')}`; online methods {args.steps:,} "
            "env steps, "
            f"evaluated every {args.eval_every:,}. {how}."
            + (f" Overrides: {', '.join(args.sets)}." if args.sets else "")
            + f" Normalised return = (return - random) / (expert - random), with random "
            f"{ref.random_return:g} and expert {ref.expert_return:g} ({ref.source}).\n\n"
            + summarise(mine, args.early, args.steps)
        )
        notes = verdict(task, mine, args.steps)
        if any(offline(r["method"]) for r in mine):
            notes += (
                " Offline methods (bc, diffusion-policy, flow-policy) use no env steps: their "
                "column is the final policy's evaluation, and their run seconds are training "
                "plus that evaluation."
            )
        print(table)
        print(notes)
        if not args.no_write:
            name = f"locomotion_imitation_{task}" + (f"_{args.tag}" if args.tag else "")
            title = f"Imitation on {task} {args.tag}".strip()
            print(f"wrote {write_result(name, title, table, {'rows': mine}, notes)}")


if __name__ == "__main__":
    main()
