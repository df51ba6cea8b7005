"""Why the diffusion policy trailed the flow policy and BC, one variable at a time.

    python -m benchmarks.diffusion_policy_diagnosis [--tasks halfcheetah pointmaze-medium]
        [--variants epsilon sample v_prediction eps-linear eps-noclip eps-noema eps-T1000 flow bc]
        [--seeds 0 1 2] [--parallel 2]

Each cell is `diffil train METHOD --task TASK --seed S --set KEY=VALUE ...`: the method's and
task's presets with one setting changed (see ``VARIANTS``); same network, data, chunking,
optimiser and number of gradient steps. Locomotion tasks use the first 5 trajectories of the
shipped ``<task>.hdf5`` (``--data-dir``); the mazes their preset's 100 scripted demonstrations.
The policy's score is the run's final evaluation (locomotion: eval.episodes of the preset,
normalised return; mazes: 100 episodes, success), or with ``--eval-episodes N`` a fresh
evaluation of its policy.pt on N episodes (the final evaluation's seed), played
``--eval-envs`` at a time in lockstep and kept in the run as ``eval_<N>x<envs>.json``.

Beside the score, what the trained model does on held-out demonstrations (locomotion:
trajectories 5-9 of the file; mazes: 20 fresh scripted episodes), all in the model's scaled
action units ([-1, 1] over the demonstrated range):

- ``a0 MSE``: squared error of the first sampled action against the demonstrated one;
- ``at bound``: share of sampled action coordinates within 0.01 of the range's bounds (the
  demonstrations' own share is given in the notes);
- ``MMD``: squared maximum mean discrepancy (Gaussian kernel, median bandwidth) between the
  sampled first actions and the demonstrated ones over those states;
- ``moments``: mean over action dimensions of |mean difference| + |std difference| of the same
  two sets;
- ``spread``: standard deviation of the first action over 16 samples for one state, averaged
  over dimensions and 300 states (a policy that ignores its noise has none);
- ``x0 error @ SNR``: mean squared error of the network's one-shot estimate of the clean chunk
  from a noised one, at matched signal-to-noise ratios sqrt(abar / (1 - abar)) of the cosine
  schedule's steps 99, 90, 50 and 10 (flow: at the path time with the same ratio t / (1 - t)).

Results go to ``results/diffusion_policy_diagnosis[_TAG].md``; runs stay under ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import DATA_DIR, add_set_option, demos_path, diffil_train
from benchmarks.report import write_result
from diffil.bench.stats import interval_estimate
from diffil.data.io import load_dataset
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import get_task
from diffil.eval.evaluate import FINAL_EVAL_SEED, evaluate_policy
from diffil.generative.chunks import action_chunks
from diffil.generative.policy import GenerativePolicy
from diffil.policy import Policy

# cells from before generative.network_input existed fed each network its own path's scale
NATIVE = "generative.network_input=native"
# label -> (diffil method, overrides of the method's preset, what the cell changes)
VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "epsilon": (
        "diffusion-policy",
        ["generative.prediction=epsilon", NATIVE],
        "eps-prediction, cosine schedule (T = 100), x0 clipped, EMA (the preset before this)",
    ),
    "sample": ("diffusion-policy", ["generative.prediction=sample", NATIVE], "x0-prediction"),
    "v_prediction": (
        "diffusion-policy",
        ["generative.prediction=v_prediction", NATIVE],
        "v-prediction",
    ),
    "eps-linear": (
        "diffusion-policy",
        ["generative.prediction=epsilon", "generative.schedule=linear", NATIVE],
        "eps, linear schedule",
    ),
    "eps-noclip": (
        "diffusion-policy",
        ["generative.prediction=epsilon", "generative.clip_sample=false", NATIVE],
        "eps, x0 not clipped while sampling (only the final action)",
    ),
    "eps-noema": (
        "diffusion-policy",
        ["generative.prediction=epsilon", "generative.ema_decay=0.0", NATIVE],
        "eps, raw weights instead of their EMA",
    ),
    "eps-T1000": (
        "diffusion-policy",
        ["generative.prediction=epsilon", "generative.diffusion_steps=1000", NATIVE],
        "eps, 1000 training diffusion steps",
    ),
    "eps-long": (
        "diffusion-policy",
        ["generative.prediction=epsilon", "bc.steps=60000", NATIVE],
        "eps, 3x the gradient steps",
    ),
    # the two ways v-prediction + DDIM still differs from flow + Euler besides the path's shape
    "v-noclip": (
        "diffusion-policy",
        ["generative.prediction=v_prediction", "generative.clip_sample=false", NATIVE],
        "v, x0 not clipped between DDIM steps (as flow: only the final action)",
    ),
    "v-T1000": (
        "diffusion-policy",
        ["generative.prediction=v_prediction", "generative.diffusion_steps=1000", NATIVE],
        "v, 1000 training diffusion steps (time inputs span 0-999 as flow's t x 1000)",
    ),
    # the path and the time discretisation, each moved to the other side (session 13)
    "v-rectified": (
        "diffusion-policy",
        ["generative.prediction=v_prediction", "generative.schedule=rectified", NATIVE],
        "v, DDPM schedule with the noise levels of flow's linear path",
    ),
    "flow-cosine": (
        "flow-policy",
        ["generative.flow_path=cosine", NATIVE],
        "flow matching on the cosine (variance-preserving) path: v-prediction in continuous time",
    ),
    # which part of the path: the scale of the network's input, or the target it regresses
    "v-linear-input": (
        "diffusion-policy",
        ["generative.prediction=v_prediction", "generative.network_input=linear"],
        "v, the network sees x_t at the linear path's scale (x_t / (a + s))",
    ),
    "flow-vp-input": (
        "flow-policy",
        ["generative.network_input=vp"],
        "flow (linear path), the network sees x_t at unit variance (as DDPM)",
    ),
    "flow": ("flow-policy", [], "flow matching (10 Euler steps)"),
    "bc": ("bc", [], "BC with the PPO policy network"),
}
DIAGNOSED_STEPS = (99, 90, 50, 10)  # cosine schedule, T = 100
HELD_OUT_STATES = 2000
SPREAD_STATES, SPREAD_DRAWS = 300, 16


def run_dir(args: argparse.Namespace, task: str, label: str, seed: int) -> Path:
    return args.runs / f"{task}-{label}-s{seed}"


def train_cell(job: tuple[str, str, int], args: argparse.Namespace) -> None:
    task, label, seed = job
    out = run_dir(args, task, label, seed)
    if (out / "eval.json").exists() or args.summarise_only:
        return
    method, overrides, _ = VARIANTS[label]
    train_args = [method, "--task", task, "--seed", str(seed)]
    demos = demos_path(task, args.data_dir)
    if demos is not None:
        train_args += ["--demos", str(demos)]
        overrides = [*overrides, f"num_demos={args.trajectories}"]
    else:
        overrides = [*overrides, "eval.episodes=100"]
    overrides += args.sets
    train_args += [arg for item in overrides for arg in ("--set", item)]
    diffil_train(out, train_args, args.runs / f"{out.name}.log")


def held_out(task: str, args: argparse.Namespace) -> TrajectoryDataset:
    """Demonstrations no cell trained on."""
    demos = demos_path(task, args.data_dir)
    if demos is None:
        from diffil.experts.collect import collect_demonstrations

        return collect_demonstrations(task, 20, seed=555_555)
    data = load_dataset(demos, task=task)
    return TrajectoryDataset([data[i] for i in range(args.trajectories, args.trajectories + 5)])


def mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Biased squared MMD with a Gaussian kernel whose bandwidth is the median distance."""
    z = torch.as_tensor(np.concatenate([x, y]), dtype=torch.float64)
    d2 = torch.cdist(z, z).pow(2)
    k = torch.exp(-d2 / d2[d2 > 0].median())
    n = len(x)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean())


def x0_errors(policy: GenerativePolicy, obs: torch.Tensor, chunks: torch.Tensor) -> list[float]:
    """MSE of the one-shot clean-chunk estimate at the SNRs of ``DIAGNOSED_STEPS``."""
    from diffil.diffusion.flow import TIME_SCALE, path_coefficients
    from diffil.diffusion.parameterization import split_prediction
    from diffil.diffusion.schedules import NoiseSchedule

    model = policy.model
    cond, x0 = model.condition(obs), model.scale_actions(chunks)
    reference = NoiseSchedule.cosine(100).alphas_cumprod
    out = []
    gen = torch.Generator().manual_seed(0)
    for step in DIAGNOSED_STEPS:
        eps = torch.randn(x0.shape, generator=gen)
        snr = math.sqrt(float(reference[step]) / (1.0 - float(reference[step])))
        with torch.no_grad():
            if model.objective == "flow":
                path = model.config.flow_path
                # the path time where a / s = snr (linear: t / (1 - t); cosine: tan(pi t / 2))
                t = snr / (1.0 + snr) if path == "linear" else 2.0 / math.pi * math.atan(snr)
                a, s, da, ds = path_coefficients(path, torch.tensor(t))
                x_t = a * x0 + s * eps
                v = model.denoise(x_t, torch.full((len(x0),), t * TIME_SCALE), cond)
                estimate = (ds * x_t - s * v) / (a * ds - s * da)  # solve for the data point
            else:
                abars = model.schedule.alphas_cumprod
                k = int(torch.argmin((abars / (1 - abars)).sqrt().sub(snr).abs()))
                x_t = model.schedule.q_sample(x0, k, eps)
                output = model.denoise(x_t, torch.full((len(x0),), k), cond)
                estimate, _ = split_prediction(model.config.prediction, output, x_t, abars[k])
        out.append(float((estimate - x0).pow(2).mean()))
    return out


def input_scale(cfg, objective: str) -> str:
    """The scale the network saw its noised chunk at: "unit variance" or "linear path"."""
    native = "linear path" if objective == "flow" and cfg.flow_path == "linear" else "unit variance"
    return {"native": native, "vp": "unit variance", "linear": "linear path"}[cfg.network_input]


def diagnose(policy: Policy | GenerativePolicy, data: TrajectoryDataset) -> dict:
    """Sample statistics on held-out demonstration states (see the module docstring)."""
    if not isinstance(policy, GenerativePolicy):
        return {}
    cfg = policy.model.config
    obs, chunks = action_chunks(data, cfg.obs_horizon, cfg.action_horizon)
    rows = np.random.default_rng(0).choice(len(obs), min(HELD_OUT_STATES, len(obs)), replace=False)
    obs_t, chunks_t = torch.as_tensor(obs[rows]), torch.as_tensor(chunks[rows])
    model = policy.model
    with torch.no_grad():
        sampled = model.sample(obs_t, generator=torch.Generator().manual_seed(1))
        a_hat = model.scale_actions(sampled)[:, 0].numpy()
        a_demo = model.scale_actions(chunks_t)[:, 0].numpy()
    result = {
        "a0_mse": float(((a_hat - a_demo) ** 2).mean()),
        "at_bound": float((np.abs(a_hat) >= 0.99).mean()),
        "demo_at_bound": float((np.abs(a_demo) >= 0.99).mean()),
        "mmd2": mmd2(a_hat, a_demo),
        "moments": float(
            (np.abs(a_hat.mean(0) - a_demo.mean(0)) + np.abs(a_hat.std(0) - a_demo.std(0))).mean()
        ),
    }
    if model.objective != "regression":
        result["input_scale"] = input_scale(model.config, model.objective)
        result["x0_error"] = x0_errors(policy, obs_t, chunks_t)
        repeated = obs_t[:SPREAD_STATES].repeat_interleave(SPREAD_DRAWS, 0)
        with torch.no_grad():
            draws = model.scale_actions(
                model.sample(repeated, generator=torch.Generator().manual_seed(2))
            )[:, 0].reshape(-1, SPREAD_DRAWS, model.act_dim)
        result["spread"] = float(draws.std(1).mean())
    return result


def evaluation(task: str, out: Path, args: argparse.Namespace) -> dict:
    """The run's final evaluation, or its policy's evaluation on ``--eval-episodes`` episodes
    (made once, then read from the run directory)."""
    if args.eval_episodes is None:
        return json.loads((out / "eval.json").read_text())
    path = out / f"eval_{args.eval_episodes}x{args.eval_envs}.json"
    if not path.exists():
        found = evaluate_policy(
            get_task(task),
            Policy.load(out / "policy.pt"),
            args.eval_episodes,
            seed=FINAL_EVAL_SEED,
            num_envs=args.eval_envs,
        )
        path.write_text(json.dumps(found, indent=1))
    return json.loads(path.read_text())


def score(task: str, final: dict) -> float:
    spec = get_task(task)
    if spec.family == "maze":
        return 100.0 * float(final["success_rate"])
    return float(spec.normalized_score(final["return_mean"]))


def summarise_task(task: str, rows: list[dict], labels: list[str]) -> str:
    maze = get_task(task).family == "maze"
    unit = "success %" if maze else "normalised return"
    head = " | ".join(f"x0 error @{s}" for s in DIAGNOSED_STEPS)
    lines = [
        f"| variant | {unit} (median) | IQM [95% CI] | per seed | a0 MSE | at bound | MMD "
        f"| moments | spread | {head} | train s |",
        "|---|---|---|---|---|---|---|---|---|" + "---|" * len(DIAGNOSED_STEPS) + "---|",
    ]
    fmt = "{:.0f}" if maze else "{:.2f}"
    for label in labels:
        mine = [r for r in rows if r["variant"] == label]
        if not mine:
            continue
        scores = [r["score"] for r in mine]
        per = ", ".join(fmt.format(v) for v in scores)

        def med(key: str, mine: list[dict] = mine) -> str:
            vals = [r[key] for r in mine if key in r]
            return f"{statistics.median(vals):.3g}" if vals else "-"

        errs = [r["x0_error"] for r in mine if "x0_error" in r]
        err_cells = (
            [f"{statistics.median(e[i] for e in errs):.3g}" for i in range(len(DIAGNOSED_STEPS))]
            if errs
            else ["-"] * len(DIAGNOSED_STEPS)
        )
        secs = statistics.median(r["seconds"] for r in mine)
        est = interval_estimate(np.array(scores))
        ci = f"{fmt.format(est.value)} [{fmt.format(est.low)}, {fmt.format(est.high)}]"
        lines.append(
            f"| {label} | {fmt.format(statistics.median(scores))} | {ci} | {per} | "
            f"{med('a0_mse')} | "
            f"{med('at_bound')} | {med('mmd2')} | {med('moments')} | {med('spread')} | "
            f"{' | '.join(err_cells)} "
            f"| {secs:.0f} |"
        )
    return "\n".join([*lines, "", pooled_by_input_scale(rows, fmt, unit)])


def pooled_by_input_scale(rows: list[dict], fmt: str, unit: str) -> str:
    """Every generative cell of the task, grouped by the scale its network saw x_t at."""
    lines = [
        f"| network input (all variants pooled) | runs | {unit} IQM [95% CI] | median |",
        "|---|---|---|---|",
    ]
    for scale in ("unit variance", "linear path"):
        scores = [r["score"] for r in rows if r.get("input_scale") == scale]
        if scores:
            est = interval_estimate(np.array(scores))
            lines.append(
                f"| {scale} | {len(scores)} | {fmt.format(est.value)} [{fmt.format(est.low)}, "
                f"{fmt.format(est.high)}] | {fmt.format(statistics.median(scores))} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=["halfcheetah", "pointmaze-medium"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trajectories", type=int, default=5, help="Locomotion demos used.")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/runs/diffusion_diagnosis"))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="Holds <task>.hdf5.")
    parser.add_argument("--tag", default="", help="Suffix of the results file name.")
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="Score each policy on this many episodes instead of its run's final evaluation.",
    )
    parser.add_argument(
        "--eval-envs", type=int, default=20, help="Lockstep environments of --eval-episodes."
    )
    add_set_option(parser)
    parser.add_argument(
        "--summarise-only", action="store_true", help="Tabulate finished runs; train nothing."
    )
    parser.add_argument(
        "--no-summary", action="store_true", help="Train the cells; tabulate and write nothing."
    )
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    # variant-major order: the first variants finish on every task and seed first
    jobs = [(t, v, s) for v in args.variants for t in args.tasks for s in args.seeds]
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda job: train_cell(job, args), jobs))
    if args.no_summary:
        return

    torch.set_num_threads(1)
    rows, missing = [], []
    for task in args.tasks:
        data = held_out(task, args)
        for label in args.variants:
            for seed in args.seeds:
                out = run_dir(args, task, label, seed)
                if not (out / "eval.json").exists():
                    missing.append(out.name)
                    continue
                seconds = json.loads((out / "eval.json").read_text())["seconds"]
                row = {"task": task, "variant": label, "seed": seed, "seconds": seconds}
                row["score"] = score(task, evaluation(task, out, args))
                row.update(diagnose(Policy.load(out / "policy.pt"), data))
                print(json.dumps(row), flush=True)
                rows.append(row)
    parts = []
    for task in args.tasks:
        mine = [r for r in rows if r["task"] == task]
        if mine:
            bound = [r["demo_at_bound"] for r in mine if "demo_at_bound" in r]
            parts.append(
                f"## {task}\n\n"
                + summarise_task(task, mine, args.variants)
                + (f"\n\nDemonstrated actions at a bound: {bound[0]:.3f}." if bound else "")
            )
    variants = "\n".join(
        f"- `{label}`: {VARIANTS[label][2]} (`{VARIANTS[label][0]}`"
        + "".join(f" --set {o}" for o in VARIANTS[label][1])
        + ")"
        for label in args.variants
    )
    table = (
        f"Seeds {args.seeds}; {args.trajectories} trajectories on locomotion, 100 demonstrations "
        "on mazes; "
        + (
            "tabulated from earlier runs (how they ran: see the notes)"
            if args.summarise_only
            else f"runs used one torch thread each, {args.parallel} at a time"
        )
        + "."
        + (
            f" Scores: each policy evaluated afresh on {args.eval_episodes} episodes, "
            f"{args.eval_envs} environments in lockstep."
            if args.eval_episodes
            else " Scores: the runs' final evaluations."
        )
        + (f" Overrides for every cell: {', '.join(args.sets)}." if args.sets else "")
        + f"\n\nVariants:\n{variants}\n\n"
        + "\n\n".join(parts)
    )
    notes = f"Missing cells: {', '.join(missing)}." if missing else "Every cell finished."
    print(table)
    print(notes)
    name = "diffusion_policy_diagnosis" + (f"_{args.tag}" if args.tag else "")
    path = write_result(name, "Diffusion policy diagnosis", table, {"rows": rows}, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
