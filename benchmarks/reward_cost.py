"""What learning the reward costs: DRAIL scoring throughput, and wall-clock per env step of a
DRAIL run against PPO on the true reward, measured in the same process.

    python -m benchmarks.reward_cost [--repeats 5] [--steps 40960]

Targets (issue: DRAIL on PPO): DRAIL scores >= 100k (s, a) pairs/s on 2 CPU cores; a DRAIL run's
wall-clock per env step is <= 1.5x that of PPO on the true reward.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from benchmarks.report import write_result
from diffil.algorithms.config import resolve_config
from diffil.algorithms.run import train
from diffil.rewards import TransitionBatch, make_reward_model

TASK = "pointmaze-umaze"


def scoring_throughput(method: str, batch_size: int, repeats: int, **options) -> list[float]:
    """(s, a) pairs scored per second by ``reward()`` on one rollout-sized batch."""
    config = {**resolve_config(method, TASK).reward.model, **options}
    model = make_reward_model(method, 6, 2, config)
    batch = TransitionBatch(
        torch.randn(batch_size, 6), torch.rand(batch_size, 2) * 2 - 1, torch.randn(batch_size, 6)
    )
    model.reward(batch, generator=0)  # warm-up
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        model.reward(batch, generator=r)
        rates.append(batch_size / (time.perf_counter() - start))
    return rates


def seconds_per_step(method: str, steps: int, seed: int) -> float:
    overrides = {"eval": {"every": 10**9, "episodes": 1}, "checkpoint_every": 10**9}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(
            method,
            TASK,
            steps=steps,
            seed=seed,
            out=f"{tmp}/run",
            overrides=overrides,
            progress=False,
        )
        return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40_960)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data: dict = {"torch_threads": torch.get_num_threads()}

    rows = []
    for label, method, options in [
        ("DRAIL (1 draw)", "drail", {}),
        ("DRAIL (4 draws)", "drail", {"num_draws": 4}),
        ("DRAIL (independent noise)", "drail", {"shared_noise": False}),
        ("DiffAIL", "diffail", {}),
        ("GAIL", "gail", {}),
    ]:
        rates = scoring_throughput(method, 16_384, args.repeats, **options)
        data[f"throughput/{label}"] = rates
        rows.append(f"| {label} | {statistics.median(rates):,.0f} | {min(rates):,.0f} |")
        print(rows[-1], flush=True)

    # Alternate the two kinds of run so that drift in machine load hits both alike.
    per_step: dict[str, list[float]] = {"ppo": [], "drail": []}
    for r in range(args.repeats):
        for method in ("ppo", "drail"):
            per_step[method].append(seconds_per_step(method, args.steps, seed=r))
            print(method, r, f"{per_step[method][-1] * 1e6:.1f} us/step", flush=True)
    ratios = [d / p for d, p in zip(per_step["drail"], per_step["ppo"], strict=True)]
    data.update(seconds_per_step=per_step, ratios=ratios)
    med = {k: statistics.median(v) for k, v in per_step.items()}
    ratio = statistics.median(ratios)
    table = "\n".join(
        [
            "Scoring throughput: `reward()` on a 16,384-pair batch (one PPO rollout), "
            f"median of {args.repeats}.",
            "",
            "| reward model | pairs/s (median) | pairs/s (worst) |",
            "|---|---|---|",
            *rows,
            "",
            f"Wall-clock per env step on {TASK}, {args.steps:,}-step runs (8 envs, PPO n_steps "
            f"256, eval and checkpoints off), {args.repeats} alternating repeats:",
            "",
            "| run | us per env step (median) | env steps/s |",
            "|---|---|---|",
            f"| PPO on the true reward | {med['ppo'] * 1e6:.1f} | {1 / med['ppo']:,.0f} |",
            f"| DRAIL (reward learning + relabelling) | {med['drail'] * 1e6:.1f} | "
            f"{1 / med['drail']:,.0f} |",
            "",
            f"DRAIL / PPO ratio: median {ratio:.2f} (per repeat: "
            + ", ".join(f"{x:.2f}" for x in ratios)
            + ")",
        ]
    )
    drail_rate = statistics.median(data["throughput/DRAIL (1 draw)"])
    notes = (
        f"Targets: DRAIL scoring >= 100k pairs/s: {'met' if drail_rate >= 1e5 else 'NOT met'}; "
        f"DRAIL/PPO wall-clock ratio <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}."
    )
    print(f"wrote {write_result('reward_cost', 'Reward cost', table, data, notes)}")


if __name__ == "__main__":
    main()
