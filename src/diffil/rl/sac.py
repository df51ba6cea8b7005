"""The off-policy backbone: Stable-Baselines3 SAC with a replay buffer whose rewards are
recomputed by the current reward model every time a batch is sampled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from diffil.rl.ppo import ACTIVATIONS
from diffil.rl.replay_buffer import CompactReplayBuffer

# (raw obs, env-space actions, raw next obs, true terminations) -> rewards, all (B, ...) arrays
Relabel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(kw_only=True)
class SACConfig:
    """SAC hyperparameters (SB3 names). ``n_envs`` is the number of environments SAC collects
    from (the top-level ``n_envs`` is PPO's).

    Attributes:
        learning_rate: Adam step size of the actor, both critics and the entropy coefficient.
        buffer_size: replay buffer capacity in transitions.
        batch_size: transitions per gradient step.
        tau: Polyak factor of the target critics' soft update.
        gamma: discount factor.
        learning_starts: env steps of uniformly random actions before the first update.
        net_arch: hidden widths of the actor and of each critic.
        activation: hidden activation, ``relu``, ``tanh`` or ``silu``.
        train_freq: env steps between two rounds of updates.
        gradient_steps: gradient steps per round.
        ent_coef: entropy coefficient; ``auto`` tunes it towards the target entropy -dim(A).
        n_envs: environments collected from in parallel.
        normalize_obs: standardise observations with running statistics (saved with the policy).
    """

    learning_rate: float = 3e-4
    buffer_size: int = 1_000_000
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    learning_starts: int = 5000
    net_arch: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    train_freq: int = 1
    gradient_steps: int = 1
    ent_coef: str | float = "auto"
    n_envs: int = 1
    normalize_obs: bool = True


class RelabelingReplayBuffer(CompactReplayBuffer):
    """A replay buffer whose sampled ``rewards`` come from :attr:`relabel` at sampling time.

    The stored rewards (the environment's) are never used while ``relabel`` is set, so a
    reward model updated between two samples changes the rewards of the same transitions.
    ``relabel`` is not pickled with the buffer: the trainer re-attaches it after loading.
    Observations are kept as float32 and a checkpoint holds only the filled rows
    (:class:`~diffil.rl.replay_buffer.CompactReplayBuffer`).
    """

    relabel: Relabel | None = None
    unscale_action: Callable[[np.ndarray], np.ndarray] | None = None

    def _get_samples(
        self, batch_inds: np.ndarray, env: VecNormalize | None = None
    ) -> ReplayBufferSamples:
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        return self.sample_at(batch_inds, env_indices, env)

    def sample_at(
        self, batch_inds: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None = None
    ) -> ReplayBufferSamples:
        """The transitions at (``batch_inds``, ``env_indices``), rewards recomputed."""
        obs = self.observations[batch_inds, env_indices, :]
        next_obs = self.next_observations[batch_inds, env_indices, :]
        actions = self.actions[batch_inds, env_indices, :]
        # true terminations only: time-limit ends are bootstrapped as in SB3
        dones = self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])
        if self.relabel is None:
            rewards = self._normalize_reward(self.rewards[batch_inds, env_indices], env)
        else:
            env_actions = self.unscale_action(actions) if self.unscale_action else actions
            rewards = self.relabel(obs, env_actions, next_obs, dones)
        data = (
            self._normalize_obs(obs, env),
            actions,
            self._normalize_obs(next_obs, env),
            dones.reshape(-1, 1),
            np.asarray(rewards, dtype=np.float32).reshape(-1, 1),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))

    def last(self, steps: int) -> tuple[np.ndarray, ...]:
        """The raw transitions of the last ``steps`` steps of every environment, flattened:
        (obs, env actions, next obs, true terminations, env rewards)."""
        steps = max(1, min(steps, self.stored()))
        inds = (self.pos - steps + np.arange(steps)) % self.buffer_size

        def flat(a: np.ndarray) -> np.ndarray:
            return a[inds].reshape(steps * self.n_envs, *a.shape[2:])

        actions = flat(self.actions)
        return (
            flat(self.observations),
            self.unscale_action(actions) if self.unscale_action else actions,
            flat(self.next_observations),
            flat(self.dones) * (1 - flat(self.timeouts)),
            flat(self.rewards),
        )

    def stored(self) -> int:
        """Number of steps stored per environment."""
        return self.buffer_size if self.full else self.pos

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("relabel", None)
        state.pop("unscale_action", None)
        return state


def make_sac(config: SACConfig, venv: VecEnv, seed: int, device: str = "cpu") -> SAC:
    """A fresh SAC learner on ``venv`` with a :class:`RelabelingReplayBuffer`."""
    ent_coef: Any = config.ent_coef
    return SAC(
        "MlpPolicy",
        venv,
        learning_rate=config.learning_rate,
        buffer_size=config.buffer_size,
        learning_starts=config.learning_starts,
        batch_size=config.batch_size,
        tau=config.tau,
        gamma=config.gamma,
        train_freq=config.train_freq,
        gradient_steps=config.gradient_steps,
        ent_coef=ent_coef,
        replay_buffer_class=RelabelingReplayBuffer,
        policy_kwargs={
            "net_arch": list(config.net_arch),
            "activation_fn": ACTIVATIONS[config.activation],
        },
        seed=seed,
        device=device,
        verbose=0,
    )


def sac_log_prob(model: SAC, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """log pi(a|s) of the SAC actor for given (normalised) observations and squashed actions
    in [-1, 1] (what AIRL's discriminator needs)."""
    actor = model.actor
    with torch.no_grad():
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=actor.device)
        act_t = torch.as_tensor(actions, dtype=torch.float32, device=actor.device)
        mean, log_std, kwargs = actor.get_action_dist_params(obs_t)
        dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        return dist.log_prob(act_t.clamp(-1.0 + 1e-6, 1.0 - 1e-6)).cpu().numpy()
