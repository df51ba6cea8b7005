"""``diffil eval``, ``export``, ``reward-map`` and ``reward-eval``: what is done with a finished
run directory (or policy file)."""

from __future__ import annotations

from pathlib import Path

import click

from diffil.cli.common import console, sample_steps_option, sampler_option
from diffil.envs.registry import get_task, restore_task
from diffil.errors import DiffilError


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


@click.command("eval")
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


@click.command()
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


@click.command("reward-map")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG path.")
@click.option("--resolution", type=click.IntRange(min=8), default=60, show_default=True)
def reward_map(run: Path, out: Path | None, resolution: int) -> None:
    """Heatmap of RUN's learned reward r(s, pi(s)) over maze positions."""
    from diffil.algorithms.reward_map import plot_maze_reward

    png = plot_maze_reward(run, out or run / "reward_map.png", resolution=resolution)
    console.print(f"wrote {png}")


@click.command("reward-eval")
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
