"""Scripted maze expert vs a random policy on the three PointMazes.

    python -m benchmarks.maze_expert [--episodes 100] [--seeds 0 1 2]

Target (issue: foundation): the expert reaches >= 98% success over 100 episodes on each maze.
The random policy's success rate is the task's random reference score.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.report import write_result
from diffil.data.collect import rollout
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs import get_task
from diffil.experts import make_expert

MAZES = ["pointmaze-umaze", "pointmaze-medium", "pointmaze-large"]


def random_policy(task, seed):
    space = task.make_env().action_space
    space.seed(seed)
    return lambda obs: space.sample()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    rows, data = [], {}
    for name in MAZES:
        task = get_task(name)
        for label, make in (("expert", make_expert), ("random", random_policy)):
            rates, lengths, secs = [], [], []
            for seed in args.seeds:
                start = time.perf_counter()
                episodes = rollout(task, make(task, seed=seed), args.episodes, seed=1000 + seed)
                secs.append(time.perf_counter() - start)
                stats = TrajectoryDataset(episodes).statistics()
                rates.append(stats["success_rate"])
                lengths.append(stats["length_mean"])
            data[f"{name}/{label}"] = {
                "success_rates": rates,
                "length_means": lengths,
                "seconds": secs,
            }
            rows.append(
                f"| {name} | {label} | {statistics.median(rates):.1%} | {min(rates):.1%} | "
                f"{statistics.median(lengths):.1f} | {statistics.median(secs):.2f} |"
            )
            print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"{args.episodes} episodes per seed, seeds {args.seeds}; median and worst over seeds.",
            "",
            "| task | policy | success (median) | success (worst seed) | mean length | seconds |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    ok = all(min(data[f"{m}/expert"]["success_rates"]) >= 0.98 for m in MAZES)
    notes = f"Target: expert >= 98% success on every maze and seed: {'met' if ok else 'NOT met'}."
    path = write_result("maze_expert", "Scripted maze expert", table, data, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
