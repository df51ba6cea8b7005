"""Behaviour cloning with the same policy network as the RL methods.

Maximises the log-likelihood of expert actions under PPO's Gaussian policy, on observations
standardised with the demonstrations' statistics (stored in the exported policy).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.running_mean_std import RunningMeanStd

from diffil.algorithms.trainer import Trainer, TrainResult
from diffil.policy import Policy
from diffil.rl.ppo import make_ppo, make_vec_env

CLIP_OBS, EPSILON = 10.0, 1e-8


class BCTrainer(Trainer):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = self.config
        venv = make_vec_env(self.task, 1, cfg.seed)
        self.obs_rms = RunningMeanStd(shape=(self.task.obs_dim,))
        self.obs_rms.mean = self.expert.obs.mean(axis=0)
        self.obs_rms.var = self.expert.obs.var(axis=0)
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        state = self.run.load_state()
        ckpt = self.run.checkpoint_dir
        if state is None:
            ppo_config = dataclasses.replace(cfg.ppo, normalize_obs=False)
            self.model = make_ppo(ppo_config, venv, cfg.seed, str(self.device))
        else:
            self.model = PPO.load(ckpt / "ppo.zip", env=venv, device=str(self.device))
        policy = self.model.policy  # BC trains the actor only: its layers and log-std
        actor = [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]
        self.optimizer = torch.optim.Adam(
            [*actor, policy.log_std], lr=cfg.bc.learning_rate, weight_decay=cfg.bc.weight_decay
        )
        if state is not None:
            self.optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt"))
            self.step = int(state["step"])
            self.rng.bit_generator.state = state["rng"]
            self.elapsed_before = float(state["elapsed"])
            self.run.truncate_metrics(self.step, key="step")
            self.say(f"resuming {self.run.path} from BC step {self.step:,}")

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(
            (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + EPSILON), -CLIP_OBS, CLIP_OBS
        )

    def loss(self, idx: np.ndarray) -> torch.Tensor:
        policy = self.model.policy
        obs = torch.as_tensor(
            self.normalize(self.expert.obs[idx]), dtype=torch.float32, device=policy.device
        )
        acts = torch.as_tensor(self.expert.acts[idx], dtype=torch.float32, device=policy.device)
        _, log_prob, _ = policy.evaluate_actions(obs, acts)
        return -log_prob.mean()

    def learn(self) -> TrainResult:
        cfg = self.config.bc
        self.say(
            f"[bold]bc[/] on [bold]{self.task.name}[/]: {cfg.steps:,} gradient steps, "
            f"{len(self.demos)} demos, run {self.run.path}"
        )
        log_every = max(1, cfg.steps // 20)
        last = time.perf_counter()
        try:
            while self.step < cfg.steps:
                loss = self.loss(self.rng.integers(0, len(self.expert), cfg.batch_size))
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.step += 1
                if self.step % log_every == 0 or self.step == cfg.steps:
                    rate = log_every / max(time.perf_counter() - last, 1e-9)
                    last = time.perf_counter()
                    row = {
                        "step": self.step,
                        "time_s": round(self.elapsed, 2),
                        "loss": loss.item(),
                        "steps_per_s": round(rate, 1),
                    }
                    self.run.log_metrics(row)
                    self.say(
                        f"{self.step:>8,}/{cfg.steps:,}  {rate:>6,.0f} steps/s  "
                        f"neg. log-likelihood {loss.item():+.3f}"
                    )
                    self.save_checkpoint()
        except KeyboardInterrupt:
            raise self.interrupted(f"BC step {self.step:,}") from None
        self.save_checkpoint()
        return self.finish(self.current_policy(), env_steps=0)

    def current_policy(self) -> Policy:
        return Policy.from_sb3(
            self.model,
            obs_rms=self.obs_rms,
            clip_obs=CLIP_OBS,
            epsilon=EPSILON,
            metadata=self.policy_metadata(),
        )

    def save_checkpoint(self) -> None:
        self.run.save_checkpoint(
            {
                "ppo.zip": lambda p: self.model.save(p),
                "optimizer.pt": lambda p: torch.save(self.optimizer.state_dict(), p),
            },
            {"step": self.step, "rng": self.rng.bit_generator.state, "elapsed": self.elapsed},
        )
