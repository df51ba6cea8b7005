"""Must the augmentation Diffuser see its start state as a condition? (`diffil augment`)

    python -m benchmarks.augment_coherence [--task pointmaze-medium] [--coverage 0.5]
        [--demos 5] [--steps 4000] [--seeds 0]

On reference 000's maze protocol (the waypoint controller with N(0, 0.5^2) action noise,
successful episodes only, `--coverage` of the start/goal cells), `--demos` demonstrations train
`diffil augment`'s generator twice per seed, with the same sizes and steps: with the start
state only inpainted into step 0 (reference 004's Diffuser) and with it also a condition of the
network (`condition_on_start`, what `diffil augment` uses). For each it reports:

- how far a plan's states are from what the simulator does with the plan's actions: windows
  started at every 10th real state, the largest gap over the window's steps and state
  dimensions, in units of the demonstrations' per-dimension std (the `diverged` test of
  `diffil augment` rejects above 1);
- what `diffil augment`'s checks keep of 40 episodes started at the demonstrations' first states
  (`--starts demos`) and of 40 started at fresh resets (`--starts resets`).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

from benchmarks.report import write_result
from diffil.envs.registry import get_task
from diffil.envs.state import Replayer
from diffil.experts.collect import collect_demonstrations
from diffil.planning.augment import (
    AugmentConfig,
    augment_dataset,
    state_scale,
    train_generator,
)
from diffil.planning.diffuser import Diffuser

DEMOS_SEED = 100_000  # the suites' demonstration seed (diffil.bench.demos)
EPISODES = 40  # synthetic episodes per start choice


def window_gaps(diffuser: Diffuser, dataset, task, scale: np.ndarray, seed: int) -> np.ndarray:
    """Largest |planned - simulated| state gap of each window started at every 10th real state
    (per dimension, in units of ``scale``); windows whose episode ends at once are left out."""
    starts = np.concatenate([t.observations[:-1:10] for t in dataset])
    dims = diffuser.state_index.cpu().numpy()
    with torch.no_grad():
        plans = diffuser.sample(
            torch.as_tensor(starts[:, dims]), generator=torch.Generator().manual_seed(seed)
        )
    plans = plans.double().numpy()
    gaps = []
    with Replayer(task) as replayer:
        for start, plan in zip(starts, plans, strict=True):
            first = replayer.start(start)
            replay = replayer.step_actions(plan[:, diffuser.state_dim :], first)
            m = replay.steps
            if m < 2:  # the episode ended (at its goal) on the first step: nothing to compare
                continue
            planned = plan[1:m, : diffuser.state_dim]
            simulated = replay.observations[1:m][:, dims]
            gaps.append(float(np.max(np.abs(planned - simulated) / scale[dims])))
    return np.asarray(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="pointmaze-medium")
    parser.add_argument("--coverage", type=float, default=0.5)
    parser.add_argument("--demos", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--name", default="augment_coherence")
    args = parser.parse_args()
    task = get_task(args.task, coverage=args.coverage)
    demos = collect_demonstrations(
        task, args.demos, seed=DEMOS_SEED, action_noise=0.5, successful_only=True
    )
    scale = state_scale(demos)
    rows, data = [], []
    for seed in args.seeds:
        for conditioned in (False, True):
            config = AugmentConfig(
                factor=EPISODES // args.demos,
                train_steps=args.steps,
                seed=seed,
                condition_on_start=conditioned,
            )
            began = time.perf_counter()
            diffuser, losses = train_generator(demos, config)
            seconds = time.perf_counter() - began
            gaps = window_gaps(diffuser, demos, task, scale, seed)
            kept = {}
            for starts in ("demos", "resets"):
                sample_config = dataclasses.replace(config, starts=starts)
                _, result = augment_dataset(demos, task, sample_config, diffuser=diffuser)
                kept[starts] = (result.kept, result.generated, result.rejected)
            label = "start as a condition" if conditioned else "start inpainted only"
            record = {
                "seed": seed,
                "conditioned": conditioned,
                "train_seconds": seconds,
                "final_loss": float(np.mean(losses[-100:])),
                "windows": len(gaps),
                "gap_median": float(np.median(gaps)),
                "gap_p90": float(np.percentile(gaps, 90)),
                "within_1": float(np.mean(gaps <= 1.0)),
                "kept": {
                    k: {"kept": v[0], "generated": v[1], "rejected": v[2]} for k, v in kept.items()
                },
            }
            data.append(record)
            rows.append(
                f"| {seed} | {label} | {record['gap_median']:.2f} | {record['gap_p90']:.2f} | "
                f"{record['within_1']:.0%} | "
                + " | ".join(
                    f"{v[0]}/{v[1]} ({', '.join(f'{r} {n}' for r, n in v[2].items()) or '-'})"
                    for v in kept.values()
                )
                + f" | {seconds:.0f} |"
            )
            print(rows[-1], flush=True)

    def median_of(conditioned: bool, key: str) -> float:
        return statistics.median(r[key] for r in data if r["conditioned"] == conditioned)

    ratio = median_of(False, "gap_median") / median_of(True, "gap_median")
    table = "\n".join(
        [
            f"{args.task} at {args.coverage:g} coverage, {args.demos} demonstrations "
            f"({demos.num_transitions} steps; action noise 0.5, successful only, seed "
            f"{DEMOS_SEED}); generator: `diffil augment`'s Diffuser (horizon 32, 20 diffusion "
            f"steps, channels 32/64/128), {args.steps} training steps, batch 64, one torch "
            f"thread. Gap: the largest planned-vs-simulated state gap over a window, in demo "
            f"std units, over windows started at every 10th real state. Kept: what "
            f"`diffil augment`'s checks keep of {EPISODES} episodes.",
            "",
            "| seed | generator | window gap (median) | window gap (90th pct) | windows within "
            "1 std | kept, demos' starts | kept, fresh resets | training s |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    notes = (
        f"Median window gap, inpainted only / conditioned: {ratio:.1f}x (medians over seeds "
        f"{args.seeds})."
    )
    path = write_result(
        args.name,
        "Augmentation generator: start inpainted only vs start as a condition",
        table,
        {"runs": data, "ratio_gap_median": ratio},
        notes,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
