"""Starting and resuming training runs (what `diffil train` and `diffil.train` call)."""

from __future__ import annotations

import shutil
from os import PathLike
from pathlib import Path
from typing import Any

from diffil.algorithms.config import TrainConfig, deep_merge, resolve_config
from diffil.algorithms.methods import get_method
from diffil.algorithms.trainer import OnlineTrainer, Trainer, TrainResult
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import get_task
from diffil.runs.run_dir import RunDirectory, default_run_path


def trainer_for(
    config: TrainConfig, run: RunDirectory, progress: bool, demos: TrajectoryDataset | None = None
) -> Trainer:
    from diffil.algorithms.bc import BCTrainer
    from diffil.algorithms.offline import GenerativePolicyTrainer
    from diffil.algorithms.offpolicy import OffPolicyTrainer

    kind = get_method(config.method).kind
    online = OffPolicyTrainer if config.rl == "sac" else OnlineTrainer
    cls = {"bc": BCTrainer, "generative": GenerativePolicyTrainer}.get(kind, online)
    return cls(config, run, progress=progress, demos=demos)


def train(
    method: str | None = None,
    task: str | None = None,
    *,
    demos: str | PathLike | TrajectoryDataset | None = None,
    steps: int | None = None,
    seed: int | None = None,
    out: str | PathLike | None = None,
    resume: str | PathLike | None = None,
    device: str | None = None,
    n_envs: int | None = None,
    rl: str | None = None,
    obs_only: bool | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``method`` on ``task`` into a run directory, or continue one with ``resume``.

    ``overrides`` is a nested dict of config fields (e.g. ``{"ppo": {"n_steps": 128}}``);
    ``demos`` a dataset path or object (default: the task's scripted expert makes them).
    ``rl`` picks the RL backbone of reward-learning methods (``ppo`` or ``sac``; default: the
    method's preset, else ppo); ``n_envs`` sets ``sac.n_envs`` when it is SAC. ``obs_only``
    makes the reward model read states only (learning from observations).
    """
    if resume is not None:
        with RunDirectory.open(resume) as run:  # the lock is released however training ends
            run.lock()
            config = run.read_config()
            if steps is not None and steps != config.steps:  # allow extending a finished run
                config.steps = steps
                run.config_path.write_text(config.to_yaml())
            return trainer_for(config, run, progress).learn()
    if method is None or task is None:
        raise TypeError("train() needs method and task (or resume)")
    get_method(method)
    get_task(task)
    given = {
        "steps": steps,
        "seed": seed,
        "device": device,
        "n_envs": n_envs,
        "demos": str(demos) if isinstance(demos, (str, PathLike)) else None,
        "rl": rl,
        "obs_only": obs_only,
    }
    cli = {k: v for k, v in given.items() if v is not None}
    config = resolve_config(method, task, deep_merge(overrides or {}, cli))
    if n_envs is not None and config.rl == "sac":
        config.sac.n_envs = n_envs
    path = Path(out) if out else default_run_path(config)
    existed = path.exists()
    dataset = demos if isinstance(demos, TrajectoryDataset) else None
    with RunDirectory.create(path, config) as run:
        try:
            trainer = trainer_for(config, run, progress, demos=dataset)
        except BaseException:  # e.g. demos that do not fit the task: leave no half-made run
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
            raise
        return trainer.learn()
