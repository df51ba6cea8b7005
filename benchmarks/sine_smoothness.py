"""DRAIL's claim of smoother rewards, on its paper's 1-D toy (`diffil demo sine`).

    python -m benchmarks.sine_smoothness [--seeds 0 1 2] [--updates 3000]

Target (issue: DRAIL on PPO): the DRAIL reward's largest slope over s is below GAIL's (report
both). Same widths, updates and batches for both models; DRAIL's surface averages 64 draws.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from benchmarks.report import write_result
from diffil.toys import run_sine_toy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--updates", type=int, default=3000)
    args = parser.parse_args()
    rows, data = [], {}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_sine_toy(tmp, updates=args.updates, seed=seed)
        data[seed] = result
        g, d = result["gail"], result["drail"]
        rows.append(
            f"| {seed} | {g['max_slope_curve']:.1f} | {d['max_slope_curve']:.1f} | "
            f"{g['max_slope_grid']:.1f} | {d['max_slope_grid']:.1f} | "
            f"{g['reward_range']:.1f} | {d['reward_range']:.1f} |"
        )
        print(rows[-1], flush=True)
    ratio = statistics.median(
        data[s]["drail"]["max_slope_curve"] / data[s]["gail"]["max_slope_curve"] for s in data
    )
    table = "\n".join(
        [
            f"{args.updates} updates per model, batch 128 per side, widths (64, 64), lr 1e-3; "
            "reward = log D - log(1 - D); slopes are max |dr/ds| by finite differences (ds = "
            "0.05) along the expert curve a = sin(2 pi 0.1 s) and over the whole (s, a) grid.",
            "",
            "| seed | GAIL max slope (curve) | DRAIL max slope (curve) | GAIL max slope (grid) | "
            "DRAIL max slope (grid) | GAIL reward range | DRAIL reward range |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    notes = (
        f"Median DRAIL/GAIL ratio of the largest slope along the curve: {ratio:.2f} "
        f"(target < 1: {'met' if ratio < 1 else 'NOT met'}). GAIL's logit saturates at the "
        "+-15 clamp; DRAIL separates agent samples less sharply on this toy, which is part of "
        "its smoothness (see the accuracies in the JSON)."
    )
    path = write_result("sine_smoothness", "Sine toy: reward smoothness", table, data, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
