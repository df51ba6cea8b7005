"""``diffil train``, ``quickstart`` and ``compare``: training runs and comparing them."""

from __future__ import annotations

from pathlib import Path

import click

from diffil import api
from diffil.cli.common import (
    console,
    device_option,
    optional_seed_option,
    print_dataset_info,
    quiet_option,
    resume_option,
    seed_option,
    settings_option,
)
from diffil.errors import DiffilError
from diffil.utils.config import parse_overrides


@click.command()
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


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Learning-curve PNG.")
def compare(runs: tuple[Path, ...], plot: Path | None) -> None:
    """Compare finished RUNS: final success/return, budget, and when they reached 90%."""
    click.echo(api.compare(list(runs), plot))
    if plot is not None:
        console.print(f"wrote {plot}")


@click.command()
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
    help="Fraction of start/goal cells the demonstrations cover (training: every cell).",
)
@click.option(
    "--action-noise",
    type=click.FloatRange(min=0.0),
    default=0.5,
    show_default=True,
    help="Std of the noise on the expert's actions (successful episodes kept); 0: clean.",
)
@seed_option
@settings_option("--set eval.final_episodes=20 (every method's run)")
def quickstart(
    out: Path,
    task: str,
    episodes: int,
    seed: int,
    steps: int,
    coverage: float,
    action_noise: float,
    settings: tuple[str, ...],
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
        overrides=parse_overrides(list(settings)),
    )
    print_dataset_info(info)
    console.print(f"demonstrations plot: {info['plot']}")
    console.print("")
    click.echo(info["comparison"])
    console.print(f"learning curves: {info['learning_curves']}")
    if "reward_map" in info:
        console.print(f"DRAIL's learned reward over the maze: {info['reward_map']}")
