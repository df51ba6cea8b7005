"""``diffil tasks``, ``methods``, ``collect``, ``augment`` and ``data``: what there is to train on,
and making and inspecting demonstrations."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Column, Table

from diffil import api
from diffil.cli.common import (
    console,
    coverage_option,
    dataset_argument,
    noise_option,
    print_dataset_info,
    quiet_option,
    seed_option,
    task_option,
)
from diffil.envs.registry import get_task, list_tasks
from diffil.errors import DiffilError


@click.group("data")
def data_group() -> None:
    """Inspect demonstration datasets."""


@click.command()
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


@click.command()
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


@click.command()
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


@data_group.command("info")
@dataset_argument
@click.option("--task", default=None, help="Check against (and flatten for) this task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_info(path: Path, task: str | None, as_json: bool) -> None:
    """Counts, dimensions, return and success statistics, and provenance of PATH."""
    info = api.dataset_info(path, task=task)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        print_dataset_info(info)


@data_group.command("plot")
@dataset_argument
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG path.")
@click.option("--task", default=None, help="Task, if the dataset does not say.")
@click.option("--max-episodes", type=click.IntRange(min=1), default=100, show_default=True)
def data_plot(path: Path, out: Path | None, task: str | None, max_episodes: int) -> None:
    """Save a PNG of PATH's trajectories, over the maze layout for maze tasks."""
    png = api.plot(path, out=out, task=task, max_episodes=max_episodes)
    console.print(f"wrote {png}")


@click.command()
def methods() -> None:
    """List the training methods."""
    from diffil.algorithms.methods import METHODS

    table = Table("method", "kind", "about")
    for method in METHODS.values():
        table.add_row(method.name, method.kind, method.description)
    console.print(table)
