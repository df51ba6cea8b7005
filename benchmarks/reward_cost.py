"""What learning the reward costs: DRAIL scoring throughput, and wall-clock per env step of a
DRAIL run against PPO on the true reward, measured in the same process.

    python -m benchmarks.reward_cost [--repeats 5] [--steps 40960] [--devices cpu cuda] [--tag T]

With several ``--devices`` every measurement is made on each, in the same process, and the runs
alternate between devices, so the table's device ratios come from one run on one machine.

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


def scoring_throughput(
    method: str, batch_size: int, repeats: int, device: str = "cpu", **options
) -> list[float]:
    """(s, a) pairs scored per second by ``reward()`` on one rollout-sized batch on ``device``,
    with noise from a seeded CPU generator and the rewards brought back to the CPU, as the
    trainer does."""
    config = {**resolve_config(method, TASK).reward.model, **options}
    model = make_reward_model(method, 6, 2, config).to(device)
    batch = TransitionBatch(
        torch.randn(batch_size, 6, device=device),
        torch.rand(batch_size, 2, device=device) * 2 - 1,
        torch.randn(batch_size, 6, device=device),
    )
    model.reward(batch, generator=0).cpu()  # warm-up
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        model.reward(batch, generator=r).cpu()
        rates.append(batch_size / (time.perf_counter() - start))
    return rates


def seconds_per_step(method: str, steps: int, seed: int, device: str = "cpu") -> float:
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
            device=device,
            progress=False,
        )
        return (time.perf_counter() - start) / steps


MODELS = [
    ("DRAIL (1 draw)", "drail", {}),
    ("DRAIL (4 draws)", "drail", {"num_draws": 4}),
    ("DRAIL (independent noise)", "drail", {"shared_noise": False}),
    ("DiffAIL", "diffail", {}),
    ("GAIL", "gail", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40_960)
    parser.add_argument("--devices", nargs="+", default=["cpu"], help="e.g. cpu cuda")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--tag", default="", help="Suffix of the results file name.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.devices
    data: dict = {"torch_threads": torch.get_num_threads(), "devices": devices}
    if "cuda" in devices and torch.cuda.is_available():
        data["gpu"] = torch.cuda.get_device_name(0)

    rows = []
    for label, method, options in MODELS:
        cells = []
        for device in devices:
            rates = scoring_throughput(method, 16_384, args.repeats, device, **options)
            data[f"throughput/{label}/{device}"] = rates
            cells.append(f"{statistics.median(rates):,.0f} | {min(rates):,.0f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)

    # Alternate the kinds of run so that drift in machine load hits all alike.
    runs = [(device, method) for device in devices for method in ("ppo", "drail")]
    per_step: dict[str, list[float]] = {f"{m}/{d}": [] for d, m in runs}
    for r in range(args.repeats):
        for device, method in runs:
            per_step[f"{method}/{device}"].append(seconds_per_step(method, args.steps, r, device))
            print(method, device, r, f"{per_step[f'{method}/{device}'][-1] * 1e6:.1f} us/step",
                  flush=True)  # fmt: skip
    data["seconds_per_step"] = per_step

    def ratio(num: str, den: str) -> tuple[float, list[float]]:
        each = [a / b for a, b in zip(per_step[num], per_step[den], strict=True)]
        return statistics.median(each), each

    def ratio_line(name: str, num: str, den: str) -> str:
        med, each = ratio(num, den)
        data.setdefault("ratios", {})[name] = each
        return f"{name}: median {med:.2f} (per repeat: " + ", ".join(f"{x:.2f}" for x in each) + ")"

    header = " | ".join(f"pairs/s on {d} (median) | pairs/s on {d} (worst)" for d in devices)
    lines = [
        "Scoring throughput: `reward()` on a 16,384-pair batch (one PPO rollout), "
        f"median of {args.repeats}.",
        "",
        f"| reward model | {header} |",
        "|---|" + "---|---|" * len(devices),
        *rows,
        "",
        f"Wall-clock per env step on {TASK}, {args.steps:,}-step runs (8 envs, PPO n_steps "
        f"256, eval and checkpoints off), {args.repeats} alternating repeats:",
        "",
        "| run | device | us per env step (median) | env steps/s |",
        "|---|---|---|---|",
    ]
    for device, method in runs:
        med = statistics.median(per_step[f"{method}/{device}"])
        name = (
            "PPO on the true reward" if method == "ppo" else "DRAIL (reward learning + relabelling)"
        )
        lines.append(f"| {name} | {device} | {med * 1e6:.1f} | {1 / med:,.0f} |")
    lines.append("")
    for device in devices:
        label = "DRAIL / PPO ratio" + (f" on {device}" if len(devices) > 1 else "")
        lines += [ratio_line(label, f"drail/{device}", f"ppo/{device}"), ""]
    for device in devices[1:]:
        for method in ("ppo", "drail"):
            label = f"{method.upper()} {device} / {devices[0]} ratio"
            lines += [ratio_line(label, f"{method}/{device}", f"{method}/{devices[0]}"), ""]

    first = devices[0]
    drail_rate = statistics.median(data[f"throughput/DRAIL (1 draw)/{first}"])
    drail_ratio = ratio(f"drail/{first}", f"ppo/{first}")[0]
    notes = (
        f"Targets (on {first}): DRAIL scoring >= 100k pairs/s: "
        f"{'met' if drail_rate >= 1e5 else 'NOT met'}; DRAIL/PPO wall-clock ratio <= 1.5: "
        f"{'met' if drail_ratio <= 1.5 else 'NOT met'}."
        + (f" GPU: {data['gpu']}." if "gpu" in data else "")
    )
    name = "reward_cost" + (f"_{args.tag}" if args.tag else "")
    path = write_result(name, "Reward cost", "\n".join(lines), data, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
