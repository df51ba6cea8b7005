"""Behaviour cloning with the same policy network as the RL methods.

Maximises the log-likelihood of expert actions under PPO's Gaussian policy, on observations
standardised with the demonstrations' statistics (stored in the exported policy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.running_mean_std import RunningMeanStd

from diffil.algorithms.offline import OfflineTrainer
from diffil.policy import Policy
from diffil.rl.behaviour_cloning import actor_parameters, negative_log_likelihood
from diffil.rl.ppo import make_ppo, make_vec_env

CLIP_OBS, EPSILON = 10.0, 1e-8


class BCTrainer(OfflineTrainer):
    loss_name = "neg. log-likelihood"

    def build(self, checkpoint: Path | None) -> None:
        cfg = self.config
        venv = make_vec_env(self.task, 1, cfg.seed)
        self.obs_rms = RunningMeanStd(shape=(self.task.obs_dim,))
        self.obs_rms.mean = self.expert.obs.mean(axis=0)
        self.obs_rms.var = self.expert.obs.var(axis=0)
        if checkpoint is None:
            ppo_config = dataclasses.replace(cfg.ppo, normalize_obs=False)
            self.model = make_ppo(ppo_config, venv, cfg.seed, str(self.device))
        else:
            # SB3's zip holds pickles; it comes from this user's run directory (see trainer.py)
            self.model = PPO.load(checkpoint / "ppo.zip", env=venv, device=str(self.device))
        policy = self.model.policy  # BC trains the actor only: its layers and log-std
        self.optimizer = torch.optim.Adam(
            [*actor_parameters(policy), policy.log_std],
            lr=cfg.bc.learning_rate,
            weight_decay=cfg.bc.weight_decay,
        )
        if checkpoint is not None:
            self.optimizer.load_state_dict(
                torch.load(checkpoint / "optimizer.pt", weights_only=True)
            )

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(
            (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + EPSILON), -CLIP_OBS, CLIP_OBS
        )

    def loss(self, idx: np.ndarray) -> torch.Tensor:
        obs = self.normalize(self.expert.obs[idx])
        return negative_log_likelihood(self.model.policy, obs, self.expert.acts[idx])

    def train_step(self) -> float:
        loss = self.loss(self.sample_indices(len(self.expert)))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def current_policy(self) -> Policy:
        return Policy.from_sb3(
            self.model,
            obs_rms=self.obs_rms,
            clip_obs=CLIP_OBS,
            epsilon=EPSILON,
            metadata=self.policy_metadata(),
        )

    def checkpoint_files(self) -> dict[str, Callable[[Path], None]]:
        return {
            "ppo.zip": lambda p: self.model.save(p),
            "optimizer.pt": lambda p: torch.save(self.optimizer.state_dict(), p),
        }
