"""Reference scores of the locomotion tasks: a uniform random policy and diffil's own experts.

    python -m benchmarks.locomotion_reference [--tasks hopper halfcheetah walker2d ant]
        [--episodes 100] [--seeds 0 1 2]

Normalised return = (return - random) / (expert - random). The random score is the median over
seeds of the mean return of ``--episodes`` episodes of uniformly random actions on the v5
environment. The expert score is the mean return of the shipped demonstrations
(``src/diffil/datasets/<task>.hdf5``, what an imitator is asked to match); the expert policy's own
evaluation return, recorded in the dataset's provenance, is listed beside it. The figures go into
``diffil/envs/locomotion.py`` by hand, citing this file; tasks without shipped data keep D4RL's.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from benchmarks.common import DATA_DIR
from benchmarks.report import write_result
from diffil.data.collect import rollout
from diffil.data.io import load_dataset
from diffil.envs import get_task


def random_returns(task_name: str, episodes: int, seed: int) -> float:
    task = get_task(task_name)
    space = task.make_env().action_space
    space.seed(seed)
    trajs = rollout(task, lambda obs: space.sample(), episodes, seed=1000 + seed)
    return float(np.mean([t.episode_return for t in trajs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["hopper", "halfcheetah", "walker2d", "ant"])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    rows, data = [], {}
    for name in args.tasks:
        path = DATA_DIR / f"{name}.hdf5"
        if not path.exists():
            print(f"{name}: no {path}, skipped", flush=True)
            continue
        demos = load_dataset(path, task=name)
        expert = float(np.mean([t.episode_return for t in demos.trajectories]))
        info = demos.metadata.get("expert_info") or {}
        randoms = [random_returns(name, args.episodes, seed) for seed in args.seeds]
        random = statistics.median(randoms)
        reference = get_task(name).reference
        data[name] = {
            "random_returns": randoms,
            "random": random,
            "expert_demos": expert,
            "demo_episodes": len(demos),
            "expert_policy_eval": info.get("eval_return_mean"),
            "expert_env_steps": info.get("env_steps"),
            "d4rl": [reference.random_return, reference.expert_return] if reference else None,
        }
        policy_eval = info.get("eval_return_mean")
        rows.append(
            f"| {name} | {random:.1f} | {min(randoms):.1f} .. {max(randoms):.1f} | {expert:.1f} "
            f"({len(demos)} episodes) | "
            + (f"{policy_eval:.1f} at {info.get('env_steps', 0):,} steps" if policy_eval else "-")
            + " |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"Random: mean return of {args.episodes} episodes per seed, seeds {args.seeds} "
            "(median, and range over seeds). Expert: mean return of the shipped demonstrations.",
            "",
            "| task | random (median) | random (range) | expert = demonstrations | expert policy's "
            "evaluation |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    path = write_result("locomotion_reference", "Locomotion reference scores", table, data)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
