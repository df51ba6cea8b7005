"""What the ``diffil`` subcommands share: the console they print to, their common options, and
small helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from diffil.errors import DiffilError

# soft_wrap: a result is one line however wide the terminal (rich would break it at 80 columns
# when the output is a pipe or a file)
console = Console(soft_wrap=True)

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


def print_dataset_info(info: dict) -> None:
    """A dataset's statistics and provenance (``diffil data info``, the quickstart) as a table."""
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


def split_list(value: str | None, what: str) -> list[str] | None:
    """A comma-separated option's items; None when the option was not given."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise DiffilError(
            f"--{what} is empty",
            f"pass e.g. --{what} " + ("drail,bc" if what == "methods" else "0,1"),
        )
    return items
