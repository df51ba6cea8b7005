"""Imitation on the driving tasks (highway, merge, parking): success, collision rate, mean speed,
lane changes (on the roads), against the scripted expert that made the demonstrations (IDM +
MOBIL; parking: Dubins paths).

    python -m benchmarks.driving_imitation [--tasks highway merge parking] [--methods bc drail gail]
        [--seeds 0 1 2] [--parallel 1] [--tag TAG] [--set [METHOD:]KEY=VALUE] [--report-only]

Each run is the default command, `diffil train METHOD --task TASK --seed S` (the shipped
demonstrations, the task preset's budget; `--set steps=N` changes the online methods' budget
and is then named in the table), and its final evaluation (eval.json: `eval.final_episodes`
episodes, seed 10000). The expert row evaluates the scripted expert on the same episodes
(`diffil.evaluate_policy` with `diffil.experts.make_expert`), once per task, cached beside the
runs. Results go to ``results/driving_imitation_<task>[_TAG].md``. Finished runs are reused;
``--report-only`` trains nothing and reports the finished runs among those asked for (e.g.
BC's three seeds beside one long DRAIL seed).

Cost: highway-env is 11-18 ms per env step here (results/task_costs.md), so an online method's
300k-step run is one to two hours on one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import add_set_option, diffil_train, sets_for
from benchmarks.report import write_result

METRICS = ("success_rate", "collision_mean", "mean_speed_mean", "lane_changes_mean")


def expert_row(task: str, episodes: int, runs: Path) -> dict:
    """The scripted expert on the final evaluation's ``episodes`` (cached in ``runs``)."""
    cache = runs / f"{task}-expert-{episodes}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    from diffil.envs.registry import get_task
    from diffil.eval.evaluate import FINAL_EVAL_SEED, evaluate_policy
    from diffil.experts import make_expert

    spec = get_task(task)
    found = evaluate_policy(spec, make_expert(spec), episodes, seed=FINAL_EVAL_SEED)
    row = {"task": task, "method": "expert", "seed": None, **found}
    cache.write_text(json.dumps(row))
    return row


def run_one(
    task: str, method: str, seed: int, runs: Path, sets: list[str], train: bool = True
) -> dict | None:
    out = runs / f"{task}-{method}-s{seed}"
    if not (out / "eval.json").is_file():
        if not train:
            return None
        args = [method, "--task", task, "--seed", str(seed)]
        args += [a for item in sets_for(method, sets) for a in ("--set", item)]
        if not diffil_train(out, args, runs / f"{out.name}.log"):
            return None
    found = json.loads((out / "eval.json").read_text())
    row = {"task": task, "method": method, "seed": seed, **found}
    print(json.dumps({k: row.get(k) for k in ("task", "method", "seed", *METRICS)}), flush=True)
    return row


def summarise(rows: list[dict]) -> str:
    lines = [
        "| policy | seeds | success (median) | per seed | collision rate (median) | "
        "mean speed m/s (median) | lane changes per episode (median) | env steps | "
        "run seconds (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]

        def med(key: str, rows: list[dict] = mine) -> float:
            return statistics.median(float(r[key]) for r in rows)

        expert = method == "expert"
        lines.append(
            f"| {method} | {'-' if expert else len(mine)} | {med('success_rate'):.0%} | "
            + ("-" if expert else ", ".join(f"{r['success_rate']:.0%}" for r in mine))
            + f" | {med('collision_mean'):.0%} | {med('mean_speed_mean'):.1f} | "
            + (f"{med('lane_changes_mean'):.1f}" if "lane_changes_mean" in mine[0] else "-")
            + " | "
            + ("-" if expert else f"{med('env_steps'):,.0f}")
            + " | "
            + ("-" if expert else f"{med('seconds'):.0f}")
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["highway", "merge", "parking"])
    parser.add_argument("--methods", nargs="+", default=["bc", "drail", "gail"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--tag", default="", help="Suffix of the results file names.")
    add_set_option(parser, per_method=True)
    parser.add_argument(
        "--report-only", action="store_true", help="Train nothing; report the finished runs."
    )
    args = parser.parse_args()
    runs = Path("benchmarks/runs") / ("driving" + (f"-{args.tag}" if args.tag else ""))
    runs.mkdir(parents=True, exist_ok=True)
    jobs = [(t, m, s) for t in args.tasks for m in args.methods for s in args.seeds]
    with ThreadPoolExecutor(args.parallel) as pool:
        done = list(pool.map(lambda j: run_one(*j, runs, args.sets, not args.report_only), jobs))
    for task in args.tasks:
        mine = [r for r in done if r is not None and r["task"] == task]
        if not mine:
            continue
        episodes = int(mine[0]["episodes"])
        rows = [expert_row(task, episodes, runs), *mine]
        table = "\n".join(
            [
                f"The default command per method and seed (shipped demonstrations, the task "
                f"preset's budget), final evaluation over {episodes} episodes (seed 10000); the "
                "expert on the same episodes. Runs used one torch thread each"
                + (
                    "; reported from finished runs (--report-only), so this script cannot say "
                    "how many ran at a time or beside what."
                    if args.report_only
                    else f", {args.parallel} at a time."
                )
                + (f" Overrides: {', '.join(args.sets)}." if args.sets else ""),
                "",
                summarise(rows),
            ]
        )
        name = f"driving_imitation_{task}" + (f"_{args.tag}" if args.tag else "")
        title = f"Imitation on {task} {args.tag}".strip()
        print(f"wrote {write_result(name, title, table, {'rows': rows})}")


if __name__ == "__main__":
    main()
