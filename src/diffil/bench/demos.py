"""The demonstrations of a suite's cells: made once per (task, regime settings) and shared.

Tasks with a scripted expert (the mazes) get one dataset per task, coverage, reset noise and
demonstration noise, saved as ``OUT/data/<key>.hdf5``; regimes that differ only in how many
demonstrations they use share it and take its first ``demos`` episodes (nested subsets, the
usual data-efficiency protocol). Every seed of a regime trains on the same demonstrations.
Other tasks use diffil's shipped demonstrations (``demos`` of them).

A regime with ``augment: K`` trains on its first ``demos`` real episodes plus up to ``K`` times as
many synthetic ones that `diffil augment` made from them and the simulator confirmed:
``OUT/data/<real file's stem>-first<demos>-aug<K>[-steps<N>][-resets].hdf5``, made once per task and
regime settings (seed 0) and shared by every method and seed. What the generator kept and
rejected is recorded in ``bench.json`` under ``demonstrations`` for the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffil.bench.suite import Cell, Regime, Suite
from diffil.envs.task import task_file_stem

DATA_DIR = "data"
DEMOS_SEED = 100_000  # the seed `diffil train` gives the scripted expert of a seed-0 run
AUGMENT_SEED = 0  # one synthetic set per regime: every seed trains on the same demonstrations


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
        count = cell.regime.demos or resolve_config(cell.base_method, cell.task).num_demos
        sizes[source] = max(sizes.get(source, 0), count)
    return sizes


def real_demos_path(out: Path, cell: Cell) -> Path | None:
    """The real demonstrations of ``cell``: the suite's collected file, or None for tasks that
    use shipped demonstrations."""
    if not needs_collection(cell.task):
        return None
    return out / DATA_DIR / DemoSource.of(cell.task, cell.regime).file_name


@dataclass(frozen=True)
class Augmentation:
    """A regime's synthetic demonstrations: made from the first ``episodes`` of ``real``."""

    task: str
    real: Path
    episodes: int
    factor: int
    steps: int | None
    starts: str

    @classmethod
    def of(cls, out: Path, cell: Cell) -> Augmentation | None:
        regime = cell.regime
        if not regime.augment:
            return None
        real = real_demos_path(out, cell)
        if real is None:
            from diffil.datasets import shipped_path

            real = shipped_path(cell.task)
        assert regime.demos is not None  # Regime.validate: augment needs demos
        return cls(
            cell.task,
            real,
            regime.demos,
            regime.augment,
            regime.augment_steps,
            regime.augment_starts,
        )

    @property
    def file_name(self) -> str:
        steps = "" if self.steps is None else f"-steps{self.steps}"
        starts = "" if self.starts == "demos" else f"-{self.starts}"
        return f"{self.real.stem}-first{self.episodes}-aug{self.factor}{steps}{starts}.hdf5"


# metadata two collections of the same demonstrations differ in: the provenance's creation time,
# and the dataset id, which files written before 2026-12-03 took from their temporary file's name
VOLATILE = ("created", "dataset_id")


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    return value


def demos_digest(path: Path) -> str:
    """SHA-256 of a demonstrations file's content: every array and attribute of an HDF5 file
    (less the creation time and dataset id, so one collection made twice digests the same); the
    bytes of any other file."""
    import h5py
    import numpy as np

    digest = hashlib.sha256()
    if not h5py.is_hdf5(path):
        digest.update(path.read_bytes())
        return digest.hexdigest()

    def attributes(obj: Any) -> None:
        for key in sorted(obj.attrs):
            value = obj.attrs[key]
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.dumps(_without_volatile(json.loads(value)), sort_keys=True)
            digest.update(f"@{key}={np.asarray(value).tolist()!r}".encode())

    with h5py.File(path, "r") as f:
        attributes(f)
        names: list[str] = []
        f.visit(names.append)
        for name in sorted(names):
            obj = f[name]
            digest.update(f"/{name}".encode())
            attributes(obj)
            if isinstance(obj, h5py.Dataset):
                data = np.asarray(obj[()])
                digest.update(f"{data.dtype.str}{data.shape}".encode())
                digest.update(data.tobytes() if data.dtype.kind != "O" else repr(data).encode())
    return digest.hexdigest()


def merge_records(
    recorded: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], where: Path
) -> dict[str, dict[str, Any]]:
    """``recorded`` updated with ``new`` (dataset records by file name: episodes and content
    digest, as bench.json keeps them under ``data``). A dataset with as many episodes as recorded
    but another digest is not what the recorded cells trained on: one-line error. A record with
    more episodes (collected again, larger) replaces the old one."""
    from diffil.errors import DiffilError

    merged = dict(recorded)
    for name, record in new.items():
        before = recorded.get(name)
        same_size = before and before.get("episodes") == record.get("episodes")
        if same_size and before.get("digest") != record.get("digest"):
            raise DiffilError(
                f"{name} holds other demonstrations than the ones the recorded cells trained on "
                "(their digest is in bench.json under data); the expert or its settings changed",
                "train into a new --out, or delete the cells of that regime",
                where,
            )
        merged[name] = record
    return merged


def check_recorded(
    out: Path, sources: dict[DemoSource, int], recorded: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Compare each collected dataset of ``out`` with the record of an earlier run into it and
    return the updated record (:func:`merge_records`): a dataset made again, e.g. in a copy of a
    pack, which holds no demonstrations, must have the content the earlier cells trained on."""
    from diffil.data.io import load_dataset

    found = {}
    for source in sources:
        path = out / DATA_DIR / source.file_name
        found[source.file_name] = {
            "episodes": len(load_dataset(path)),
            "digest": demos_digest(path),
        }
    return merge_records(recorded, found, out)


def demos_path(out: Path, cell: Cell) -> Path | None:
    """The dataset file ``cell`` trains on; None for tasks that use shipped demonstrations
    (unless the regime augments them)."""
    augmentation = Augmentation.of(out, cell)
    if augmentation is not None:
        return out / DATA_DIR / augmentation.file_name
    return real_demos_path(out, cell)


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


def ensure_augmented(
    out: Path, cells: list[Cell], say: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Make each missing synthetic set the ``cells`` need (after :func:`ensure_demonstrations`);
    returns what each set's generator kept and rejected, by file name (read from the files, so
    sets made by an earlier run are described too)."""
    from diffil.api import augment
    from diffil.data.io import load_dataset
    from diffil.envs.registry import get_task

    made: dict[str, dict[str, Any]] = {}
    for cell in cells:
        augmentation = Augmentation.of(out, cell)
        if augmentation is None:
            continue
        if augmentation.file_name in made:
            regimes = made[augmentation.file_name]["regimes"]
            if cell.regime.name not in regimes:
                regimes.append(cell.regime.name)
            continue
        path = out / DATA_DIR / augmentation.file_name
        if not path.exists():
            regime = cell.regime
            say(
                f"augmenting {augmentation.episodes} demonstrations of {cell.task} "
                f"({augmentation.real.name}) x{augmentation.factor}: {path.name}"
            )
            task = get_task(cell.task, noise=regime.demo_variant_noise, coverage=regime.coverage)
            augment(
                augmentation.real,
                factor=augmentation.factor,
                out=path,
                task=task,
                episodes=augmentation.episodes,
                steps=augmentation.steps,
                starts=augmentation.starts,
                seed=AUGMENT_SEED,
                report=say,
            )
        record = load_dataset(path).metadata.get("augmentation") or {}
        made[path.name] = {
            "task": cell.task,
            "regimes": [cell.regime.name],
            "real": augmentation.episodes,
            "factor": augmentation.factor,
            "starts": augmentation.starts,
            **{
                k: record.get(k)
                for k in ("generated", "kept", "rejected", "tolerance", "state_gap_median")
            },
            "train_steps": (record.get("generator") or {}).get("train_steps"),
        }
    return made
