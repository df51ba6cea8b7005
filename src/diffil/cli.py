"""The ``diffil`` command. Each subcommand is a thin layer over a function of :mod:`diffil.api`.

Errors the user can fix are printed as one line, ``diffil: error: <where>: <what>; <fix>``, with
exit status 2; they never show a stack trace. Anything else that goes wrong is one line too,
``diffil: error: <type>: <message>``, with exit status 1; ``diffil --debug ...`` (or
``DIFFIL_DEBUG=1``) prints the traceback of either kind.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Column, Table

from diffil import api
from diffil.envs.registry import get_task, list_tasks, restore_task
from diffil.errors import DiffilError, describe

console = Console()
DEBUG_ENV = "DIFFIL_DEBUG"
_debug = False  # set by --debug for the command being run

task_option = click.option("--task", "-t", required=True, help="Task name (see `diffil tasks`).")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
noise_option = click.option(
    "--noise", type=float, default=None, help="Reset-noise scale of the task variant (1 = default)."
)
coverage_option = click.option(
    "--coverage",
    type=float,
    default=None,
    help="Mazes: fraction of start/goal cells the demonstrations cover, in (0, 1].",
)
quiet_option = click.option("--quiet", is_flag=True, help="No progress output.")
device_option = click.option("--device", default=None, help="cpu (default) or cuda.")
optional_seed_option = click.option(
    "--seed", type=int, default=None, help="Random seed (default 0)."
)


def settings_option(example: str) -> Callable:
    """The repeatable --set KEY=VALUE option, with an example for its help text."""
    return click.option(
        "--set",
        "settings",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Override a config field, e.g. {example}.",
    )


def resume_option(what: str) -> Callable:
    """The --resume RUN option; WHAT names the run it continues."""
    return click.option(
        "--resume",
        type=click.Path(path_type=Path),
        default=None,
        help=f"Continue {what} in this directory from its last checkpoint.",
    )


dataset_argument = click.argument("path", type=click.Path(path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diffil")
@click.option(
    "--debug", is_flag=True, help=f"Show the traceback of an error (or set {DEBUG_ENV}=1)."
)
def app(debug: bool) -> None:
    """Diffusion-based imitation learning and inverse RL."""
    global _debug
    _debug = _debug or debug


@app.group("data")
def data_app() -> None:
    """Inspect demonstration datasets."""


@app.command()
def tasks() -> None:
    """List the registered tasks (and how to use any gymnasium environment)."""
    table = Table(
        Column("task", no_wrap=True),  # names are typed as shown: never cut them
        Column("env id", no_wrap=True),
        "horizon",
        "success metric",
        "random / expert return",
    )
    for name in list_tasks():
        spec = get_task(name)
        ref = spec.reference
        table.add_row(
            name,
            spec.env_id,
            str(spec.max_episode_steps),
            spec.success_key or "-",
            f"{ref.random_return:g} / {ref.expert_return:g}" if ref else "-",
        )
    console.print(table)
    console.print("any gymnasium environment works too: --task gym:ENV_ID, e.g. gym:Pendulum-v1")


@app.command()
@task_option
@click.option(
    "--episodes", type=click.IntRange(min=1), default=None, help="Number of episodes (expert mode)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: .npz, .hdf5, or a folder (Minari layout).",
)
@seed_option
@noise_option
@coverage_option
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option(
    "--expert",
    type=click.Path(path_type=Path),
    default=None,
    help="A trained expert: policy file or `diffil expert train` run directory (its best.pt).",
)
@click.option(
    "--mode",
    type=click.Choice(["expert", "explore"]),
    default="expert",
    show_default=True,
    help="expert: demonstration episodes; explore (mazes): reward-agnostic wandering to random "
    "goals with action noise, without resets (D4RL maze2d), for Diffuser training.",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Number of steps (explore mode)."
)
@click.option(
    "--action-noise",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SIGMA",
    help="Std of Gaussian noise on every expert action, as a fraction of half the action range "
    "(0.5: N(0, 0.5²) on a maze's [-1, 1] actions). Default: 0 (expert), 0.5 (explore).",
)
@click.option(
    "--successful-only",
    is_flag=True,
    help="Keep successful episodes only, rolling out until there are --episodes of them.",
)
def collect(
    task: str,
    episodes: int | None,
    out: Path,
    seed: int,
    noise: float | None,
    coverage: float | None,
    overwrite: bool,
    expert: Path | None,
    mode: str,
    steps: int | None,
    action_noise: float | None,
    successful_only: bool,
) -> None:
    """Make demonstrations with the task's expert (or --expert), or exploration data (--mode
    explore), and save them with provenance."""
    if expert is None and mode == "expert":
        _refuse_shipped_task_without_expert(task, noise, coverage)
    dataset = api.collect(
        task,
        episodes,
        out=out,
        seed=seed,
        noise=noise,
        coverage=coverage,
        overwrite=overwrite,
        progress=True,
        expert=expert,
        mode=mode,
        steps=steps,
        action_noise=action_noise,
        successful_only=successful_only,
    )
    stats = dataset.statistics()
    parts = [f"{stats['episodes']} episodes", f"{stats['transitions']} steps"]
    if dataset.metadata.get("rejected"):
        parts.append(f"{dataset.metadata['rejected']} unsuccessful ones rejected")
    if "success_rate" in stats:
        parts.append(f"success {stats['success_rate']:.1%}")
    if "return_mean" in stats:
        parts.append(f"return {stats['return_mean']:.2f} ± {stats['return_std']:.2f}")
    console.print(f"wrote {out}: " + ", ".join(parts))


@app.command()
@click.argument("demos", type=click.Path(path_type=Path))
@click.option(
    "--factor",
    type=int,
    default=4,
    show_default=True,
    help="Synthetic episodes to generate per real one.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: .npz, .hdf5, or a folder (Minari layout); never DEMOS itself.",
)
@click.option("--task", "-t", default=None, help="Task (default: the one DEMOS names).")
@click.option(
    "--episodes", type=click.IntRange(min=1), default=None, help="Use the first N episodes."
)
@click.option("--steps", type=int, default=None, help="Training steps of the model (2000).")
@seed_option
@click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Largest planned-vs-simulated state gap, in std units of the demos (1.0).",
)
@click.option(
    "--starts",
    type=click.Choice(["demos", "resets"]),
    default="demos",
    show_default=True,
    help="Where synthetic episodes start: the demos' first states, or fresh task resets "
    "(on a maze: new start/goal pairs).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output dataset.")
@quiet_option
def augment(
    demos: Path,
    factor: int,
    out: Path,
    task: str | None,
    episodes: int | None,
    steps: int | None,
    seed: int,
    tolerance: float | None,
    starts: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Train a trajectory diffusion model on DEMOS and add FACTOR times as many synthetic
    episodes, kept only if the simulator reproduces them (and, on goal tasks, they succeed)."""
    dataset, result = api.augment(
        demos,
        factor,
        out=out,
        task=task,
        episodes=episodes,
        steps=steps,
        seed=seed,
        tolerance=tolerance,
        starts=starts,
        overwrite=overwrite,
        report=None if quiet else lambda line: console.print(line, highlight=False, soft_wrap=True),
    )
    reasons = ", ".join(f"{n} {reason}" for reason, n in result.rejected.items())
    rejected = result.generated - result.kept
    console.print(
        f"generated {result.generated} synthetic episodes from {result.real} real ones "
        f"(training {result.train_seconds:.0f} s, sampling and checks "
        f"{result.sample_seconds:.0f} s): kept {result.kept}, rejected {rejected}"
        + (f" ({reasons})" if reasons else ""),
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"wrote {out}: {len(dataset)} episodes ({result.kept} synthetic), "
        f"{dataset.num_transitions} steps",
        highlight=False,
        soft_wrap=True,
    )


def _refuse_shipped_task_without_expert(
    task: str, noise: float | None, coverage: float | None
) -> None:
    """`collect` on a task that only a trained expert demonstrates, but whose demonstrations diffil
    ships: say where they are, and how to collect with an expert of one's own."""
    from diffil.datasets import shipped_demonstrations
    from diffil.experts import has_scripted_expert
    from diffil.utils.paths import shown_path

    spec = get_task(task, noise=noise, coverage=coverage)  # a bad variant says so first
    shipped = shipped_demonstrations(spec.name)
    if shipped is None or has_scripted_expert(spec):
        return  # a scripted expert collects; without either, api.collect explains
    raise DiffilError(
        f"task {spec.name!r} has no scripted expert; diffil ships its demonstrations at "
        f"{shown_path(shipped)} (`diffil train` uses them when --demos is not given)",
        f"to collect your own, train an expert (`diffil expert train --task {spec.name}`) and "
        "pass --expert RUN (its run directory) or --expert FILE (a policy file)",
    )


def _print_info(info: dict) -> None:
    stats, meta = info["statistics"], info["metadata"]
    table = Table(title=info["path"], show_header=False)
    for key, value in stats.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    shown = ("task", "variant", "env_id", "expert", "action_noise", "successful_only")
    shown += ("attempts", "rejected", "seed", "diffil_version", "created")
    for key in shown:
        if key in meta:
            value = meta[key]
            table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


@data_app.command("info")
@dataset_argument
@click.option("--task", default=None, help="Check against (and flatten for) this task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_info(path: Path, task: str | None, as_json: bool) -> None:
    """Counts, dimensions, return and success statistics, and provenance of PATH."""
    info = api.dataset_info(path, task=task)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        _print_info(info)


@data_app.command("plot")
@dataset_argument
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG path.")
@click.option("--task", default=None, help="Task, if the dataset does not say.")
@click.option("--max-episodes", type=click.IntRange(min=1), default=100, show_default=True)
def data_plot(path: Path, out: Path | None, task: str | None, max_episodes: int) -> None:
    """Save a PNG of PATH's trajectories, over the maze layout for maze tasks."""
    png = api.plot(path, out=out, task=task, max_episodes=max_episodes)
    console.print(f"wrote {png}")


@app.command()
def methods() -> None:
    """List the training methods."""
    from diffil.algorithms.methods import METHODS

    table = Table("method", "kind", "about")
    for method in METHODS.values():
        table.add_row(method.name, method.kind, method.description)
    console.print(table)


@app.command()
@click.argument("method", required=False)
@click.option(
    "--task",
    "-t",
    default=None,
    help="Task name (see `diffil tasks`), gym:ENV_ID for any gymnasium environment, or "
    "module:name for one that module registers (default: the one --demos names).",
)
@click.option(
    "--demos",
    type=click.Path(path_type=Path),
    default=None,
    help="Demonstrations: diffil HDF5/npz, or a Minari dataset (file or folder) "
    "(default: the task's shipped demonstrations, or its scripted expert makes them).",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Environment steps.")
@optional_seed_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory.")
@resume_option("the run")
@device_option
@click.option("--n-envs", type=click.IntRange(min=1), default=None, help="Vectorised envs.")
@click.option(
    "--rl",
    default=None,
    metavar="ALGO",
    help="RL backbone of reward-learning methods: ppo or sac (default: the method's preset).",
)
@click.option(
    "--obs-only",
    is_flag=True,
    default=None,
    help="Learn from observations: the reward model never reads actions.",
)
@click.option(
    "--reward",
    "reward_run",
    type=click.Path(path_type=Path),
    default=None,
    metavar="RUN",
    help="ppo/sac: train a fresh policy on the frozen learned reward of RUN (a run of airl, "
    "drail, smiling, gail, diffail, wail or diffuser-irl) instead of the task's reward; "
    "evaluation still uses the task's success and return. --task defaults to RUN's.",
)
@settings_option("--set ppo.n_steps=128 --set reward.model.lr=1e-4")
@quiet_option
def train(
    method: str | None,
    task: str | None,
    demos: Path | None,
    steps: int | None,
    seed: int | None,
    out: Path | None,
    resume: Path | None,
    device: str | None,
    n_envs: int | None,
    rl: str | None,
    obs_only: bool | None,
    reward_run: Path | None,
    settings: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train METHOD on a task (or continue a run with --resume) into a run directory.

    The diffuser and diffuser-irl methods (mazes) write exploration.hdf5, diffuser.pt and (IRL)
    reward.pt instead of policy.pt; `diffil eval RUN` runs their re-planning planner.
    """
    from diffil.algorithms.run import train as run_training
    from diffil.utils.config import parse_overrides

    if resume is None and (method is None or (task is None and demos is None and not reward_run)):
        raise DiffilError(
            "train needs METHOD and --task (or --demos that name their environment)",
            "e.g. diffil train drail --task pointmaze-umaze",
        )
    if resume is not None and (method or task or demos or settings or rl or obs_only or reward_run):
        raise DiffilError(
            "--resume continues a run with its own config",
            "drop METHOD/--task/--demos/--set/--rl/--obs-only/--reward",
        )
    if demos is not None and not demos.exists():
        raise DiffilError("no such file or folder", "check the --demos path", demos)
    run_training(
        method,
        task,
        demos=demos,
        steps=steps,
        seed=seed,
        out=out,
        resume=resume,
        device=device,
        n_envs=n_envs,
        rl=rl,
        obs_only=obs_only or None,
        reward=reward_run,
        overrides=parse_overrides(list(settings)),
        progress=not quiet,
    )


sampler_option = click.option(
    "--sampler",
    default=None,
    help="Diffusion/flow policies: sample with ddim, ddpm or langevin (diffusion), euler or "
    "midpoint (flow) instead of the trained default.",
)
sample_steps_option = click.option(
    "--sample-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Diffusion/flow policies: DDIM or ODE steps.",
)


def _with_sampler(policy, sampler: str | None, sample_steps: int | None, where: Path):
    """The policy, sampled another way if asked (diffusion and flow policies only)."""
    if sampler is None and sample_steps is None:
        return policy
    if not hasattr(policy, "with_sampler"):
        raise DiffilError(
            f"a {policy.kind} policy has no sampler", "drop --sampler/--sample-steps", where
        )
    try:
        return policy.with_sampler(sampler or policy.model.config.sampler, sample_steps)
    except DiffilError as exc:
        raise exc.at(where) from None


def _load_policy(path: Path):
    from diffil.policy import Policy
    from diffil.runs.run_dir import POLICY, RunDirectory

    if path.is_dir():
        RunDirectory.open(path)  # a clear error if it is not a run directory
    target = path / POLICY if path.is_dir() else path
    if path.is_dir() and not target.exists():
        raise DiffilError(
            f"the run has no {POLICY} yet", "finish it with `diffil train --resume`", path
        )
    return Policy.load(target)


@app.command("eval")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--episodes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=int, default=10_000, show_default=True)
@click.option("--task", default=None, help="Task (default: the one the policy was trained on).")
@click.option(
    "--envs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Environments played in lockstep, the policy acting on their batch (faster for "
    "diffusion and flow policies; draws other episodes than 1).",
)
@click.option(
    "--noise",
    type=float,
    default=None,
    help="Reset-noise scale of the task variant (default: the run's own; 1 = the task's default).",
)
@sampler_option
@sample_steps_option
def evaluate(
    run: Path,
    episodes: int,
    seed: int,
    task: str | None,
    envs: int,
    noise: float | None,
    sampler: str | None,
    sample_steps: int | None,
) -> None:
    """Evaluate the policy of RUN (a run directory or policy file): return and success.

    For a diffuser or diffuser-irl run, the re-planning planner (its Diffuser, guided by its
    learned reward) is evaluated (on one environment).
    """
    from diffil.eval.evaluate import evaluate_policy, format_evaluation

    if _planner_run(run):
        _evaluate_planner(run, episodes, seed, task, noise)
        return
    policy = _with_sampler(_load_policy(run), sampler, sample_steps, run)
    name = task or policy.metadata.get("task")
    if not name:
        raise DiffilError("the policy does not say which task it is for", "pass --task", run)
    # a gym: task comes back from the env spec its policy recorded (arguments, registration)
    env_spec = None if task else policy.metadata.get("env_spec")
    noise = _variant_noise(noise, task, (policy.metadata.get("variant") or {}).get("noise"))
    spec = restore_task(name, env_spec, noise=noise)
    if (spec.obs_dim, spec.act_dim) != (policy.obs_dim, policy.act_dim):
        raise DiffilError(
            f"policy dims ({policy.obs_dim}, {policy.act_dim}) do not match task {name!r} "
            f"({spec.obs_dim}, {spec.act_dim})",
            "pass the task the policy was trained on",
            run,
        )
    result = evaluate_policy(spec, policy, episodes, seed=seed, progress=True, num_envs=envs)
    for member, own in result.get("tasks", {}).items():  # a multi-task policy: each task, mean
        console.print(f"{member}: " + format_evaluation(own))
    console.print(f"{name}: " + format_evaluation(result))


def _variant_noise(noise: float | None, task: str | None, recorded: float | None) -> float | None:
    """The reset-noise scale to evaluate at: ``--noise`` if given, else the run's own variant.

    With ``--task`` (another task than the run's), the task's default variant.
    """
    if noise is not None or task:
        return noise
    if recorded is not None and recorded != 1.0:
        console.print(f"evaluating at the run's reset-noise scale {recorded:g} (--noise to change)")
    return recorded


def _planner_run(run: Path) -> bool:
    """Whether ``run`` is the run directory of a diffuser or diffuser-irl method."""
    from diffil.algorithms.config import read_run_config
    from diffil.algorithms.methods import get_method

    if not (run.is_dir() and (run / "config.yaml").is_file()):
        return False
    return get_method(read_run_config(run).method).plans


def _evaluate_planner(
    run: Path, episodes: int, seed: int, task: str | None, noise: float | None
) -> None:
    from diffil.algorithms.config import read_run_config
    from diffil.algorithms.planning import make_planner
    from diffil.eval.evaluate import evaluate_policy, format_evaluation

    config = read_run_config(run)
    name = task or config.task
    planner = make_planner(run)
    spec = get_task(name, noise=_variant_noise(noise, task, config.noise))
    if spec.obs_dim != planner.diffuser.obs_dim or spec.act_dim != planner.diffuser.act_dim:
        raise DiffilError(
            f"the planner's dims do not match task {name!r}", "pass the run's own task", run
        )
    result = evaluate_policy(spec, planner, episodes, seed=seed, progress=True)
    console.print(f"{name} (re-planning planner): " + format_evaluation(result))


@app.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "torchscript", "diffil"]),
    default="onnx",
    show_default=True,
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output file.")
@sampler_option
@sample_steps_option
def export(
    run: Path, fmt: str, out: Path | None, sampler: str | None, sample_steps: int | None
) -> None:
    """Export the policy of RUN to run outside diffil (ONNX, TorchScript, or diffil's format).

    The output defaults to RUN/policy.onnx, policy.ts.pt or policy.export.pt; the trained
    policy.pt is never overwritten. Diffusion and flow policies export as (obs_history, noise)
    -> action chunk; ONNX needs a deterministic sampler (ddim, euler, midpoint), TorchScript
    takes any.

    A diffuser-irl run exports its learned reward (obs, action) -> r_phi(s, a), to
    RUN/reward.onnx or reward.ts.pt. Its planner is not exported: guided sampling takes the
    reward's gradient at every denoising step, which neither format captures; diffuser.pt and
    reward.pt load with diffil.planning.Diffuser.load and PlanReward.load, and
    diffil.algorithms.planning.make_planner(RUN) rebuilds the planner.
    """
    from diffil.policy import export_policy

    if _planner_run(run):
        from diffil.algorithms.planning import export_learned_reward

        console.print(f"wrote {export_learned_reward(run, fmt, out)}")
        return

    policy = _with_sampler(_load_policy(run), sampler, sample_steps, run)
    target = _export_target(run, fmt, out)
    console.print(f"wrote {export_policy(policy, target, fmt)}")


def _export_target(run: Path, fmt: str, out: Path | None) -> Path:
    """Where ``diffil export`` writes: ``out``, or beside the policy it reads; never over that
    policy, nor over any run directory's trained policy.pt."""
    from diffil.runs.run_dir import CONFIG, POLICY

    source = run / POLICY if run.is_dir() else run
    if out is None:
        suffix = {"onnx": ".onnx", "torchscript": ".ts.pt", "diffil": ".export.pt"}[fmt]
        base = source.with_suffix("")
        out = base.with_name(base.name + suffix)
    trained = out.name == POLICY and (out.parent / CONFIG).is_file()
    if trained or (out.exists() and out.resolve() == source.resolve()):
        raise DiffilError(
            "is the trained policy, which export never overwrites",
            "choose another --out",
            out,
        )
    return out


@app.command("reward-map")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG path.")
@click.option("--resolution", type=click.IntRange(min=8), default=60, show_default=True)
def reward_map(run: Path, out: Path | None, resolution: int) -> None:
    """Heatmap of RUN's learned reward r(s, pi(s)) over maze positions."""
    from diffil.algorithms.reward_map import plot_maze_reward

    png = plot_maze_reward(run, out or run / "reward_map.png", resolution=resolution)
    console.print(f"wrote {png}")


@app.command("reward-eval")
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--metric",
    type=click.Choice(["erc", "epic"]),
    default="erc",
    show_default=True,
    help="erc: Pearson distance of episode returns; epic: of canonically shaped rewards.",
)
@click.option(
    "--pieces", type=click.IntRange(min=2), default=100, show_default=True,
    help="Coverage set: pieces of reward-agnostic maze exploration.",
)  # fmt: skip
@click.option("--piece-steps", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the coverage set.")
def reward_eval(run: Path, metric: str, pieces: int, piece_steps: int, seed: int) -> None:
    """How close RUN's learned reward is to the task's true reward (ERC or EPIC, in [0, 1]; 0 =
    equivalent), on a coverage set of exploration pieces (maze tasks)."""
    from diffil.algorithms.reward_transfer import load_learned_reward
    from diffil.eval.reward_metrics import compare_to_task_reward, task_reward
    from diffil.experts.collect import maze_coverage

    learned = load_learned_reward(run)
    task_reward(learned.task)  # a task without a true reward of (s, a, s') says so first
    coverage = maze_coverage(get_task(learned.task), pieces, piece_steps, seed)
    value = compare_to_task_reward(learned.function(), learned.task, coverage, metric, seed=seed)
    console.print(
        f"{learned.method} reward on {learned.task}: {metric.upper()} {value:.4f} "
        f"({pieces} exploration pieces of {piece_steps} steps, seed {seed})"
    )


@app.group("expert")
def expert_app() -> None:
    """Train and evaluate RL experts (SAC, TD3, PPO) on a task's true reward."""


@expert_app.command("train")
@click.option("--task", "-t", default=None, help="Task name (see `diffil tasks`).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Env steps (default 1M).")
@optional_seed_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory (experts/TASK-sS)."
)
@resume_option("the expert run")
@click.option("--algo", default=None, help="sac (default), td3 or ppo.")
@device_option
@settings_option("--set learning_starts=1000 --set net_arch=[64,64]")
@quiet_option
def expert_train(
    task: str | None,
    steps: int | None,
    seed: int | None,
    out: Path | None,
    resume: Path | None,
    algo: str | None,
    device: str | None,
    settings: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train an expert on TASK's true reward (or continue one with --resume)."""
    from diffil.utils.config import parse_overrides

    if resume is not None and out is not None:
        raise DiffilError("--resume continues the run where it is", "drop --out")
    result = api.train_expert(
        task,
        algo=algo,
        steps=steps,
        seed=seed,
        out=out,
        resume=resume,
        device=device,
        overrides=parse_overrides(list(settings)),
        progress=not quiet,
    )
    if quiet:
        click.echo(f"{result.run_dir}: best return {result.best['return_mean']:.1f}")


@expert_app.command("eval")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--episodes", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=10_000, show_default=True)
def expert_eval(run: Path, episodes: int, seed: int) -> None:
    """Evaluate the expert RUN (a run directory, meaning its best.pt, or a policy file)."""
    from diffil.eval.evaluate import format_evaluation
    from diffil.experts.rl_expert import evaluate_expert

    expert, result = evaluate_expert(run, episodes=episodes, seed=seed, progress=True)
    info = expert.provenance
    steps = f", {info['env_steps']:,} env steps" if info.get("env_steps") is not None else ""
    label = f"{info['task']} ({expert.path}, {info['algo']}{steps})"
    console.print(f"{label}: {format_evaluation(result)}")


@app.group("demo")
def demo_app() -> None:
    """Small self-contained demonstrations of the methods."""


@demo_app.command("sine")
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/sine"), show_default=True)
@click.option("--updates", type=click.IntRange(min=1), default=3000, show_default=True)
@seed_option
def demo_sine(out: Path, updates: int, seed: int) -> None:
    """DRAIL's 1-D toy: GAIL's and DRAIL's reward surfaces side by side, with their slopes."""
    from diffil.toys import run_sine_toy

    result = run_sine_toy(out, updates=updates, seed=seed)
    click.echo(json.dumps(result, indent=2, default=str))


@demo_app.command("modes")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("out/modes"), show_default=True
)
@click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--episodes", type=click.IntRange(min=1), default=50, show_default=True)
@seed_option
def demo_modes(out: Path, steps: int, episodes: int, seed: int) -> None:
    """Two-mode toy: MLP BC averages the expert's modes, diffusion and flow policies keep both."""
    import torch

    from diffil.toys.two_modes import run_two_modes

    torch.set_num_threads(1)
    result = run_two_modes(steps=steps, episodes=episodes, seed=seed, out=out / "modes.png")
    for name, f in result.fractions.items():
        console.print(
            f"{name:>10}: left {f['left']:.0%}  right {f['right']:.0%}  blocked {f['blocked']:.0%}"
        )
    console.print(f"wrote {out / 'modes.png'}")


@app.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Learning-curve PNG.")
def compare(runs: tuple[Path, ...], plot: Path | None) -> None:
    """Compare finished RUNS: final success/return, budget, and when they reached 90%."""
    click.echo(api.compare(list(runs), plot))
    if plot is not None:
        console.print(f"wrote {plot}")


@app.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("out/quickstart"), show_default=True
)
@click.option("--task", "-t", default="pointmaze-umaze", show_default=True)
@click.option("--episodes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Environment steps per online method.",
)
@click.option(
    "--coverage",
    type=click.FloatRange(min=0.0, max=1.0, min_open=True),
    default=0.5,
    show_default=True,
    help="Fraction of start/goal cells the demonstrations (and training) cover.",
)
@click.option(
    "--action-noise",
    type=click.FloatRange(min=0.0),
    default=0.5,
    show_default=True,
    help="Std of the noise on the expert's actions (successful episodes kept); 0: clean.",
)
@seed_option
def quickstart(
    out: Path, task: str, episodes: int, seed: int, steps: int, coverage: float, action_noise: float
) -> None:
    """diffil's main job: make maze demos, train DRAIL, GAIL and BC on them, compare them.

    By default the demos follow reference 000's maze protocol (noisy expert, successful
    episodes, half of the start/goal cells), where BC falls behind; --coverage 1
    --action-noise 0 gives clean demos of every cell.
    """
    info = api.quickstart(
        out,
        task=task,
        episodes=episodes,
        seed=seed,
        steps=steps,
        coverage=coverage,
        action_noise=action_noise,
    )
    _print_info(info)
    console.print(f"demonstrations plot: {info['plot']}")
    console.print("")
    click.echo(info["comparison"])
    console.print(f"learning curves: {info['learning_curves']}")
    if "reward_map" in info:
        console.print(f"DRAIL's learned reward over the maze: {info['reward_map']}")


@app.group("bench")
def bench_app() -> None:
    """Benchmark suites: tasks x methods x seeds x regimes, with statistics and a report."""


def _split_list(value: str | None, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise DiffilError(
            f"--{what} is empty",
            f"pass e.g. --{what} " + ("drail,bc" if what == "methods" else "0,1"),
        )
    return items


@bench_app.command("list")
def bench_list() -> None:
    """List the shipped suites."""
    from diffil.bench import load_suite, shipped_suites

    table = Table(Column("suite", no_wrap=True), "cells", "about")
    for name in shipped_suites():
        suite = load_suite(name)
        shape = (
            f"{len(suite.tasks)} task(s) x {len(suite.regimes)} regimes "
            f"({', '.join(r.name for r in suite.regimes)}) x {len(suite.methods)} methods x "
            f"{len(suite.seeds)} seeds"
        )
        table.add_row(name, str(len(suite.cells())), f"{suite.description}; {shape}")
    console.print(table)
    console.print("run one: diffil bench run SUITE (a name above, or a suite YAML file)")


@bench_app.command("run")
@click.argument("suite")
@click.option("--methods", default=None, help="Comma-separated subset of the suite's methods.")
@click.option("--tasks", default=None, help="Comma-separated subset of the suite's tasks.")
@click.option(
    "--regimes", default=None, help="Comma-separated subset of the suite's regimes (levels)."
)
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the suite's).")
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Env steps of online methods."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Bench folder (default: bench/SUITE).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Local worker processes (one torch thread each).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="Run the cells as Ray tasks: on this machine, or on the cluster at ADDRESS.",
)
@click.option(
    "--reuse",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    multiple=True,
    help="A bench folder (or pack) whose finished cells with the same config and "
    "demonstrations are copied in instead of trained; repeatable.",
)
def bench_run(
    suite: str,
    methods: str | None,
    tasks: str | None,
    regimes: str | None,
    seeds: str | None,
    steps: int | None,
    out: Path | None,
    workers: int,
    ray_address: str | None,
    reuse: tuple[Path, ...],
) -> None:
    """Train every cell of SUITE (a shipped name or a YAML file) into --out; finished cells
    are reused, interrupted ones resume, failed ones are recorded and the rest go on."""
    from diffil.bench import load_suite, run_suite

    chosen = load_suite(suite)
    seed_list = _split_list(seeds, "seeds")
    try:
        seed_values = None if seed_list is None else [int(s) for s in seed_list]
    except ValueError:
        raise DiffilError(
            f"--seeds takes integers, got {seeds!r}", "pass e.g. --seeds 0,1,2"
        ) from None
    chosen = chosen.select(
        _split_list(methods, "methods"),
        seed_values,
        steps,
        _split_list(tasks, "tasks"),
        _split_list(regimes, "regimes"),
    )
    target = out or Path("bench") / chosen.name
    summary = run_suite(
        chosen,
        target,
        workers=workers,
        use_ray=ray_address is not None,
        ray_address=ray_address or None,
        reuse=list(reuse),
        say=lambda line: console.print(line, highlight=False, soft_wrap=True),
    )
    failed = summary.failed
    console.print(
        f"{len(summary.outcomes) - len(failed)} cells finished ({summary.count('reused')} "
        f"reused, {summary.count('copied')} copied), {len(failed)} failed, in "
        f"{summary.seconds:.0f} s; report: diffil bench report {target}",
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        raise click.exceptions.Exit(1)


@bench_app.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="HTML file (FOLDER/report.html)."
)
def bench_report(folder: Path, out: Path | None) -> None:
    """Write the report of a bench folder: HTML, its Markdown twin and the numbers as JSON."""
    from diffil.bench.report import build_report

    report = build_report(folder, out)
    console.print(f"wrote {report.html}, {report.markdown.name} and {report.json.name}")


@bench_app.command("pack")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the packed cells (an earlier pack of the same suite is brought up to date).",
)
def bench_pack(folder: Path, out: Path) -> None:
    """Copy the finished cells of a bench folder, small files only (config, final and periodic
    evaluations), into a bench folder that can be kept in a repository: `bench report` reads it,
    and a `bench run` into a copy of it reuses its cells and trains the rest."""
    from diffil.bench.pack import pack_bench

    manifest = pack_bench(folder, out)
    console.print(
        f"packed {len(manifest['cells'])} finished cells into {out}; report: diffil bench "
        f"report {out}; to add cells elsewhere: copy {out} and pass the copy as --out",
        highlight=False,
        soft_wrap=True,
    )


def _terminate_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diffil`` console script; returns the exit status.

    SIGTERM (``kill PID``, a scheduler's preemption, ``docker stop``) stops a command the way
    Ctrl-C does, so training saves its checkpoint. Jobs started with ``&`` from a script ignore
    Ctrl-C's SIGINT, which leaves ``kill`` as the way to stop them."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate_like_ctrl_c) if on_main_thread else None
    try:
        return _run(argv)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _run(argv: list[str] | None) -> int:
    global _debug
    _debug = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    try:
        app.main(args=argv, prog_name="diffil", standalone_mode=False)
    except DiffilError as err:
        if _debug:
            traceback.print_exc()
        print(f"diffil: error: {err}", file=sys.stderr)
        return err.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("diffil: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unforeseen failure: still one line unless --debug
        if _debug:
            traceback.print_exc()
        hint = "" if _debug else " (run with --debug for the traceback)"
        print(f"diffil: error: {describe(exc)}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
