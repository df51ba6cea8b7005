"""Diffuser-IRL on the U-Maze (reference 004, section 3.4, Table 1), as one command.

    python -m benchmarks.diffuser_irl_umaze [--quick] [--losses mse mmd_gauss mmd_matern]
        [--baselines airl gail bc] [--device cpu|cuda] [--seed 0]
    python -m benchmarks.diffuser_irl_umaze --memory [--quick]
    python -m benchmarks.diffuser_irl_umaze --summarise TAG [TAG ...]   # seeds -> one table

Protocol (section 3.4.1; sizes of Appendix C unless a flag changes them):

1. Reward-agnostic data: ``collect_exploration`` on pointmaze-umaze, cut into 300-step pieces.
2. Base Diffuser over [x, y, vx, vy, ax, ay] (no goal dims), horizon 128, 64 diffusion steps.
3. True reward 5u + 5v with (u, v) the position in cell units from the maze's top-left corner
   (u to the right, v downwards, both in [0, 5] with the walls): highest in the bottom-right.
4. Experts: re-planning rollouts (``DiffuserPlanner``, every step) of the Diffuser guided by
   the true reward, 3 per start cell from 3 start cells, 300 steps each, on the bare environment (no
   goal termination or time limit, as the experts stay in the corner).
5. Diffuser-IRL with K = 10 and each loss; AIRL, GAIL and BC via ``diffil.train`` on the same
   expert data.
6. Return under the true reward of 300-step rollouts from 5 start cells (guided re-planning for
   the Diffuser rows, the trained policy for the baselines), and ERC between each learned reward
   and the true one on pieces of the base Diffuser's training data (the coverage set).

``--memory`` measures, for H = 128, 64 diffusion steps and batch 32, the peak memory and time of
one reward-learning epoch (270 windows) with full and truncated (``grad_last_k``) gradients, each
in a fresh process (CUDA: max allocated memory; CPU: the growth of the process's max RSS).
``--summarise`` reads ``results/diffuser_irl_umaze_<TAG>.json`` of runs with different seeds
(same budget) and writes the medians over seeds with the two targets checked per seed.
``--quick`` shrinks everything for a smoke run (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.report import write_result
from diffil.algorithms.planning import make_planner
from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.maze import MazeLayout, flatten_goal_observation
from diffil.envs.registry import get_task
from diffil.eval.reward_metrics import erc
from diffil.experts.collect import collect_exploration
from diffil.planning import (
    Diffuser,
    DiffuserConfig,
    DiffuserIRLConfig,
    DiffuserPlanner,
    PlanReward,
    make_diffuser,
    train_diffuser,
    train_diffuser_irl,
)

TASK = "pointmaze-umaze"
STATE_DIMS = (0, 1, 2, 3)  # x, y, vx, vy: the plan leaves the explorer's target out
EXPERT_CELLS = [(1, 1), (1, 3), (3, 1)]
EVAL_CELLS = [(1, 1), (1, 2), (1, 3), (2, 3), (3, 1)]
TABLE1 = {  # reference 004, Table 1 (return +- std, ERC)
    "Base Diffuser": "2709.87 ± 199.81",
    "Diffuser (True Reward)": "3569.82 ± 243.84",
    "Diffuser (Learnt MSE Reward)": "3578.47 ± 237.46, ERC 0.689",
    "Diffuser (Learnt MMD-Gauss Reward)": "3563.60 ± 262.15, ERC 0.652",
    "Diffuser (Learnt MMD-Matern Reward)": "3557.16 ± 247.75, ERC 0.457",
    "BC": "3535.96 ± 248.75",
    "GAIL": "3782.45 ± 272.66",
    "AIRL": "3724.23 ± 328.94, ERC 0.719",
}
LOSS_NAMES = {"mse": "MSE", "mmd_gauss": "MMD-Gauss", "mmd_matern": "MMD-Matern"}


@dataclasses.dataclass
class Budget:
    explore_steps: int = 470_000  # ~1566 pieces of 300 steps, as in section 3.4.1
    piece: int = 300
    horizon: int = 128
    diffusion_steps: int = 64
    channels: tuple[int, ...] = (32, 128, 256)
    diffuser_steps: int = 200_000
    diffuser_batch: int = 32
    guide_scale: float = 0.1
    plan_samples: int = 1
    replan_every: int = 1
    expert_per_cell: int = 3
    episode_len: int = 300
    irl_epochs: int = 100
    irl_batch: int = 270
    grad_last_k: int | None = None
    hidden: tuple[int, ...] = (384, 128, 64)
    eval_episodes: int = 100
    coverage: int = 500
    baseline_steps: int = 300_000
    baseline_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


QUICK = Budget(
    explore_steps=1_200,
    piece=60,
    horizon=16,
    diffusion_steps=4,
    channels=(8, 16),
    diffuser_steps=20,
    diffuser_batch=16,
    guide_scale=1.0,
    expert_per_cell=1,
    episode_len=12,
    irl_epochs=2,
    irl_batch=8,
    grad_last_k=1,
    hidden=(16, 16),
    eval_episodes=2,
    coverage=10,
    baseline_steps=256,
    baseline_overrides={
        "n_envs": 2,
        "checkpoint_every": 512,
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
        "reward": {"updates_per_rollout": 1, "batch_size": 32, "model": {"hidden": [16, 16]}},
        "eval": {"every": 1024, "episodes": 1},
        "bc": {"steps": 20, "batch_size": 32},
    },
)


# ---- the true reward ---------------------------------------------------------------------


def true_reward_xy(xy: np.ndarray | torch.Tensor, layout: MazeLayout) -> Any:
    """5u + 5v with (u, v) the position in cells from the top-left corner (reference 004, 3.4.1)."""
    rows, cols = layout.shape
    u = (xy[..., 0] + cols * layout.scaling / 2) / layout.scaling
    v = (rows * layout.scaling / 2 - xy[..., 1]) / layout.scaling
    return 5.0 * u + 5.0 * v


def true_plan_return(layout: MazeLayout) -> Callable[[torch.Tensor], torch.Tensor]:
    """The true return of (B, H, S + A) plans: the sum of the true reward over the plan."""
    return lambda plans: true_reward_xy(plans[..., :2], layout).sum(dim=1)


def true_reward_function(layout: MazeLayout) -> Callable[..., np.ndarray]:
    """The true reward as a RewardFunction (of the state the action is taken in)."""
    return lambda obs, acts, next_obs: np.asarray(true_reward_xy(obs[:, :2], layout), np.float64)


# ---- rollouts on the bare environment ------------------------------------------------------


def rollout_from(
    policy: Callable[[np.ndarray], np.ndarray],
    cell: tuple[int, int],
    length: int,
    seed: int,
    layout: MazeLayout,
) -> Trajectory:
    """``length`` steps of ``policy`` from ``cell`` (with the task's reset noise), ignoring the
    environment's goal termination and time limit; rewards are the true reward."""
    env = get_task(TASK).make_env()
    try:
        base = env.unwrapped
        raw, _ = base.reset(seed=seed, options={"reset_cell": np.asarray(cell)})
        obs = flatten_goal_observation(raw)
        reset = getattr(policy, "reset", None)
        if callable(reset):
            reset()
        observations, actions = [obs], []
        for _ in range(length):
            action = np.asarray(policy(obs), dtype=np.float32)
            raw, *_ = base.step(action)
            obs = flatten_goal_observation(raw)
            observations.append(obs)
            actions.append(action)
    finally:
        env.close()
    observations_np = np.asarray(observations, dtype=np.float64)
    rewards = np.asarray(true_reward_xy(observations_np[:-1, :2], layout), dtype=np.float64)
    return Trajectory(observations_np, np.asarray(actions), rewards)


def rollouts_batched(
    planner: DiffuserPlanner,
    cells: list[tuple[int, int]],
    length: int,
    seeds: list[int],
    layout: MazeLayout,
) -> list[Trajectory]:
    """Like :func:`rollout_from` for one environment per cell, run in lockstep so that each step
    plans for all of them in one batch (re-planning every step)."""
    envs = [get_task(TASK).make_env() for _ in cells]
    try:
        bases = [env.unwrapped for env in envs]
        obs = np.stack(
            [
                flatten_goal_observation(
                    base.reset(seed=seed, options={"reset_cell": np.asarray(c)})[0]
                )
                for base, c, seed in zip(bases, cells, seeds, strict=True)
            ]
        )
        observations, actions = [obs], []
        for _ in range(length):
            action = np.asarray(planner(obs), dtype=np.float32).reshape(len(cells), -1)
            obs = np.stack(
                [flatten_goal_observation(b.step(a)[0]) for b, a in zip(bases, action, strict=True)]
            )
            observations.append(obs)
            actions.append(action)
    finally:
        for env in envs:
            env.close()
    out = []
    for i in range(len(cells)):
        ob = np.asarray([o[i] for o in observations], dtype=np.float64)
        rewards = np.asarray(true_reward_xy(ob[:-1, :2], layout), dtype=np.float64)
        out.append(Trajectory(ob, np.asarray([a[i] for a in actions]), rewards))
    return out


def evaluate(
    policy: Callable[[np.ndarray], np.ndarray], budget: Budget, seed: int, layout: MazeLayout
) -> dict[str, float]:
    """Mean and std of the true return over ``eval_episodes`` rollouts from the eval cells
    (Diffuser planners: all episodes in lockstep, planned in one batch per step)."""
    cells = [EVAL_CELLS[e % len(EVAL_CELLS)] for e in range(budget.eval_episodes)]
    seeds = [seed + e for e in range(budget.eval_episodes)]
    if isinstance(policy, DiffuserPlanner):
        trajs = rollouts_batched(policy, cells, budget.episode_len, seeds, layout)
    else:
        trajs = [
            rollout_from(policy, c, budget.episode_len, s, layout)
            for c, s in zip(cells, seeds, strict=True)
        ]
    returns = [t.episode_return for t in trajs]
    return {"return_mean": float(np.mean(returns)), "return_std": float(np.std(returns))}


def run_reward(run_dir: Path) -> Callable[..., np.ndarray]:
    """The reward model of a finished AIRL/GAIL run as a RewardFunction."""
    from diffil.algorithms.reward_transfer import learned_reward

    return learned_reward(run_dir)


# ---- the protocol ------------------------------------------------------------------------


def run_protocol(args: argparse.Namespace, budget: Budget) -> list[dict[str, Any]]:
    from diffil.algorithms.run import train
    from diffil.policy import Policy

    torch.manual_seed(args.seed)
    task = get_task(TASK)
    env = task.make_env()
    layout = MazeLayout.from_env(env)
    env.close()
    clock = time.perf_counter()

    def stamp(what: str) -> None:
        print(f"[{time.perf_counter() - clock:7.1f}s] {what}", flush=True)

    data = collect_exploration(
        TASK, budget.explore_steps, seed=args.seed, segment_length=budget.piece
    )
    stamp(f"exploration data: {len(data)} pieces, {data.num_transitions} steps")
    diffuser = make_diffuser(
        data,
        horizon=budget.horizon,
        state_dims=STATE_DIMS,
        num_steps=budget.diffusion_steps,
        channels=budget.channels,
    ).to(args.device)
    every = max(1, budget.diffuser_steps // 20)

    def show(step: int, loss: float) -> None:
        if (step + 1) % every == 0:
            stamp(f"diffuser step {step + 1}/{budget.diffuser_steps} loss {loss:.4f}")

    train_diffuser(
        diffuser, data, steps=budget.diffuser_steps, batch_size=budget.diffuser_batch,
        seed=args.seed, callback=show,
    )  # fmt: skip
    diffuser.requires_grad_(False)
    true_guide = true_plan_return(layout)

    def planner(guide: Any) -> DiffuserPlanner:
        return DiffuserPlanner(
            diffuser, guide=guide, scale=budget.guide_scale, num_samples=budget.plan_samples,
            replan_every=budget.replan_every, seed=args.seed,
        )  # fmt: skip

    cells = [c for c in EXPERT_CELLS for _ in range(budget.expert_per_cell)]
    seeds = [1000 + i for i in range(len(cells))]
    experts = TrajectoryDataset(
        rollouts_batched(planner(true_guide), cells, budget.episode_len, seeds, layout),
        metadata={"task": TASK, "expert": "diffuser+true-reward"},
    )
    expert_returns = [t.episode_return for t in experts]
    stamp(f"experts: {len(experts)} rollouts, true return {np.mean(expert_returns):.1f}")
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(data), size=min(budget.coverage, len(data)), replace=False)
    coverage = [data[int(i)] for i in pick]
    true_fn = true_reward_function(layout)
    rows: list[dict[str, Any]] = []

    def add(name: str, policy: Callable, reward_fn: Callable | None, **extra: Any) -> None:
        row = {"method": name, **evaluate(policy, budget, 50_000 + args.seed, layout), **extra}
        if reward_fn is not None:
            row["erc"] = erc(reward_fn, true_fn, coverage)
        rows.append(row)
        stamp(json.dumps(row, default=float))

    add("Base Diffuser", planner(None), None)
    add("Diffuser (True Reward)", planner(true_guide), None)
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    for loss in args.losses:
        config = DiffuserIRLConfig(
            K=10 if budget.horizon >= 10 else budget.horizon, loss=loss,
            epochs=budget.irl_epochs, batch_size=budget.irl_batch, scale=budget.guide_scale,
            grad_last_k=budget.grad_last_k, hidden=budget.hidden, seed=args.seed,
        )  # fmt: skip
        began = time.perf_counter()
        result = train_diffuser_irl(diffuser, experts, config)
        seconds = time.perf_counter() - began
        result.reward.save(runs / f"diffuser-irl-{loss}-s{args.seed}.pt")
        add(
            f"Diffuser (Learnt {LOSS_NAMES[loss]} Reward)", planner(result.reward),
            result.reward.reward_function(), train_seconds=seconds,
            final_loss=result.losses[-1] if result.losses else None,
        )  # fmt: skip
    for loss in args.via_cli:
        run_dir = runs / f"cli-diffuser-irl-{loss}-s{args.seed}"
        shutil.rmtree(run_dir, ignore_errors=True)  # this script's own run from an earlier call
        began = time.perf_counter()
        train_via_cli(run_dir, experts, budget, loss, args)
        seconds = time.perf_counter() - began
        reward = PlanReward.load(run_dir / "reward.pt")
        add(
            f"Diffuser (Learnt {LOSS_NAMES[loss]} Reward), `diffil train diffuser-irl`",
            make_planner(run_dir, seed=args.seed), reward.reward_function(),
            train_seconds=seconds,
        )  # fmt: skip
    for method in args.baselines:
        out = runs / f"{method}-s{args.seed}"
        shutil.rmtree(out, ignore_errors=True)  # this script's own run from an earlier call
        began = time.perf_counter()
        trained = train(
            method, TASK, demos=experts, seed=args.seed, out=out, progress=False,
            steps=None if method == "bc" else budget.baseline_steps,
            overrides=budget.baseline_overrides, device=args.device,
        )  # fmt: skip
        seconds = time.perf_counter() - began
        policy = Policy.load(trained.policy_path)
        reward_fn = run_reward(trained.run_dir) if method == "airl" else None
        add(method.upper() if method != "bc" else "BC", policy, reward_fn, train_seconds=seconds)
    return rows


def train_via_cli(
    run_dir: Path, experts: TrajectoryDataset, budget: Budget, loss: str, args: argparse.Namespace
) -> None:
    """`diffil train diffuser-irl` on the same experts with this protocol's sizes: the run makes
    its own exploration data and base Diffuser (same seed and sizes) and learns the reward; only
    its own planner evaluation is cut to one episode (this script evaluates the planner here)."""
    from diffil.algorithms.run import train

    overrides = {
        "diffuser": {
            "explore_steps": budget.explore_steps, "piece": budget.piece,
            "horizon": budget.horizon, "diffusion_steps": budget.diffusion_steps,
            "channels": list(budget.channels), "steps": budget.diffuser_steps,
            "batch_size": budget.diffuser_batch, "state_dims": list(STATE_DIMS),
            "plan_samples": budget.plan_samples, "replan_every": budget.replan_every,
            "coverage_pieces": budget.coverage,
        },
        "irl": {
            "K": 10 if budget.horizon >= 10 else budget.horizon, "loss": loss,
            "epochs": budget.irl_epochs, "batch_size": budget.irl_batch,
            "scale": budget.guide_scale, "grad_last_k": budget.grad_last_k,
            "hidden": list(budget.hidden),
        },
        "num_demos": len(experts),
        "eval": {"episodes": 1, "final_episodes": 1},
    }  # fmt: skip
    train(
        "diffuser-irl", TASK, demos=experts, seed=args.seed, out=run_dir, overrides=overrides,
        device=args.device, progress=True,
    )  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| method | return ↑ | ERC ↓ | reference 004, Table 1 |", "|---|---|---|---|"]
    for r in rows:
        value = f"{r['erc']:.3f}" if "erc" in r else "—"
        ret = f"{r['return_mean']:.1f} ± {r['return_std']:.1f}"
        lines.append(f"| {r['method']} | {ret} | {value} | {TABLE1.get(r['method'], '—')} |")
    return "\n".join(lines)


def summarise(tags: list[str]) -> tuple[str, dict[str, Any]]:
    """Medians over the seeds of ``results/diffuser_irl_umaze_<tag>.json`` and the targets:
    each learned guide's return within 5% of the true-reward guide's, its ERC below AIRL's."""
    results = Path(__file__).parent / "results"
    runs = [json.loads((results / f"diffuser_irl_umaze_{tag}.json").read_text()) for tag in tags]
    budgets = {json.dumps(run["budget"], sort_keys=True) for run in runs}
    if len(budgets) != 1:
        raise SystemExit("the runs to summarise have different budgets; summarise like with like")
    seeds = [run["seed"] for run in runs]
    by_seed = [{row["method"]: row for row in run["rows"]} for run in runs]
    lines = [
        "| method | return ↑ (median) | per seed | ERC ↓ (median) | per seed | within 5% of "
        "true guide | ERC < AIRL |",
        "|---|---|---|---|---|---|---|",
    ]
    checks: dict[str, Any] = {}
    for method in runs[0]["rows"]:
        name = method["method"]
        rets = [rows[name]["return_mean"] for rows in by_seed]
        ercs = [rows[name]["erc"] for rows in by_seed if "erc" in rows[name]]
        within = erc_ok = "—"
        if name.startswith("Diffuser (Learnt"):
            gaps = [
                1 - rows[name]["return_mean"] / rows["Diffuser (True Reward)"]["return_mean"]
                for rows in by_seed
            ]
            below = [rows[name]["erc"] < rows["AIRL"]["erc"] for rows in by_seed]
            within = ", ".join(f"{'yes' if g <= 0.05 else 'no'} ({g:+.1%})" for g in gaps)
            erc_ok = ", ".join("yes" if b else "no" for b in below)
            checks[name] = {"return_gap": gaps, "erc_below_airl": below}
        lines.append(
            f"| {name} | {statistics.median(rets):.0f} | {', '.join(f'{r:.0f}' for r in rets)} | "
            + (f"{statistics.median(ercs):.3f} | {', '.join(f'{e:.3f}' for e in ercs)}" if ercs
               else "— | —")
            + f" | {within} | {erc_ok} |"
        )  # fmt: skip
    lines += [
        "",
        f"Seeds {seeds} (tags {', '.join(tags)}); 'within 5%' = 1 - learned / true-guide return "
        "of the same seed (negative: the learned guide did better). Reference 004, Table 1: "
        "learned 3557-3578 vs true 3570, ERC 0.457-0.689 vs AIRL 0.719.",
    ]
    return "\n".join(lines), {"seeds": seeds, "tags": tags, "checks": checks,
                              "budget": runs[0]["budget"]}  # fmt: skip


# ---- --memory ----------------------------------------------------------------------------


def _memory_one(spec: dict[str, Any]) -> dict[str, Any]:
    """One reward-learning epoch on random windows in this (fresh) process: peak memory and
    time."""
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    torch.manual_seed(0)
    config = DiffuserConfig(
        horizon=spec["horizon"], num_steps=spec["diffusion_steps"], channels=tuple(spec["channels"])
    )
    diffuser = Diffuser(6, 2, dataclasses.replace(config, state_dims=STATE_DIMS)).to(device)
    diffuser.requires_grad_(False).eval()
    windows = torch.randn(spec["windows"], spec["K"], diffuser.plan_dim, device=device)
    irl = DiffuserIRLConfig(
        K=spec["K"], loss=spec["loss"], epochs=1, batch_size=spec["batch"],
        grad_last_k=spec["grad_last_k"], hidden=tuple(spec["hidden"]),
    )  # fmt: skip
    # warm-up on 2 windows with a 1-step graph: lazy initialisation stays out of the numbers
    warm = dataclasses.replace(irl, batch_size=2, grad_last_k=1)
    train_diffuser_irl(diffuser, windows[:2], warm, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.max_memory_allocated(device)
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    began = time.perf_counter()
    result = train_diffuser_irl(diffuser, windows, irl, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated(device)
        kind = "cuda max allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        kind = "max RSS growth"
    return {
        **spec,
        "epoch_seconds": time.perf_counter() - began,
        "peak_mib": peak / 2**20,
        "memory": kind,
        "epoch_loss": result.losses[0],
    }


def run_memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    quick = args.quick
    base = {
        "device": args.device,
        "threads": 1 if quick else args.threads,
        "horizon": 16 if quick else 128,
        "diffusion_steps": 4 if quick else 64,
        "channels": [8, 16] if quick else [32, 128, 256],
        "batch": 4 if quick else 32,
        "windows": 8 if quick else 270,
        "K": 10,
        "loss": "mmd_matern",
        "hidden": [16] if quick else [384, 128, 64],
    }
    ks: list[int | None] = [None, 1, 2] if quick else [None, 1, 8]
    context = multiprocessing.get_context("spawn")
    rows = []
    for k in ks:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            row = pool.submit(_memory_one, {**base, "grad_last_k": k}).result()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def memory_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| gradients | epoch seconds | peak memory (MiB) | batches / epoch |",
        "|---|---|---|---|",
    ]
    for r in rows:
        which = "full chain" if r["grad_last_k"] is None else f"last {r['grad_last_k']} step(s)"
        batches = math.ceil(r["windows"] / r["batch"])
        lines.append(f"| {which} | {r['epoch_seconds']:.2f} | {r['peak_mib']:.1f} | {batches} |")
    return "\n".join(lines)


# ---- entry point ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="Tiny smoke run; numbers mean nothing."
    )
    parser.add_argument("--memory", action="store_true", help="Measure memory/time per epoch.")
    parser.add_argument("--losses", nargs="+", default=["mse", "mmd_gauss", "mmd_matern"])
    parser.add_argument("--baselines", nargs="*", default=["airl", "gail", "bc"])
    parser.add_argument(
        "--via-cli",
        nargs="*",
        default=[],
        metavar="LOSS",
        help="Also learn these losses' rewards with `diffil train diffuser-irl` (a run directory "
        "with its own exploration and Diffuser) and evaluate them the same way.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--runs", default="benchmarks/runs/diffuser_irl_umaze")
    parser.add_argument("--tag", default="", help="Suffix of the results file name.")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: seeds side by side)"
    )
    parser.add_argument("--no-write", action="store_true", help="Print only; write no results.")
    for name, value in dataclasses.asdict(Budget()).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            flag = "--" + name.replace("_", "-")
            parser.add_argument(flag, type=type(value), default=None, help=f"default {value}")
    parser.add_argument("--grad-last-k", type=int, default=None, help="default: full chain")
    parser.add_argument(
        "--summarise", nargs="+", metavar="TAG", help="Combine the results of these tags (seeds)."
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.summarise:
        md, data = summarise(args.summarise)
        name = "diffuser_irl_umaze_seeds" + (f"_{args.tag}" if args.tag else "")
        title = "Diffuser-IRL on pointmaze-umaze (reference 004, Table 1), over seeds"
        print(md)
        if not args.no_write:
            print(f"wrote {write_result(name, title, md, data)}")
        return
    name = (
        "diffuser_irl_umaze" + ("_memory" if args.memory else "") + ("_quick" if args.quick else "")
    )
    name += f"_{args.tag}" if args.tag else ""
    if args.memory:
        rows = run_memory(args)
        md, title = memory_table(rows), "Diffuser-IRL: memory and time per reward-learning epoch"
        notes = (
            "One epoch of Algorithm 4 (MMD-Matern loss) on random windows with an untrained "
            "Diffuser (the cost does not depend on training), each setting in a fresh process."
        )
        data: dict[str, Any] = {"rows": rows}
    else:
        budget = dataclasses.replace(QUICK if args.quick else Budget())
        for field in dataclasses.fields(Budget):
            value = getattr(args, field.name, None)
            if value is not None:
                setattr(budget, field.name, value)
        began = time.perf_counter()
        rows = run_protocol(args, budget)
        md, title = table(rows), "Diffuser-IRL on pointmaze-umaze (reference 004, Table 1)"
        returns = statistics.mean(r["return_mean"] for r in rows) if rows else float("nan")
        notes = (
            f"Budget: {dataclasses.asdict(budget)}. Seed {args.seed}, device {args.device}, "
            f"{time.perf_counter() - began:.0f} s in all (mean return over rows {returns:.1f}). "
            "Returns are under the true reward 5u + 5v (cell units from the top-left corner) "
            "over rollouts from 5 start cells; ERC on pieces of the base Diffuser's training data."
        )
        data = {"rows": rows, "budget": dataclasses.asdict(budget), "seed": args.seed}
    print(md)
    if not args.no_write:
        print(f"wrote {write_result(name, title, md, data, notes)}")


if __name__ == "__main__":
    main()
