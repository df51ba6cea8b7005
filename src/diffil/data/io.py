"""Save and load demonstration datasets; the format follows the path.

* ``*.npz``: numpy archive (see :mod:`diffil.data.npz_format`);
* ``*.hdf5`` / ``*.h5``: one HDF5 file with Minari's episode groups;
* anything else: a Minari dataset folder (``<path>/data/main_data.hdf5`` + ``metadata.json``),
  loadable with ``minari.MinariDataset(path / "data")`` or, placed under
  ``$MINARI_DATASETS_PATH``, with ``minari.load_dataset(name)``.

Writes go to a temporary sibling that is renamed into place, so an interrupted or failed write
never leaves a half-written dataset, and an existing one is replaced only when asked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from os import PathLike
from pathlib import Path

from diffil.data import minari_format, npz_format
from diffil.data.trajectory import TrajectoryDataset
from diffil.data.validation import validate_dataset
from diffil.envs.registry import TaskSpec, get_task
from diffil.errors import DiffilError, reading
from diffil.utils.files import write_atomically

_FILE_SUFFIXES = {".npz": "npz", ".hdf5": "hdf5", ".h5": "hdf5"}
_RECREATE = "re-create it with `diffil collect`, or check that it is the right file"


def dataset_format(path: str | PathLike) -> str:
    """'npz', 'hdf5' (single file) or 'minari' (dataset folder), from the path."""
    return _FILE_SUFFIXES.get(Path(path).suffix.lower(), "minari")


def _task_for(dataset: TrajectoryDataset, task: TaskSpec | str | None) -> TaskSpec | None:
    if task is not None:
        return get_task(task)
    if dataset.task:
        return get_task(dataset.task, **(dataset.metadata.get("variant") or {}))
    return None


def save_dataset(
    dataset: TrajectoryDataset,
    path: str | PathLike,
    task: TaskSpec | str | None = None,
    overwrite: bool = False,
) -> Path:
    """Validate ``dataset`` and write it atomically to ``path``; returns the path."""
    path = Path(path)
    spec = _task_for(dataset, task)
    validate_dataset(dataset, spec, where=path)
    check_writable(path, overwrite)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    fmt = dataset_format(path)
    if fmt == "npz":
        write_atomically(path, lambda tmp: npz_format.write_npz(dataset, tmp))
    elif fmt == "hdf5":
        # the dataset id is the final file's name, not the temporary file's
        write_atomically(
            path, lambda tmp: minari_format.write_hdf5_file(dataset, tmp, spec, path.stem)
        )
    else:
        _atomic_dir(path, lambda tmp: minari_format.write_minari_dir(dataset, tmp, spec, path.name))
    return path


def check_writable(path: str | PathLike, overwrite: bool) -> None:
    """Refuse to replace an existing output unless ``overwrite``, and even then anything that is
    not recognisably a dataset in the path's format (a folder of other files, a source tree)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if not overwrite:
        raise DiffilError(
            "already exists", "choose another path, or pass --overwrite to replace it", path
        )
    if not is_dataset(path):
        kind = {"npz": "an .npz", "hdf5": "an HDF5", "minari": "a Minari"}[dataset_format(path)]
        raise DiffilError(
            f"exists and is not {kind} dataset, so --overwrite leaves it alone",
            "choose another path (or remove it yourself if it should go)",
            path,
        )


def is_dataset(path: str | PathLike) -> bool:
    """Whether ``path`` is recognisably a dataset in its format (what ``--overwrite`` may
    replace): a zip of diffil's arrays, an HDF5 file of episode groups, a Minari dataset folder
    holding nothing else, or an empty folder."""
    path = Path(path)
    fmt = dataset_format(path)
    if fmt == "minari":
        return minari_format.is_minari_dir(path)
    if not path.is_file():
        return False
    if fmt == "hdf5":
        return minari_format.is_minari_file(path)
    return npz_format.is_npz_dataset(path)


def _atomic_dir(path: Path, write: Callable[[Path], None]) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = staging / path.name
    backup = None
    try:
        write(target)
        if path.exists():  # replace: move the old one aside first so it is never half-deleted
            backup = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, backup)
        os.replace(target, path)
    except BaseException:
        if backup is not None and not path.exists():
            os.replace(backup, path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if backup is not None and backup.exists():
            shutil.rmtree(backup, ignore_errors=True) if backup.is_dir() else backup.unlink()


def load_dataset(
    path: str | PathLike, task: TaskSpec | str | None = None, validate: bool = True
) -> TrajectoryDataset:
    """Read a dataset written by diffil or by Minari; raises :class:`DiffilError` if unusable.

    With ``task`` the observation and action dimensions are checked against it (and dict
    observations of Minari datasets are flattened the task's way).
    """
    path = Path(path)
    spec = None if task is None else get_task(task)
    if not path.exists():
        raise DiffilError("no such file or folder", "check the path", path)
    fmt = dataset_format(path)
    with reading(path, "dataset", _RECREATE):
        if fmt == "npz":
            if path.is_dir():
                raise ValueError("is a folder, not an .npz file")
            if not zipfile.is_zipfile(path):
                raise ValueError("not a zip archive")
            dataset = npz_format.read_npz(str(path))
        else:
            dataset = minari_format.read_minari(path, spec)
        if validate:
            validate_dataset(dataset, spec, where=path)
    return dataset
