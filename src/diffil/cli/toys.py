"""``diffil demo``: the small self-contained toys of the references."""

from __future__ import annotations

import json
from pathlib import Path

import click

from diffil.cli.common import console, seed_option


@click.group("demo")
def demo_group() -> None:
    """Small self-contained demonstrations of the methods."""


@demo_group.command("sine")
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/sine"), show_default=True)
@click.option("--updates", type=click.IntRange(min=1), default=3000, show_default=True)
@seed_option
def demo_sine(out: Path, updates: int, seed: int) -> None:
    """DRAIL's 1-D toy: GAIL's and DRAIL's reward surfaces side by side, with their slopes."""
    from diffil.toys import run_sine_toy

    result = run_sine_toy(out, updates=updates, seed=seed)
    click.echo(json.dumps(result, indent=2, default=str))


@demo_group.command("modes")
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
