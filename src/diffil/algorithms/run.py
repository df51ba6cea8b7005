"""Starting and resuming training runs (what `diffil train` and `diffil.train` call)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from diffil.algorithms.bc import BCTrainer
from diffil.algorithms.config import TrainConfig, read_run_config, resolve_config
from diffil.algorithms.methods import get_method
from diffil.algorithms.offline import GenerativePolicyTrainer
from diffil.algorithms.offpolicy import OffPolicyTrainer
from diffil.algorithms.planning import DiffuserTrainer
from diffil.algorithms.reward_transfer import load_learned_reward
from diffil.algorithms.trainer import DEMOS_FILE, OnlineTrainer, Trainer, TrainResult
from diffil.data.io import load_dataset
from diffil.data.minari_format import read_metadata
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.multitask import is_multitask, join_task_names
from diffil.envs.registry import get_task, restore_task
from diffil.errors import DiffilError
from diffil.experts.defaults import default_demonstrations
from diffil.runs.run_dir import RunDirectory, default_run_path
from diffil.utils.config import deep_merge


def trainer_for(
    config: TrainConfig, run: RunDirectory, progress: bool, demos: TrajectoryDataset | None = None
) -> Trainer:
    kind = get_method(config.method).kind
    online = OffPolicyTrainer if config.rl == "sac" else OnlineTrainer
    offline = {"bc": BCTrainer, "generative": GenerativePolicyTrainer}
    offline.update(planner=DiffuserTrainer, **{"planner-irl": DiffuserTrainer})
    cls = offline.get(kind, online)
    return cls(config, run, progress=progress, demos=demos)


def train(
    method: str | None = None,
    task: str | Sequence[str] | None = None,
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
    reward: str | PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``method`` on ``task`` into a run directory, or continue one with ``resume``.

    ``overrides`` is a nested dict of config fields (e.g. ``{"ppo": {"n_steps": 128}}``);
    ``demos`` a dataset path or object (default: the demonstrations diffil ships for the task,
    else its scripted expert makes them). ``task`` may be omitted when ``demos`` names its
    environment (a Minari dataset's env spec, or diffil's provenance). Several tasks (``"a,b"``
    or a list) make a multi-task run (:mod:`diffil.algorithms.multitask`).
    ``rl`` picks the RL backbone of reward-learning methods (``ppo`` or ``sac``; default: the
    method's preset, else ppo); ``n_envs`` sets ``sac.n_envs`` when it is SAC. ``obs_only``
    makes the reward model read states only (learning from observations). ``reward`` (methods
    ``ppo`` and ``sac``) is a run directory whose learned reward, frozen, replaces the task's
    (``task`` defaults to that run's).
    """
    if resume is not None:
        with RunDirectory.open(resume) as run:  # the lock is released however training ends
            run.lock()
            config = read_run_config(run)
            saved = run.path / DEMOS_FILE
            if saved.exists():  # a gym: task made from a dataset's env spec is made again
                restore_task(config.task, read_metadata(saved).get("env_spec"))
            if steps is not None and steps != config.steps:  # allow extending a finished run
                config.steps = steps
                run.config_path.write_text(config.to_yaml())
            return trainer_for(config, run, progress).learn()
    if method is None or (task is None and demos is None and reward is None):
        raise TypeError("train() needs method and task (or demos that name it, or resume)")
    if reward is not None:
        task = _task_of_reward_source(method, reward, task)
    if task is None:
        task = _task_of_demos(demos)
    task = join_task_names(task)
    if is_multitask(task) and demos is not None:
        raise DiffilError(
            "a multi-task run uses each task's shipped demonstrations or scripted expert",
            "drop --demos (or train on one task)",
        )
    get_task(task)  # an unknown task fails here, in one line
    given = {
        "steps": steps,
        "seed": seed,
        "device": device,
        "n_envs": n_envs,
        "demos": str(demos) if isinstance(demos, (str, PathLike)) else None,
        "rl": rl,
        "obs_only": obs_only,
        "reward_source": None if reward is None else str(reward),
    }
    config = new_run_config(method, task, overrides=overrides, **given)
    if progress:
        for note in config.ignored(overrides or {}):
            print(note)
    if n_envs is not None and config.rl == "sac":
        config.sac.n_envs = n_envs
    if demos is None:
        shipped = shipped_demonstrations_for(config, progress)
        config.demos = config.demos if shipped is None else str(shipped)
    path = Path(out) if out else default_run_path(config.method, config.task, config.seed)
    existed = path.exists()
    dataset = demos if isinstance(demos, TrajectoryDataset) else None
    with RunDirectory.create(path, config.to_yaml()) as run:
        try:
            trainer = trainer_for(config, run, progress, demos=dataset)
        except BaseException:  # e.g. demos that do not fit the task: leave no half-made run
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
            raise
        return trainer.learn()


def shipped_demonstrations_for(config: TrainConfig, progress: bool = False) -> Path | None:
    """The demonstrations :func:`train` gives a new run whose config names none: the task's
    shipped ones when its method learns from demonstrations; None when the config names some,
    the method needs none, the run is multi-task, or the task's scripted expert makes them."""
    if config.demos is not None or is_multitask(config.task):
        return None
    if not get_method(config.method).uses_demos:
        return None
    return default_demonstrations(get_task(config.task), config.num_demos, progress)


def new_run_config(
    method: str, task: str, *, overrides: dict[str, Any] | None = None, **given: Any
) -> TrainConfig:
    """The config :func:`train` starts a new run with: the presets, then ``overrides``, then
    the settings given as arguments (``steps``, ``seed``, ``demos``...; None means not given)."""
    cli = {k: v for k, v in given.items() if v is not None}
    return resolve_config(method, task, deep_merge(overrides or {}, cli))


def _task_of_reward_source(method: str, source: str | PathLike, task: str | None) -> str:
    """The task of a reward-transfer run: ``task`` if given (it must be the source run's)."""
    if get_method(method).kind != "rl":
        raise DiffilError(
            f"--reward trains a fresh ppo or sac policy on a learned reward, not {method}",
            "use: diffil train ppo --reward RUN (or sac)",
        )
    return load_learned_reward(source, task=task).task


def _task_of_demos(demos: str | PathLike | TrajectoryDataset) -> str:
    """The task the demonstrations name (diffil's provenance or a Minari env spec)."""
    dataset = demos if isinstance(demos, TrajectoryDataset) else load_dataset(demos)
    if not dataset.task:
        raise DiffilError(
            "the demonstrations do not say which environment they were recorded on (no "
            "env_spec or diffil task in their metadata)",
            "pass --task (a task name, or gym:ENV_ID)",
            None if isinstance(demos, TrajectoryDataset) else demos,
        )
    return dataset.task
