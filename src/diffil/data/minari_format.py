"""HDF5 in Minari's on-disk layout, read and written with h5py (Minari itself is not required).

A Minari dataset is a folder ``<root>/data/`` holding ``main_data.hdf5`` and ``metadata.json``.
``main_data.hdf5`` has one group ``episode_<i>`` per episode with ``observations`` (T+1 rows; a
group of arrays for dict observations), ``actions``, ``rewards``, ``terminations``,
``truncations`` (T rows) and an ``infos`` group (T+1 rows: the reset info, then one per step).
``metadata.json`` holds counts, the serialised spaces, the env spec and free-form keys; diffil keeps
its provenance under the key ``"diffil"``.

Observations are stored in the environment's raw form (the dict of a goal-conditioned maze), so
``minari.load_dataset(...).recover_environment()`` matches the data; diffil flattens them on load.
A single ``.hdf5`` file (no folder) holds the same groups, with the metadata JSON in a root
attribute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.registry import TaskSpec, restore_task, task_for_env_spec
from diffil.errors import DiffilError

MAIN_FILE = "main_data.hdf5"
METADATA_FILE = "metadata.json"
MINARI_DATASET_VERSION = "0.5.0"  # the Minari dataset layout written here (readable by 0.5.x)
_METADATA_ATTR = "minari_metadata"


def _box_json(shape: tuple[int, ...], dtype: str, low: float, high: float) -> dict[str, Any]:
    n = int(np.prod(shape))
    return {
        "type": "Box",
        "dtype": dtype,
        "shape": list(shape),
        "low": [low] * n,
        "high": [high] * n,
    }


def _space_json(space) -> dict[str, Any]:
    """A gymnasium Box or Dict space in Minari's JSON schema."""
    if space.__class__.__name__ == "Dict":
        return {"type": "Dict", "subspaces": {k: _space_json(s) for k, s in space.spaces.items()}}
    return {
        "type": "Box",
        "dtype": str(space.dtype),
        "shape": list(space.shape),
        "low": space.low.reshape(-1).tolist(),
        "high": space.high.reshape(-1).tolist(),
    }


def _spaces_and_spec(dataset: TrajectoryDataset, task: TaskSpec | None) -> dict[str, Any]:
    if task is None:
        return {
            "observation_space": json.dumps(
                _box_json((dataset.obs_dim,), "float64", -np.inf, np.inf)
            ),
            "action_space": json.dumps(_box_json((dataset.act_dim,), "float32", -np.inf, np.inf)),
        }
    env = task.make_env()
    try:
        # observations are written raw (dicts) when the task can unflatten them, else flat
        stored = env.unwrapped if task.unflatten_obs is not None else env
        out = {
            "observation_space": json.dumps(_space_json(stored.observation_space)),
            "action_space": json.dumps(_space_json(env.action_space)),
        }
    finally:
        env.close()
    env_spec = task.raw_env_spec()
    if env_spec is not None:
        out["env_spec"] = env_spec.to_json()
    if task.reference is not None:
        out["ref_min_score"] = task.reference.random_return
        out["ref_max_score"] = task.reference.expert_return
    return out


def minari_metadata(dataset: TrajectoryDataset, task: TaskSpec | None, dataset_id: str) -> dict:
    """The content of ``metadata.json`` for ``dataset``."""
    return {
        "dataset_id": dataset_id,
        "total_episodes": len(dataset),
        "total_steps": dataset.num_transitions,
        "data_format": "hdf5",
        "jpeg_encoding": False,
        "minari_version": MINARI_DATASET_VERSION,
        "algorithm_name": str(dataset.metadata.get("expert", "unknown")),
        "author": ["diffil"],
        "description": f"Demonstrations made by diffil for task {dataset.task!r}.",
        **_spaces_and_spec(dataset, task),
        "diffil": dataset.metadata,
        "diffil_has_rewards": dataset.has_rewards,  # rewards are zeros in the file when False
    }


def write_episodes(dataset: TrajectoryDataset, h5: h5py.File, task: TaskSpec | None) -> None:
    """Write every episode group of ``main_data.hdf5`` into an open file."""
    for e, traj in enumerate(dataset):
        group = h5.create_group(f"episode_{e}")
        group.attrs["id"] = e
        group.attrs["total_steps"] = len(traj)
        if task is not None and task.unflatten_obs is not None:
            obs_group = group.create_group("observations")
            for key, value in task.unflatten_obs(traj.observations).items():
                obs_group.create_dataset(key, data=value)
        else:
            group.create_dataset("observations", data=traj.observations)
        group.create_dataset("actions", data=traj.actions)
        rewards = traj.rewards if traj.rewards is not None else np.zeros(len(traj))
        group.create_dataset("rewards", data=rewards)
        group.create_dataset("terminations", data=traj.terminations)
        group.create_dataset("truncations", data=traj.truncations)
        infos = group.create_group("infos")
        for key, value in traj.infos.items():
            # Minari's infos start with the reset info; diffil keeps step infos only, so the
            # reset row is written as zeros (False for flags).
            infos.create_dataset(key, data=np.concatenate([np.zeros_like(value[:1]), value]))


def write_minari_dir(
    dataset: TrajectoryDataset, root: Path, task: TaskSpec | None, dataset_id: str | None = None
) -> None:
    """Write a Minari dataset folder (``root/data/...``); ``root`` must not exist yet.
    ``dataset_id`` defaults to the folder's name."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    meta = minari_metadata(dataset, task, dataset_id=dataset_id or root.name)
    with h5py.File(data_dir / MAIN_FILE, "w", track_order=True) as h5:
        write_episodes(dataset, h5, task)
    meta["dataset_size"] = round((data_dir / MAIN_FILE).stat().st_size / 1e6, 4)
    (data_dir / METADATA_FILE).write_text(json.dumps(meta))


def write_hdf5_file(
    dataset: TrajectoryDataset, path: Path, task: TaskSpec | None, dataset_id: str | None = None
) -> None:
    """Write one self-contained ``.hdf5`` file: Minari's episode groups plus metadata attribute;
    ``dataset_id`` defaults to the file's stem."""
    meta = minari_metadata(dataset, task, dataset_id=dataset_id or path.stem)
    with h5py.File(path, "w", track_order=True) as h5:
        h5.attrs[_METADATA_ATTR] = json.dumps(meta)
        write_episodes(dataset, h5, task)


def is_minari_dir(path: Path) -> bool:
    """Whether ``path`` is an empty folder or a Minari dataset folder holding nothing else:
    ``data/`` with ``metadata.json`` and at most ``main_data.hdf5`` besides."""
    if not path.is_dir() or path.is_symlink():
        return False
    entries = list(path.iterdir())
    if not entries:
        return True
    data_dir = path / "data"
    if [e.name for e in entries] != ["data"] or not data_dir.is_dir() or data_dir.is_symlink():
        return False
    files = list(data_dir.iterdir())
    names = {f.name for f in files}
    return (
        METADATA_FILE in names
        and names <= {METADATA_FILE, MAIN_FILE}
        and all(f.is_file() and not f.is_symlink() for f in files)
    )


def is_minari_file(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file of Minari episode groups (or diffil's metadata)."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as h5:
            return _METADATA_ATTR in h5.attrs or any(k.startswith("episode_") for k in h5)
    except Exception:  # unreadable: not recognisably a dataset
        return False


def _locate(path: Path) -> tuple[Path, dict[str, Any]]:
    """(main hdf5 file, metadata dict) for a dataset root, its data folder, or an hdf5 file."""
    for data_dir in (path / "data", path):
        if (data_dir / METADATA_FILE).is_file():
            return data_dir / MAIN_FILE, json.loads((data_dir / METADATA_FILE).read_text())
    if path.is_dir():
        raise FileNotFoundError(f"no {METADATA_FILE} in {path} or {path / 'data'}")
    beside = path.parent / METADATA_FILE
    if beside.is_file():
        return path, json.loads(beside.read_text())
    with h5py.File(path, "r") as h5:
        text = h5.attrs.get(_METADATA_ATTR)
    return path, json.loads(text) if text is not None else {}


def read_metadata(path: Path) -> dict[str, Any]:
    """The Minari metadata of a dataset root, its data folder, or an hdf5 file ({} if none)."""
    return _locate(path)[1]


def _task_of(metadata: dict[str, Any], task: TaskSpec | None) -> TaskSpec | None:
    """The task a dataset names: diffil's provenance (with its env spec for ``gym:`` tasks),
    else the environment of Minari's env spec."""
    if task is not None:
        return task
    diffil_meta = metadata.get("diffil") or {}
    name = diffil_meta.get("task")
    env_spec = metadata.get("env_spec")
    if name:
        return restore_task(name, env_spec, **(diffil_meta.get("variant") or {}))
    if env_spec:
        return task_for_env_spec(env_spec)
    return None


def read_minari(path: Path, task: TaskSpec | None = None) -> TrajectoryDataset:
    """Load a Minari-layout dataset (folder or single file); dict observations are flattened."""
    main_file, metadata = _locate(path)
    task = _task_of(metadata, task)
    has_rewards = metadata.get("diffil_has_rewards", True)
    trajectories = []
    with h5py.File(main_file, "r") as h5:
        names = sorted((k for k in h5 if k.startswith("episode_")), key=lambda k: int(k[8:]))
        for name in names:
            group = h5[name]
            obs = group["observations"]
            if isinstance(obs, h5py.Group):
                if task is None:
                    raise DiffilError(
                        "observations are dicts but the dataset does not say which task it is for",
                        "pass the task (--task) so diffil can flatten them",
                    )
                if task.flatten_obs is None:
                    raise DiffilError(
                        f"observations are dicts ({', '.join(obs)}) but task {task.name!r} "
                        "observes flat vectors",
                        "pass the task these demonstrations were recorded on",
                    )
                observations = task.flatten_obs({k: obs[k][()] for k in obs})
            else:
                observations = obs[()]
            actions = group["actions"][()]
            steps = len(actions)
            infos = {}
            if "infos" in group:
                for key, value in group["infos"].items():
                    if isinstance(value, h5py.Dataset) and value.shape[:1] in {
                        (steps,),
                        (steps + 1,),
                    }:
                        infos[key] = value[()][-steps:] if steps else value[()][:0]
            trajectories.append(
                Trajectory(
                    observations=observations,
                    actions=actions.reshape(steps, -1),
                    rewards=group["rewards"][()] if has_rewards and "rewards" in group else None,
                    terminations=group["terminations"][()] if "terminations" in group else None,
                    truncations=group["truncations"][()] if "truncations" in group else None,
                    infos=infos,
                )
            )
    provenance = dict(metadata.get("diffil") or {})
    if not provenance:
        provenance = {"source": "minari", "dataset_id": metadata.get("dataset_id")}
        if task is not None:
            provenance["task"] = task.name
    return TrajectoryDataset(trajectories, provenance)
