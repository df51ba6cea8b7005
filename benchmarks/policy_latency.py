"""Inference latency per action of the generative policies, batch 1, on this machine's CPU.

    python -m benchmarks.policy_latency [--calls 300] [--repeats 5] [--threads 1]

Each configuration is the method preset of `diffil train diffusion-policy|flow-policy` for the
pointmaze tasks (obs 6, action 2, H_o 2, H_a 8), MLP or 1-D temporal U-Net. Latency of one
``Policy.predict(obs)`` call (sample a whole chunk, return its first action: the worst case of
receding-horizon execution, which samples once every exec_horizon steps), and of the exported
ONNX graph in onnxruntime. Median over ``--calls`` calls; the figure quoted is the median of
``--repeats`` such medians. Target (issue: diffusion and flow policies): <= 5 ms with 10 DDIM /
10 Euler steps.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import write_result
from diffil.algorithms.config import resolve_config
from diffil.generative import ActionChunkModel, GenerativePolicy

CONFIGS = [
    ("diffusion-policy", "diffusion", "mlp", "ddim", 10),
    ("flow-policy", "flow", "mlp", "euler", 10),
    ("flow-policy", "flow", "mlp", "midpoint", 5),
    ("diffusion-policy", "diffusion", "unet", "ddim", 10),
    ("flow-policy", "flow", "unet", "euler", 10),
    ("diffusion-policy", "diffusion", "mlp", "ddpm", 100),
    ("diffusion-policy", "diffusion", "mlp", "langevin", 10),
]


def make_policy(method: str, objective: str, network: str, sampler: str, steps: int):
    import dataclasses

    cfg = resolve_config(method, "pointmaze-medium").generative
    cfg = dataclasses.replace(cfg, network=network, sampler=sampler, sample_steps=steps)
    if sampler == "ddpm":
        cfg = dataclasses.replace(cfg, sample_steps=10)
    return GenerativePolicy(ActionChunkModel(6, 2, objective, cfg))


def median_ms(call, calls: int) -> float:
    for _ in range(20):  # warm-up
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    obs = np.zeros(6, dtype=np.float32)
    rows, lines = [], []
    for method, objective, network, sampler, steps in CONFIGS:
        policy = make_policy(method, objective, network, sampler, steps)
        calls = args.calls if sampler not in ("ddpm", "langevin") else max(20, args.calls // 10)
        torch_ms = [median_ms(lambda p=policy: p.predict(obs), calls) for _ in range(args.repeats)]
        onnx_ms = None
        if policy.model.deterministic_sampler:
            with tempfile.TemporaryDirectory() as tmp:
                path = policy.export_onnx(Path(tmp) / "p.onnx")
                session = onnxruntime.InferenceSession(str(path), options)
            feeds = {
                "obs_history": np.zeros((1, 2, 6), np.float32),
                "noise": np.random.default_rng(0).normal(size=(1, 8, 2)).astype(np.float32),
            }
            onnx_ms = [
                median_ms(lambda s=session, f=feeds: s.run(None, f), calls)
                for _ in range(args.repeats)
            ]
        label = sampler if sampler != "langevin" else "langevin (10 levels x 5)"
        nfe = {"midpoint": 2 * steps, "ddpm": 100, "langevin": 51}.get(sampler, steps)
        row = {
            "method": method,
            "network": network,
            "sampler": label,
            "steps": steps,
            "network_evaluations": nfe,
            "torch_ms": statistics.median(torch_ms),
            "torch_ms_runs": torch_ms,
            "onnx_ms": statistics.median(onnx_ms) if onnx_ms else None,
            "onnx_ms_runs": onnx_ms,
        }
        rows.append(row)
        onnx = f"{row['onnx_ms']:.2f}" if onnx_ms else "-"
        lines.append(
            f"| {method} | {network} | {label} | {steps} | {nfe} | {row['torch_ms']:.2f} | {onnx} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(
        [
            f"Batch 1, {args.threads} torch/onnxruntime thread(s); median of {args.repeats} "
            f"medians over {args.calls} calls (ddpm/langevin: {max(20, args.calls // 10)}).",
            "",
            "| method | network | sampler | steps | network evaluations | torch predict (ms) | "
            "onnxruntime (ms) |",
            "|---|---|---|---|---|---|---|",
            *lines,
        ]
    )
    notes = (
        "Target: <= 5 ms median per action with 10 DDIM steps (diffusion) and 10 Euler steps "
        "(flow). `predict` samples a whole chunk per call; receding-horizon execution "
        "(`policy(obs)`) samples once every exec_horizon (4) actions, so its mean cost per "
        "action is about a quarter of this. Weights are untrained: latency does not depend on "
        "them."
    )
    path = write_result("policy_latency", "Generative policy latency", table, {"rows": rows}, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
