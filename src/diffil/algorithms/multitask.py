"""Multi-task training runs (reference 000, [0050]): the demonstrations of a task list, tagged
with their task ids.

``diffil train drail --task pointmaze-umaze,pointmaze-medium`` trains one policy and one
reward model on both tasks (the environments: :mod:`diffil.envs.multitask`).

**Config.** :func:`diffil.algorithms.config.resolve_multitask_config`: each task's config
resolved as for a single-task run, the budgets summed.

**Demonstrations.** ``num_demos`` episodes per task, each from the task's shipped
demonstrations or its scripted expert (as a single-task run gets them), their observations
tagged with the task's one-hot id, concatenated in task order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from diffil.algorithms.config import TrainConfig
from diffil.data.io import load_dataset
from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.multitask import MultiTaskSpec, with_task_id
from diffil.experts.collect import collect_demonstrations
from diffil.experts.defaults import default_demonstrations


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
    datasets = []
    for task in spec.members:
        path = default_demonstrations(task, config.num_demos, progress=False)
        if path is None:
            data = collect_demonstrations(task, config.num_demos, seed=config.seed + 100_000)
        else:
            data = load_dataset(path, task=task)
            if config.num_demos < len(data):
                data = data.subset(num_trajectories=config.num_demos)
        datasets.append(data)
    return merge_task_datasets(spec, datasets)
