"""Reward transfer: PPO from scratch on a frozen learned reward, against PPO on the true reward.

    python -m benchmarks.reward_transfer [--tasks pointmaze-umaze] [--sources drail airl smiling
        diffuser-irl] [--seeds 0 1 2] [--parallel 2] [--source-runs DIR] [--tag TAG]

A learned reward is a reward, not only a training signal, when a fresh learner trained on it alone
does what the expert does. For each task, source method and seed this script

1. trains the source run, `diffil train SOURCE --task TASK --seed S` with the presets (or reuses a
   finished one under ``--source-runs``, named ``TASK-SOURCE-sS`` as benchmarks.maze_imitation
   names its runs);
2. trains `diffil train ppo --reward SOURCE_RUN --seed S` (no demonstrations, no warm start: PPO
   from a random policy, the task's preset budget) and, once per seed,
   `diffil train ppo --task TASK --seed S` on the task's true reward with the same budget;
3. reads each run's final evaluation (eval.json: the task's own success, 100 start/goal pairs on
   the mazes).

Target (issue 19): at least one diffusion-based reward (DRAIL, SMILING, Diffuser-IRL) reaches
>= 90% of the true reward's success at equal steps. Results go to
``results/reward_transfer_<task>[_TAG].md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import add_set_option, diffil_train, sets_for
from benchmarks.report import write_result

DIFFUSION_BASED = {"drail", "smiling", "diffuser-irl", "diffail"}


def final_success(run: Path) -> dict | None:
    """The final evaluation of a finished run (None if it has not finished)."""
    path = run / "eval.json"
    if not path.is_file():
        return None
    found = json.loads(path.read_text())
    return {
        "success": found.get("success_rate"),
        "return": found.get("return_mean"),
        "env_steps": found.get("env_steps"),
        "seconds": found.get("seconds"),
    }


def train_source(task: str, source: str, seed: int, where: Path, runs: Path, sets: list[str]):
    """The source run (trained here unless a finished one is under ``where``)."""
    run = where / f"{task}-{source}-s{seed}"
    if final_success(run) is None:
        run = runs / f"{task}-{source}-s{seed}"
        if final_success(run) is None:
            args = [source, "--task", task, "--seed", str(seed)]
            args += [a for item in sets_for(source, sets) for a in ("--set", item)]
            diffil_train(run, args, runs / f"{run.name}.log")
    return run


def train_ppo(task: str, reward_run: Path | None, seed: int, runs: Path, sets: list[str]):
    """PPO from scratch on the frozen reward of ``reward_run`` (or the true reward if None)."""
    mine = sets_for("ppo", sets)
    if reward_run is None:
        run = runs / f"{task}-ppo-on-true-s{seed}"
        args = ["ppo", "--task", task, "--seed", str(seed)]
    else:  # the source run's name carries its method and seed
        run = runs / f"{task}-ppo-on-{reward_run.name.removeprefix(f'{task}-')}"
        args = ["ppo", "--reward", str(reward_run), "--seed", str(seed)]
        mine += [item.split(":", 1)[1] for item in sets if item.startswith("transfer:")]
    if final_success(run) is None:
        args += [a for item in mine for a in ("--set", item)]
        diffil_train(run, args, runs / f"{run.name}.log")
    return run


def summarise(rows: list[dict]) -> str:
    true = [r["success"] for r in rows if r["reward"] == "true"]
    true_median = statistics.median(true) if true else None
    lines = [
        "| reward PPO learns from | success (median of seeds) | per seed | vs true reward "
        "(ratio of medians) | source run's own success (per seed) | PPO run seconds (median) |",
        "|---|---|---|---|---|---|",
    ]
    for reward in dict.fromkeys(r["reward"] for r in rows):
        mine = [r for r in rows if r["reward"] == reward]
        median = statistics.median(r["success"] for r in mine)
        ratio = f"{median / true_median:.2f}" if true_median else "-"
        own = ", ".join(
            "-" if r.get("source_success") is None else f"{r['source_success']:.0%}" for r in mine
        )
        lines.append(
            f"| {reward} | {median:.0%} | "
            + ", ".join(f"{r['success']:.0%}" for r in mine)
            + f" | {ratio if reward != 'true' else '1'} | {own if reward != 'true' else '-'} | "
            f"{statistics.median(r['seconds'] for r in mine):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["pointmaze-umaze"])
    parser.add_argument(
        "--sources", nargs="+", default=["drail", "airl", "smiling", "diffuser-irl"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--tag", default="", help="Suffix of the results file names.")
    parser.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="Run directories (default benchmarks/runs/reward-transfer[-TAG]).",
    )
    parser.add_argument(
        "--source-runs",
        type=Path,
        default=None,
        help="Finished source runs to reuse (TASK-SOURCE-sS), e.g. benchmarks/runs/family.",
    )
    # smiling:rl=ppo: a source's runs only; ppo:...: every learner's; transfer:...: the learners
    # on a learned reward only (e.g. transfer:reward.model.reward_type=log_d)
    add_set_option(parser, per_method=True)
    args = parser.parse_args()
    runs = args.runs or Path("benchmarks/runs") / (
        "reward-transfer" + (f"-{args.tag}" if args.tag else "")
    )
    runs.mkdir(parents=True, exist_ok=True)
    where = args.source_runs or runs

    source_jobs = [(t, src, s) for t in args.tasks for src in args.sources for s in args.seeds]
    true_jobs = [(t, s) for t in args.tasks for s in args.seeds]

    def source_then_transfer(task: str, source: str, seed: int) -> tuple[Path, Path]:
        source_run = train_source(task, source, seed, where, runs, args.sets)
        return source_run, train_ppo(task, source_run, seed, runs, args.sets)

    # the longer chains (source run, then PPO on its reward) first; the true-reward runs fill
    # the workers the chains leave idle
    with ThreadPoolExecutor(args.parallel) as pool:
        chains = [pool.submit(source_then_transfer, *job) for job in source_jobs]
        trues = [pool.submit(train_ppo, t, None, s, runs, args.sets) for t, s in true_jobs]
        ppo_jobs = [(t, "true", None, s) for t, s in true_jobs]
        ppo_runs = [future.result() for future in trues]
        for (t, src, s), future in zip(source_jobs, chains, strict=True):
            source_run, ppo_run = future.result()
            ppo_jobs.append((t, src, source_run, s))
            ppo_runs.append(ppo_run)

    for task in args.tasks:
        rows = []
        for (t, source, source_run, seed), run in zip(ppo_jobs, ppo_runs, strict=True):
            found = final_success(run)
            if t != task or found is None:
                continue
            own = final_success(source_run) if source_run is not None else None
            row = {
                "task": task,
                "reward": "true" if source_run is None else f"learned by {source}",
                "source": source,
                "seed": seed,
                "source_run": None if source_run is None else str(source_run),
                "source_success": own["success"] if own else None,
                **found,
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
        if not rows:
            continue
        diffusion = [r for r in rows if r["source"] in DIFFUSION_BASED and r["reward"] != "true"]
        true = [r["success"] for r in rows if r["reward"] == "true"]
        best = None
        if diffusion and true:
            by_source: dict[str, list[float]] = {}
            for r in diffusion:
                by_source.setdefault(r["source"], []).append(r["success"])
            best = max(
                (statistics.median(v) / max(statistics.median(true), 1e-9), k)
                for k, v in by_source.items()
            )
        table = "\n".join(
            [
                f"Seeds {sorted({r['seed'] for r in rows})}; PPO from a random policy (no "
                "demonstrations, no BC warm start) with the task preset's budget and settings; "
                "success over the final evaluation of each run (eval.json: 100 start/goal pairs "
                "on the mazes). A learned-reward row's seed is both its source run's and its PPO "
                f"run's. Runs used one torch thread each, {args.parallel} at a time."
                + (f" Overrides: {', '.join(args.sets)}." if args.sets else "")
                + (
                    f" Source runs found finished under `{args.source_runs}` were reused, not "
                    "trained by this command: their config.yaml says how they were trained."
                    if args.source_runs
                    and any(
                        r["source_run"] and Path(r["source_run"]).parent == args.source_runs
                        for r in rows
                    )
                    else ""
                ),
                "",
                summarise(rows),
            ]
        )
        notes = (
            "Target (issue 19): a diffusion-based reward (DRAIL, SMILING, Diffuser-IRL) at >= 90% "
            "of the true reward's success at equal steps. "
            + (
                f"Best here: {best[1]} at {best[0]:.2f} of the true reward's median success."
                if best
                else "Not measurable from these runs."
            )
        )
        name = f"reward_transfer_{task}" + (f"_{args.tag}" if args.tag else "")
        path = write_result(
            name, f"Reward transfer on {task} {args.tag}".strip(), table, {"rows": rows}, notes
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
