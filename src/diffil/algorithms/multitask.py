"""Multi-task training runs (reference 000, [0050]): the config of a task list, and its
demonstrations tagged with their task ids.

``diffil train drail --task pointmaze-umaze,pointmaze-medium`` trains one policy and one
reward model on both tasks (the environments: :mod:`diffil.envs.multitask`).

**Config.** Each task's config is resolved as for a single-task run (presets and overrides);
the run takes the first task's, except that the budget ``steps`` is the sum of the tasks'
budgets and ``eval.every`` the largest of theirs (unless set by the command). The tasks must
agree on ``rl``, ``fixed_horizon`` and ``obs_only`` (they change what the run is); any other
difference (e.g. ``ppo.gamma``) follows the first task.

**Demonstrations.** ``num_demos`` episodes per task, each from the task's shipped
demonstrations or its scripted expert (as a single-task run gets them), their observations
tagged with the task's one-hot id, concatenated in task order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from diffil.algorithms.config import TrainConfig, resolve_config
from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.multitask import (
    TASK_SEPARATOR,
    MultiTaskSpec,
    split_task_names,
    with_task_id,
)
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.utils.config import from_dict

# settings that change what a run is: the tasks of one run must agree on them
MUST_AGREE = ("rl", "fixed_horizon", "obs_only")


def resolve_multitask_config(
    method: str, task: str, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The config of a multi-task run on ``task`` (``"a,b"``); see the module's docstring."""
    names = split_task_names(task)
    get_task(task)  # unknown tasks, or sizes that differ: one line before anything else
    overrides = overrides or {}
    configs = [resolve_config(method, name, overrides) for name in names]
    for key in MUST_AGREE:
        values = [getattr(c, key) for c in configs]
        if len(set(values)) > 1:
            shown = ", ".join(f"{n}: {v}" for n, v in zip(names, values, strict=True))
            raise DiffilError(
                f"the tasks' presets disagree on {key} ({shown})",
                f"set it for all of them, e.g. --set {key}={values[0]}",
            )
    data = configs[0].to_dict()
    data["task"] = TASK_SEPARATOR.join(names)
    if "steps" not in overrides:
        data["steps"] = sum(c.steps for c in configs)
    if "every" not in (overrides.get("eval") or {}):
        data["eval"]["every"] = max(c.eval.every for c in configs)
    return from_dict(TrainConfig, data).validate()


def tag_dataset(dataset: TrajectoryDataset, task_index: int, num_tasks: int) -> TrajectoryDataset:
    """The dataset with every observation tagged with task ``task_index``'s one-hot id."""
    tagged = [
        dataclasses.replace(t, observations=with_task_id(t.observations, task_index, num_tasks))
        for t in dataset
    ]
    return TrajectoryDataset(tagged, dataset.metadata)


def merge_task_datasets(
    spec: MultiTaskSpec, datasets: Sequence[TrajectoryDataset]
) -> TrajectoryDataset:
    """One dataset of every task's demonstrations, tagged with their task ids, in task order;
    the metadata keeps each task's provenance under ``tasks``."""
    trajectories: list[Trajectory] = []
    for index, data in enumerate(datasets):
        trajectories.extend(tag_dataset(data, index, spec.num_tasks))
    merged = TrajectoryDataset(trajectories)
    experts = sorted({str(d.metadata["expert"]) for d in datasets if d.metadata.get("expert")})
    merged.metadata = {
        "task": spec.name,
        "variant": spec.variant_settings,
        "expert": ", ".join(experts) or None,
        "tasks": {
            name: {k: v for k, v in d.metadata.items() if k != "derived"}
            for name, d in zip(spec.task_names, datasets, strict=True)
        },
        "episodes": len(merged),
        "transitions": merged.num_transitions,
    }
    return merged


def multitask_demonstrations(spec: MultiTaskSpec, config: TrainConfig) -> TrajectoryDataset:
    """``config.num_demos`` demonstrations of each task (shipped, else its scripted expert's),
    tagged and merged."""
    from diffil.algorithms.run import _default_demonstrations
    from diffil.data.io import load_dataset
    from diffil.experts.collect import collect_demonstrations

    datasets = []
    for task in spec.members:
        path = _default_demonstrations(task, config.num_demos, progress=False)
        if path is None:
            data = collect_demonstrations(task, config.num_demos, seed=config.seed + 100_000)
        else:
            data = load_dataset(path, task=task)
            if config.num_demos < len(data):
                data = data.subset(num_trajectories=config.num_demos)
        datasets.append(data)
    return merge_task_datasets(spec, datasets)
