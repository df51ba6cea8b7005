"""Demonstration sets shipped with the package (diffil/datasets): they load, validate and match
their provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import diffil
from diffil.datasets import SHIPPED_DIR
from diffil.envs import get_task
from diffil.experts import has_scripted_expert, make_expert

SHIPPED = sorted(SHIPPED_DIR.glob("*.hdf5"))


def test_the_demonstrations_ship_and_install_with_the_package():
    expected = [
        "ant",
        "fetch-pick-and-place",
        "fetch-push",
        "halfcheetah",
        "highway",
        "hopper",
        "merge",
        "parking",
        "walker2d",
    ]
    assert [p.stem for p in SHIPPED] == expected
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"datasets/*.hdf5"' in text  # package data: installed, not only in a checkout


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_dataset_matches_its_provenance(path):
    task = get_task(path.stem)
    dataset = diffil.load_dataset(path, task=task)  # validates shapes and values
    meta = dataset.metadata
    assert meta["task"] == task.name and meta["env_id"] == task.env_id
    assert meta["episodes"] == len(dataset)
    assert meta["transitions"] == dataset.num_transitions
    returns = [t.episode_return for t in dataset]
    assert np.mean(returns) == pytest.approx(meta["return_mean"], rel=1e-5)  # (float32 files)
    if has_scripted_expert(task):  # the Fetch and driving tasks
        assert meta["expert"] == make_expert(task).name and meta["seed"] == 0
        assert dataset.statistics()["success_rate"] == meta["success_rate"] >= 0.95
    else:
        info = meta["expert_info"]
        assert info["task"] == task.name and info["algo"] and info["sha256"]
        # expert-level demonstrations: their mean return is most of the expert's evaluation
        assert np.mean(returns) > 0.8 * info["eval_return_mean"]
    assert dataset.obs_dim == task.obs_dim and dataset.act_dim == task.act_dim
