"""The on-policy backbone: Stable-Baselines3 PPO on vectorised, observation-normalised envs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.rl.recorder import TransitionRecorder

ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "silu": torch.nn.SiLU}


@dataclass(kw_only=True)
class PPOConfig:
    """PPO hyperparameters (SB3 names). ``n_steps`` is per environment.

    Attributes:
        n_steps: env steps per environment in each rollout before an update.
        batch_size: minibatch size of the update.
        n_epochs: passes over each rollout.
        learning_rate: Adam step size.
        gamma: discount factor.
        gae_lambda: lambda of generalised advantage estimation.
        clip_range: PPO's ratio clipping epsilon.
        ent_coef: weight of the entropy bonus.
        vf_coef: weight of the value loss.
        max_grad_norm: gradient norm clip.
        net_arch: hidden widths of the policy and of the value network (separate networks).
        activation: hidden activation, ``tanh``, ``relu`` or ``silu``.
        log_std_init: initial log standard deviation of the Gaussian policy.
        normalize_obs: standardise observations with running statistics (saved with the policy).
    """

    n_steps: int = 256
    batch_size: int = 256
    n_epochs: int = 10
    learning_rate: float = 3e-4
    anneal_lr: bool = False  # decay the learning rate linearly to 0 over the run's env steps
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0
    normalize_obs: bool = True
    # divide relabelled (learned) rewards by the running std of their discounted return
    normalize_reward: bool = False
    # tanh-bound the Gaussian's mean to the action range [-1, 1] (see BoundedMeanPolicy)
    bounded_mean: bool = False


class BoundedMeanPolicy(ActorCriticPolicy):
    """SB3's actor-critic MLP policy with the Gaussian's mean passed through tanh.

    With an unbounded mean PPO can push it far outside the action range; the environment clips
    the action, so every sample of the noise gives the same clipped action, the same reward and
    no gradient: the policy stays pinned there (seen on pointmaze-medium as a point pressed into
    a wall corner for the whole episode). Bounding the mean to [-1, 1] keeps the noise effective;
    samples can still leave the range and are clipped as before. Only for action spaces
    [-1, 1]^d (all of diffil's tasks).
    """

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        space = self.action_space
        if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
            raise DiffilError(
                f"ppo.bounded_mean needs actions in [-1, 1], this task's are [{space.low}, "
                f"{space.high}]",
                "set ppo.bounded_mean=false",
            )
        # same Linear (and parameters, already in the optimizer), then tanh
        self.action_net = torch.nn.Sequential(self.action_net, torch.nn.Tanh())


def make_vec_env(
    task: TaskSpec,
    n_envs: int,
    seed: int,
    subprocess: bool = False,
    evaluation: bool = False,
    fixed_horizon: bool = False,
) -> VecEnv:
    """``n_envs`` copies of the task with Monitor (episode return, length and success);
    ``fixed_horizon``: see :meth:`TaskSpec.make_env`."""
    info_keys = (task.success_key,) if task.success_key else ()

    def factory(rank: int):
        def make():
            env = task.make_env(evaluation=evaluation, fixed_horizon=fixed_horizon)
            env = Monitor(env, info_keywords=info_keys)
            env.reset(seed=seed + rank)
            env.action_space.seed(seed + rank)
            return env

        return make

    cls = SubprocVecEnv if subprocess and n_envs > 1 else DummyVecEnv
    venv = cls([factory(i) for i in range(n_envs)])
    venv.seed(seed)
    return venv


def wrap_for_training(venv: VecEnv, config: PPOConfig) -> tuple[VecEnv, TransitionRecorder]:
    """Recorder (raw transitions) inside observation normalisation; returns (outer, recorder)."""
    recorder = TransitionRecorder(venv)
    outer: VecEnv = recorder
    if config.normalize_obs:
        outer = VecNormalize(recorder, norm_obs=True, norm_reward=False, gamma=config.gamma)
    return outer, recorder


def make_ppo(
    config: PPOConfig,
    venv: VecEnv,
    seed: int,
    device: str = "cpu",
) -> PPO:
    """A fresh PPO learner on ``venv``."""
    return PPO(
        BoundedMeanPolicy if config.bounded_mean else "MlpPolicy",
        venv,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        learning_rate=(
            LinearSchedule(config.learning_rate, 0.0, 1.0)
            if config.anneal_lr
            else config.learning_rate
        ),
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs={
            "net_arch": list(config.net_arch),
            "activation_fn": ACTIVATIONS[config.activation],
            "log_std_init": config.log_std_init,
        },
        seed=seed,
        device=device,
        verbose=0,
    )
