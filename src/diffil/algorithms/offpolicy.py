"""Off-policy imitation: a reward model + SAC (``rl: sac``).

    every step:                      SAC acts; (s, a, s', done) goes into the replay buffer
    every reward.update_every steps: update the reward model on expert vs. recent replay data
    every SAC gradient step:         sample a replay batch and recompute its rewards with the
                                     *current* reward model (never the ones of collection time)

Rewards are recomputed in :class:`~diffil.rl.sac.RelabelingReplayBuffer`, so stale rewards
cannot reach the critic however old a transition is. ``dones`` are SB3's true terminations
(time-limit ends are bootstrapped). Run directory, evaluation, checkpoints (with the replay
buffer), resume and Ctrl-C work as for PPO (:class:`~diffil.algorithms.trainer.OnlineTrainer`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from diffil.algorithms.trainer import (
    ImitationTrainer,
    ProgressReporter,
    _next_multiple,
)
from diffil.data.trajectory import Transitions
from diffil.rewards.absorbing import terminal_bonus
from diffil.rl.ppo import make_vec_env
from diffil.rl.sac import RelabelingReplayBuffer, make_sac, sac_log_prob

REPLAY_BUFFER = "replay_buffer.pkl"


class OffPolicyTrainer(ImitationTrainer):
    """Reward model + SAC; without a reward model (methods ``sac``, ``ppo``) plain SAC on the
    task's own reward."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = self.config
        raw_venv = make_vec_env(
            self.train_task, cfg.sac.n_envs, cfg.seed, fixed_horizon=cfg.fixed_horizon
        )
        state = self.run.load_state()
        if state is None:
            self.venv: VecEnv = raw_venv
            if cfg.sac.normalize_obs:
                self.venv = VecNormalize(
                    raw_venv, norm_obs=True, norm_reward=False, gamma=cfg.sac.gamma
                )
            self.model = make_sac(cfg.sac, self.venv, cfg.seed, str(self.device))
            self.pretrain_reward_model()
        else:
            with self.run.reading_checkpoint():
                self._restore(raw_venv, state)
        self._terminal_bonus = 0.0  # gamma r(s_a) / (1 - gamma); 0 without absorbing states
        if self.absorbing:
            self._update_terminal_bonus()
        self._attach_buffer()

    @property
    def buffer(self) -> RelabelingReplayBuffer:
        buffer = self.model.replay_buffer
        assert isinstance(buffer, RelabelingReplayBuffer)
        return buffer

    def _attach_buffer(self) -> None:
        """Let the replay buffer compute rewards with the reward model (if any)."""
        self.buffer.unscale_action = self.model.policy.unscale_action
        self.buffer.relabel = self.relabel if self.reward_model is not None else None

    # ---- rewards ------------------------------------------------------------------------------

    def relabel(
        self, obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray
    ) -> np.ndarray:
        """Rewards of raw transitions under the current reward model."""
        assert self.reward_model is not None
        batch = self.batch(obs, acts, next_obs, dones)
        rewards = self.reward_model.reward(batch).cpu().numpy()
        # true terminations bootstrap through the absorbing state (0 without one)
        return rewards + np.asarray(dones).reshape(rewards.shape) * self._terminal_bonus

    def _update_terminal_bonus(self) -> float:
        """Refresh the terminal steps' bonus from the current reward model; returns r(s_a)."""
        r_abs = self.absorbing_reward()
        self._terminal_bonus = terminal_bonus(r_abs, self.config.sac.gamma)
        return r_abs

    def _log_prob(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        norm = self.venv.normalize_obs(obs) if isinstance(self.venv, VecNormalize) else obs
        return sac_log_prob(self.model, norm, self.model.policy.scale_action(acts))

    def reward_step(self) -> dict[str, Any]:
        """Update the reward model on expert vs. the last ``reward.recent`` env steps; report
        the rewards of the last ``update_every`` steps under the updated model."""
        cfg = self.config
        if self.buffer.stored() == 0:
            return {}
        window = max(1, (cfg.reward.recent or cfg.reward.update_every) // cfg.sac.n_envs)
        obs, acts, next_obs, dones, env_rewards = self.buffer.last(window)
        latest = slice(-cfg.reward.update_every, None)  # rows are in step order
        if self.reward_model is None:
            return {
                "reward_mean": float(env_rewards[latest].mean()),
                "reward_std": float(env_rewards[latest].std()),
            }
        out = self.update_reward_model(Transitions(obs, acts, next_obs, dones))
        if self.absorbing:
            out["reward_absorbing"] = self._update_terminal_bonus()
        rewards = self.relabel(obs[latest], acts[latest], next_obs[latest], dones[latest])
        out.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std()))
        return out

    # ---- the loop -----------------------------------------------------------------------------

    def make_callback(self) -> BaseCallback:
        return _OffPolicyCallback(self)

    # ---- checkpoints --------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        writers: dict[str, Any] = {
            "sac.zip": lambda p: self.model.save(p),
            REPLAY_BUFFER: lambda p: self.model.save_replay_buffer(p),
        }
        writers.update(self.reward_writers())
        if isinstance(self.venv, VecNormalize):
            writers["vecnormalize.pkl"] = lambda p: self.venv.save(p)
        self.run.save_checkpoint(writers, self.base_state(self.model.num_timesteps))

    def _restore(self, raw_venv: VecEnv, state: dict[str, Any]) -> None:
        ckpt = self.run.checkpoint_dir
        venv: VecEnv = raw_venv
        # SB3's own files are pickles (there is no weights-only form); they come from the run
        # directory this user's `diffil train` wrote, and any failure is one DiffilError.
        if (ckpt / "vecnormalize.pkl").exists():
            venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), raw_venv)
        self.venv = venv
        self.model = SAC.load(ckpt / "sac.zip", env=venv, device=str(self.device))
        self.model.load_replay_buffer(ckpt / REPLAY_BUFFER)
        self.restore_base_state(state)


class _OffPolicyCallback(BaseCallback):
    """Every ``reward.update_every`` env steps: reward-model update, metrics row, evaluation
    and checkpoint when due."""

    def __init__(self, trainer: OffPolicyTrainer):
        super().__init__()
        self.trainer = trainer
        steps = trainer.model.num_timesteps
        self.reporter = ProgressReporter(trainer, steps)
        self.every = trainer.config.reward.update_every
        self.next_update = _next_multiple(steps, self.every)

    def _on_training_start(self) -> None:
        # a run interrupted right at an update resumes with that update
        steps = self.model.num_timesteps
        logged = self.trainer.run.read_metrics()
        last = int(float(logged[-1]["env_steps"])) if logged else 0
        if steps > 0 and steps % self.every == 0 and last < steps:
            self._update(steps)

    def _on_step(self) -> bool:
        steps = self.model.num_timesteps
        if steps >= self.next_update:
            self.next_update = _next_multiple(steps, self.every)
            self._update(steps)
        return True

    def _update(self, steps: int) -> None:
        row = self.trainer.reward_step()
        self.reporter.report(steps, list(self.model.ep_info_buffer), row)
