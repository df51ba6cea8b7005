"""Multimodal behaviour: MLP BC vs diffusion and flow policies on the two-mode toy expert.

    python -m benchmarks.two_modes [--seeds 0 1 2] [--steps 3000] [--episodes 50]

Half the expert's demonstrations pass the obstacle on the left, half on the right
(``diffil.toys.two_modes``). For each seed, each policy is trained on 100 demonstrations and
rolled out ``--episodes`` times; the table gives the fractions of rollouts that pass left, pass
right, or end in the obstacle. The plot of the first seed goes to results/two_modes.png.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.report import RESULTS, write_result
from diffil.toys.two_modes import MODES, run_two_modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    per_seed = {}
    for i, seed in enumerate(args.seeds):
        out = RESULTS / "two_modes.png" if i == 0 else None
        result = run_two_modes(args.steps, args.episodes, seed=seed, out=out)
        per_seed[seed] = result.fractions
        print(seed, result.fractions, flush=True)
    header = " | ".join(f"{m} (median)" for m in MODES)
    lines = [f"| policy | {header} | per seed (L/R/blocked) |", "|---|---|---|---|---|"]
    for name in per_seed[args.seeds[0]]:
        medians = [statistics.median(per_seed[s][name][m] for s in args.seeds) for m in MODES]
        seeds = "; ".join(
            "/".join(f"{per_seed[s][name][m]:.0%}" for m in MODES) for s in args.seeds
        )
        lines.append(f"| {name} | " + " | ".join(f"{v:.0%}" for v in medians) + f" | {seeds} |")
    table = "\n".join(
        [
            f"Seeds {args.seeds}; {args.steps} gradient steps per policy (MLP 256x256 for all "
            f"three; diffusion: 50 DDPM steps, sampled with 10 DDIM steps; flow: 10 Euler "
            f"steps; H_a 8, executing 4); {args.episodes} rollouts each. Plot (first seed): "
            "[two_modes.png](two_modes.png).",
            "",
            *lines,
        ]
    )
    notes = (
        "The expert is exactly 50% left, 50% right. MLP BC regresses the mean action at the "
        "start, straight ahead, into the obstacle; the generative policies sample a side."
    )
    print(write_result("two_modes", "Two-mode toy: who keeps both modes", table, per_seed, notes))


if __name__ == "__main__":
    main()
