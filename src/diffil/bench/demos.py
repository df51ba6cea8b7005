"""The demonstrations of a suite's cells: made once per (task, regime settings) and shared.

Tasks with a scripted expert (the mazes) get one dataset per task, coverage, reset noise and
demonstration noise, saved as ``OUT/data/<key>.hdf5``; regimes that differ only in how many
demonstrations they use share it and take its first ``demos`` episodes (nested subsets, the
usual data-efficiency protocol). Every seed of a regime trains on the same demonstrations.
Other tasks use diffil's shipped demonstrations (``demos`` of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diffil.bench.suite import Cell, Regime, Suite
from diffil.envs.task import task_file_stem

DATA_DIR = "data"
DEMOS_SEED = 100_000  # the seed `diffil train` gives the scripted expert of a seed-0 run


@dataclass(frozen=True)
class DemoSource:
    """What a dataset depends on: the task variant and how the expert acts."""

    task: str
    coverage: float
    reset_noise: float  # the task variant's reset-noise scale the expert demonstrates at
    demo_noise: float
    successful_only: bool

    @classmethod
    def of(cls, task: str, regime: Regime) -> DemoSource:
        return cls(
            task,
            regime.coverage,
            regime.demo_variant_noise,
            regime.demo_noise,
            regime.successful_only,
        )

    @property
    def file_name(self) -> str:
        name = f"{task_file_stem(self.task)}-cov{self.coverage:g}-noise{self.reset_noise:g}"
        if self.demo_noise > 0:
            name += f"-act{self.demo_noise:g}"
        if self.successful_only:
            name += "-successful"
        return name + ".hdf5"


def needs_collection(task: str) -> bool:
    """Whether the suite makes this task's demonstrations (it has a scripted expert)."""
    from diffil.envs.registry import get_task
    from diffil.experts import has_scripted_expert

    return has_scripted_expert(get_task(task))


def demo_sources(suite: Suite, cells: list[Cell]) -> dict[DemoSource, int]:
    """The datasets ``cells`` need, each with the most episodes any of its regimes uses."""
    from diffil.algorithms.config import resolve_config

    sizes: dict[DemoSource, int] = {}
    for cell in cells:
        if not needs_collection(cell.task):
            continue
        source = DemoSource.of(cell.task, cell.regime)
        count = cell.regime.demos or resolve_config(cell.method, cell.task).num_demos
        sizes[source] = max(sizes.get(source, 0), count)
    return sizes


def demos_path(out: Path, cell: Cell) -> Path | None:
    """The dataset file ``cell`` trains on; None for tasks that use shipped demonstrations."""
    if not needs_collection(cell.task):
        return None
    return out / DATA_DIR / DemoSource.of(cell.task, cell.regime).file_name


def ensure_demonstrations(
    out: Path, sources: dict[DemoSource, int], say: Callable[[str], None] = print
) -> None:
    """Collect each missing dataset (or one with too few episodes) under ``out/data``."""
    from diffil.data.io import load_dataset, save_dataset
    from diffil.envs.registry import get_task
    from diffil.experts.collect import collect_demonstrations

    folder = out / DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for source, episodes in sources.items():
        path = folder / source.file_name
        if path.exists() and len(load_dataset(path)) >= episodes:
            continue
        task = get_task(source.task, noise=source.reset_noise, coverage=source.coverage)
        # the demo options of issue 17 are passed only when a regime sets them
        options: dict[str, object] = {}
        if source.demo_noise > 0:
            options["action_noise"] = source.demo_noise
        if source.successful_only:
            options["successful_only"] = True
        say(f"collecting {episodes} demonstrations: {path.name}")
        dataset = collect_demonstrations(task, episodes, seed=DEMOS_SEED, **options)
        save_dataset(dataset, path, task=task, overwrite=True)  # atomic: no half-written file
