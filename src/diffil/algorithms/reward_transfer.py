"""Reward transfer: the learned reward of a finished run, frozen, for a fresh learner.

``diffil train ppo|sac --reward RUN`` and ``diffil reward-eval RUN`` start here. The frozen
wrappers themselves are in :mod:`diffil.rewards.frozen`; this module reads run directories, so
it sits above the reward models. :func:`learned_reward` gives the same reward as a plain function
of arrays, for the metrics of :mod:`diffil.eval.reward_metrics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffil.algorithms.config import TrainConfig, read_run_config
from diffil.algorithms.methods import get_method
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.planning.irl import PlanReward
from diffil.rewards import RewardModel, make_reward_model
from diffil.rewards.discriminator import REWARD_TYPES, DiscriminatorRewardModel
from diffil.rewards.frozen import FrozenReward, LearnedReward, PlanRewardModel
from diffil.runs.run_dir import PLAN_REWARD, RunDirectory


def load_learned_reward(
    run_dir: str | PathLike, task: str | None = None, reward_type: str | None = None
) -> LearnedReward:
    """The learned reward of the run in ``run_dir``, frozen.

    ``reward_type`` (``airl``, ``gail`` or ``log_d``) re-reads a discriminator's D with another
    reward form than its run used (None: the run's own). The form matters to a fresh learner
    when episodes end on success: a reward that is positive near the goal pays for staying
    near it without ending the episode, while ``log_d`` (log D <= 0) pays for ending it.

    One-line :class:`DiffilError` when ``run_dir`` does not exist, is not a run, learned no
    reward (or has not saved one yet), was trained on another task than ``task``, or
    ``reward_type`` is given for a reward that is not a discriminator's.
    """
    path = Path(run_dir)
    if not path.exists():
        raise DiffilError("no such run directory", "pass the folder `diffil train` wrote", path)
    run = RunDirectory.open(path)
    config = read_run_config(run)
    method = get_method(config.method)
    if not method.learns_reward:
        raise DiffilError(
            f"method {config.method!r} learns no reward",
            "pass a run of airl, drail, smiling, gail, diffail, wail or diffuser-irl",
            path,
        )
    if task is not None and task != config.task:
        raise DiffilError(
            f"the run learned its reward on {config.task!r}, not on {task!r}",
            f"pass --task {config.task} (or leave --task out)",
            path,
        )
    if method.plans:
        if not (path / PLAN_REWARD).is_file():
            raise DiffilError(
                f"the run has no {PLAN_REWARD} yet", "finish it with `diffil train --resume`", path
            )
        if reward_type is not None:
            raise _no_reward_type(config.method, path)
        plan_reward = PlanReward.load(path / PLAN_REWARD)
        inner: torch.nn.Module = PlanRewardModel(plan_reward)
        frozen = FrozenReward(inner, plan_reward.obs_dim, plan_reward.act_dim, obs_only=False)
        return LearnedReward(frozen, None, config.task, config.method, path)
    model, scaler, _ = load_run_reward_model(path)
    if reward_type is not None:
        if not isinstance(model, DiscriminatorRewardModel):
            raise _no_reward_type(config.method, path)
        if reward_type not in REWARD_TYPES:
            raise DiffilError(
                f"unknown reward_type {reward_type!r}", f"use one of: {', '.join(REWARD_TYPES)}"
            )
        model.config = dataclasses.replace(model.config, reward_type=reward_type)
    frozen = FrozenReward(model, model.obs_dim, model.act_dim, obs_only=config.obs_only)
    return LearnedReward(frozen, scaler, config.task, config.method, path)


def learned_reward(
    run_dir: str | PathLike,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The learned reward of a finished training run as a function r(s, a, s') of arrays
    (a :data:`~diffil.eval.reward_metrics.RewardFunction`).

    Adversarial and score-matching runs: the latest reward model, inputs standardised as in
    training; AIRL gives its shaped reward f = g + gamma h' - h (no log pi term; DRAIL with
    ``potential_shaping`` the same with L- - L+ as g), DRAIL and GAIL their log D - log(1 - D).
    Diffuser-IRL runs: r_phi(s, a) of ``reward.pt``.
    """
    return load_learned_reward(run_dir).function()


def load_run_reward_model(
    run_dir: str | PathLike,
) -> tuple[RewardModel, dict[str, Any], TrainConfig]:
    """The latest reward model of a run, its observation scaler dict, and the run's config.

    Raises :class:`DiffilError` when ``run_dir`` is not a run of an adversarial method or has
    no checkpoint yet.
    """
    run = RunDirectory.open(run_dir)
    config = read_run_config(run)
    name = get_method(config.method).reward_model
    if name is None:
        raise DiffilError(
            f"method {config.method!r} learns no reward", "pass a run of an adversarial method"
        ).at(run.path)
    ckpt = run.checkpoint_dir
    state_path, model_path = ckpt / "state.json", ckpt / "reward_model.pt"
    if not model_path.is_file() or not state_path.is_file():
        raise DiffilError(
            "the run has no reward-model checkpoint", "train it longer or resume it"
        ).at(run.path)
    state = run.load_state() or {}
    scaler = state.get("scaler")
    if not isinstance(scaler, dict) or "mean" not in scaler or "std" not in scaler:
        raise DiffilError(
            "checkpoints/latest/state.json has no observation scaler", "re-run the training"
        ).at(run.path)
    task = get_task(config.task)
    model_config = {**config.reward.model, "obs_only": config.obs_only}
    with run.reading_checkpoint():
        width = task.obs_dim + int(bool(scaler.get("absorbing", False)))  # absorbing column
        model = make_reward_model(name, width, task.act_dim, model_config)
        model.restore(torch.load(model_path, map_location="cpu", weights_only=True))
    return model, scaler, config


def _no_reward_type(method: str, path: Path) -> DiffilError:
    return DiffilError(
        f"{method}'s reward has no reward_type: it is not a discriminator's",
        "drop reward.model.reward_type (it applies to drail, gail, airl and diffail rewards)",
        path,
    )
