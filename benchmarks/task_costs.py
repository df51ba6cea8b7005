"""Cost per env step, and the scripted experts against random actions, on the newer tasks.

    python -m benchmarks.task_costs [--tasks fetch-push fetch-pick-and-place highway merge parking]
        [--episodes 100] [--driving-episodes 30]

For each task: milliseconds per env step with random actions (the environment alone, over
``--env-steps`` steps); then ``--episodes`` evaluation episodes (seeds from 10000, as `diffil
eval`) of uniform random actions and of the task's scripted expert: success rate, return, the
task's own metrics (driving: collision rate, mean speed, lane changes) and ms per step including
the expert. The random and expert mean returns are the tasks' reference scores
(``diffil tasks``). Targets: Fetch experts >= 98% success; highway and merge experts without
crashes; the parking expert >= 95% success.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.report import write_result
from diffil.envs import get_task
from diffil.eval.evaluate import evaluate_policy
from diffil.experts import make_expert

TASKS = ["fetch-push", "fetch-pick-and-place", "highway", "merge", "parking"]
ROADS = ("highway", "merge")  # the slow driving tasks: --driving-episodes


def env_ms_per_step(task, steps: int, seed: int = 0) -> float:
    """Milliseconds per step of the environment alone, under uniform random actions."""
    env = task.make_env(seed=seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return 1000 * elapsed / steps


def random_policy(task, seed: int = 0):
    space = task.make_env().action_space
    space.seed(seed)
    return lambda obs: space.sample()


def measure(task, policy, episodes: int) -> dict[str, float]:
    start = time.perf_counter()
    result = evaluate_policy(task, policy, episodes)
    seconds = time.perf_counter() - start
    result["ms_per_step"] = 1000 * seconds / (result["length_mean"] * episodes)
    return result


def _row(name: str, label: str, r: dict[str, float]) -> str:
    def metric(key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "-"

    return (
        f"| {name} | {label} | {r['success_rate']:.1%} | {r['return_mean']:.1f} ± "
        f"{r['return_std']:.1f} | {r['length_mean']:.1f} | {metric('collision_mean', '.1%')} | "
        f"{metric('mean_speed_mean', '.1f')} | {metric('lane_changes_mean', '.2f')} | "
        f"{r['ms_per_step']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--driving-episodes",
        type=int,
        default=None,
        help="for highway and merge (default: --episodes)",
    )
    parser.add_argument("--env-steps", type=int, default=1000)
    parser.add_argument(
        "--noise", type=float, nargs="+", default=[1.0, 1.5], help="noise scales (Fetch tasks)"
    )
    args = parser.parse_args()

    rows, cost_rows, data = [], [], {}
    for name in args.tasks:
        variants = args.noise if get_task(name).noise_variants else [1.0]
        for noise in variants:
            task = get_task(name, noise=noise)
            label = name if noise == 1.0 else f"{name} ({noise:g}x noise)"
            cost = env_ms_per_step(task, args.env_steps)
            cost_rows.append(f"| {label} | {task.obs_dim} | {task.act_dim} | {cost:.2f} |")
            print(cost_rows[-1], flush=True)
            entry = {"env_ms_per_step": cost}
            driving = name in ROADS and args.driving_episodes is not None
            episodes = args.driving_episodes if driving else args.episodes
            for who, policy in (("random", random_policy(task)), ("expert", make_expert(task))):
                entry[who] = measure(task, policy, episodes)
                entry[who]["episodes"] = episodes
                rows.append(_row(label, who, entry[who]))
                print(rows[-1], flush=True)
            data[label] = entry
    table = "\n".join(
        [
            f"Environment alone, uniform random actions, {args.env_steps} steps:",
            "",
            "| task | obs dim | act dim | ms per env step |",
            "|---|---|---|---|",
            *cost_rows,
            "",
            f"{args.episodes} evaluation episodes each (highway, merge: "
            f"{args.driving_episodes or args.episodes}; seeds from 10000); ms per step includes "
            "the policy:",
            "",
            "| task | policy | success | return | length | collisions | mean speed (m/s) | "
            "lane changes | ms per step |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    notes = []
    for name in ("fetch-push", "fetch-pick-and-place"):
        fetch = data.get(name, {}).get("expert")
        if fetch is not None:
            ok = fetch["success_rate"] >= 0.98
            notes.append(f"Target {name} expert >= 98% success: {'met' if ok else 'NOT met'}.")
    for name in ("highway", "merge"):
        if name in data:
            expert = data[name]["expert"]
            crashes = round(expert["collision_mean"] * expert["episodes"])
            notes.append(f"{name} expert: {crashes} crashes in {expert['episodes']:.0f} episodes.")
    if "parking" in data:
        expert = data["parking"]["expert"]
        ok = expert["success_rate"] >= 0.95
        notes.append(f"Target parking expert >= 95% success: {'met' if ok else 'NOT met'}.")
    path = write_result(
        "task_costs", "New tasks: env cost and experts", table, _jsonable(data), " ".join(notes)
    )
    print(f"wrote {path}")


def _jsonable(data: dict) -> dict:
    """Nested dicts of numbers and arrays (an evaluation's per-episode returns) as JSON values."""
    return {
        k: _jsonable(v) if isinstance(v, dict) else np.asarray(v, dtype=float).tolist()
        for k, v in data.items()
    }


if __name__ == "__main__":
    main()
