"""``diffil expert``: RL experts trained on a task's true reward."""

from __future__ import annotations

from pathlib import Path

import click

from diffil import api
from diffil.cli.common import (
    console,
    device_option,
    optional_seed_option,
    quiet_option,
    resume_option,
    settings_option,
)
from diffil.errors import DiffilError


@click.group("expert")
def expert_group() -> None:
    """Train and evaluate RL experts (SAC, TD3, PPO) on a task's true reward."""


@expert_group.command("train")
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


@expert_group.command("eval")
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
