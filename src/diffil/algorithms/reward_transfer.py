"""Reward transfer: the learned reward of a finished run, frozen, for a fresh learner.

``diffil train ppo|sac --reward RUN`` and ``diffil reward-eval RUN`` start here. The frozen
wrappers themselves are in :mod:`diffil.rewards.frozen`; this module reads run directories, so
it sits above the reward models.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import torch

from diffil.errors import DiffilError
from diffil.rewards.frozen import FrozenReward, LearnedReward, PlanRewardModel


def load_learned_reward(run_dir: str | PathLike, task: str | None = None) -> LearnedReward:
    """The learned reward of the run in ``run_dir``, frozen.

    One-line :class:`DiffilError` when ``run_dir`` does not exist, is not a run, learned no
    reward (or has not saved one yet), or was trained on another task than ``task``.
    """
    from diffil.algorithms.methods import get_method
    from diffil.runs.run_dir import RunDirectory

    path = Path(run_dir)
    if not path.exists():
        raise DiffilError("no such run directory", "pass the folder `diffil train` wrote", path)
    run = RunDirectory.open(path)
    config = run.read_config()
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
        from diffil.algorithms.planning import REWARD_FILE
        from diffil.planning.irl import PlanReward

        if not (path / REWARD_FILE).is_file():
            raise DiffilError(
                f"the run has no {REWARD_FILE} yet", "finish it with `diffil train --resume`", path
            )
        plan_reward = PlanReward.load(path / REWARD_FILE)
        inner: torch.nn.Module = PlanRewardModel(plan_reward)
        frozen = FrozenReward(inner, plan_reward.obs_dim, plan_reward.act_dim, obs_only=False)
        return LearnedReward(frozen, None, config.task, config.method, path)
    from diffil.eval.reward_plots import load_run_reward_model

    model, scaler, _ = load_run_reward_model(path)
    frozen = FrozenReward(model, model.obs_dim, model.act_dim, obs_only=config.obs_only)
    return LearnedReward(frozen, scaler, config.task, config.method, path)
