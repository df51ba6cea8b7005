"""The ``.npz`` format: episodes concatenated into flat arrays plus their lengths.

Arrays: ``observations`` (sum(T_i + 1), obs_dim), ``actions`` (sum(T_i), act_dim),
``terminations``, ``truncations``, optional ``rewards``, ``infos/<key>`` (sum(T_i), ...),
``episode_lengths`` (n,), and ``metadata`` (a JSON string). Loaded without pickle.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from diffil.data.trajectory import Trajectory, TrajectoryDataset

FORMAT_VERSION = 1
_REQUIRED = ("episode_lengths", "observations", "actions")


def write_npz(dataset: TrajectoryDataset, path: Path) -> None:
    lengths = np.array([len(t) for t in dataset], dtype=np.int64)
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION),
        "episode_lengths": lengths,
        "observations": np.concatenate([t.observations for t in dataset]),
        "actions": np.concatenate([t.actions for t in dataset]),
        "terminations": np.concatenate([t.terminations for t in dataset]),
        "truncations": np.concatenate([t.truncations for t in dataset]),
        "metadata": np.array(json.dumps(dataset.metadata)),
    }
    if dataset.has_rewards:
        arrays["rewards"] = np.concatenate([t.rewards for t in dataset])
    info_keys = set.intersection(*(set(t.infos) for t in dataset)) if len(dataset) else set()
    for key in sorted(info_keys):
        arrays[f"infos/{key}"] = np.concatenate([t.infos[key] for t in dataset])
    with open(path, "wb") as f:  # a file object, so numpy does not append '.npz'
        np.savez_compressed(f, **arrays)


def is_npz_dataset(path: Path) -> bool:
    """Whether ``path`` is a zip archive holding the arrays of an ``.npz`` dataset."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return all(f"{name}.npy" in names for name in _REQUIRED)


def read_npz(path: str) -> TrajectoryDataset:
    """Raises KeyError / ValueError / OSError on malformed files (the caller words the error)."""
    # our own file handle: np.load leaves its own open when the archive is broken
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        files = set(z.files)
        missing = set(_REQUIRED) - files
        if missing:
            raise KeyError(f"missing arrays {sorted(missing)}")
        lengths = z["episode_lengths"].astype(np.int64)
        observations, actions = z["observations"], z["actions"]
        n_steps = int(lengths.sum())
        if (
            (lengths < 0).any()
            or len(actions) != n_steps
            or len(observations) != n_steps + len(lengths)
        ):
            raise ValueError(
                f"episode lengths sum to {n_steps} steps but the file holds {len(actions)} actions "
                f"and {len(observations)} observations"
            )
        flags = {
            k: z[k] if k in files else np.zeros(n_steps, bool)
            for k in ("terminations", "truncations")
        }
        rewards = z["rewards"] if "rewards" in files else None
        infos = {k.split("/", 1)[1]: z[k] for k in files if k.startswith("infos/")}
        metadata = json.loads(str(z["metadata"])) if "metadata" in files else {}
    step_ends = np.cumsum(lengths)
    trajectories = []
    for e, (end, length) in enumerate(zip(step_ends, lengths, strict=True)):
        start = end - length
        trajectories.append(
            Trajectory(
                observations=observations[start + e : end + e + 1],
                actions=actions[start:end],
                rewards=None if rewards is None else rewards[start:end],
                terminations=flags["terminations"][start:end],
                truncations=flags["truncations"][start:end],
                infos={k: v[start:end] for k, v in infos.items()},
            )
        )
    return TrajectoryDataset(trajectories, metadata)
