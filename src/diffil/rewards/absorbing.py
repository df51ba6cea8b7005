"""Absorbing states: a learned reward for what comes after an episode ends.

A task whose episodes end early gives a learned reward a bias through the end alone. RL values
the steps after a true termination at 0, so when the learned reward is mostly negative (log D
early in training, DRAIL's log D - log(1 - D) while the discriminator wins) ending the episode
pays, and when it is mostly positive (-log(1 - D)) never ending pays. On the driving tasks both
happen: parking and merge end on success *and* on a crash, and each sign of the reward learns
one of the two failures (see benchmarks/results/driving_imitation_parking*.md).

Discriminator-Actor-Critic (Kostrikov et al., 2019, section 4.2) removes the bias by making the
end a state of its own. After a true termination the episode moves to an absorbing state s_a
that loops onto itself forever. The reward model sees s_a like any state: one absorbing row
(``reward.absorbing_copies`` rows) joins the expert's data for each terminated demonstration
and the agent's data for each terminated rollout step, so r(s_a) is learned like any other
reward. Its value is then known in closed form: V(s_a) = sum_k gamma^k r(s_a) =
r(s_a) / (1 - gamma). A terminal transition's reward becomes

    r(s_T, a_T) + gamma * r(s_a) / (1 - gamma)

which is what bootstrapping through s_a gives, without storing s_a in the RL buffers (PPO's and
SAC's targets already stop at a true termination). Time-limit ends are not terminations and are
bootstrapped as before.

Rows for s_a carry a 1.0 in an extra observation column (0.0 for every real state) and zeros
elsewhere (:class:`~diffil.rewards.normalization.ObservationScaler` with ``absorbing``); their
action is zero. Enabled with ``reward.absorbing: true``.
"""

from __future__ import annotations

import numpy as np

from diffil.data.trajectory import Transitions


def with_absorbing_rows(data: Transitions, copies: int = 1) -> Transitions:
    """``data`` plus ``copies`` absorbing-state rows per true termination (``dones``), with
    ``absorbing`` marking the new rows. An absorbing row's next state is s_a itself, and it
    ends nothing (``done`` 0): s_a loops forever.

    One row per termination counts s_a once, like any state; in the discounted occupancy that
    adversarial imitation matches, s_a after a termination at step T weighs
    gamma^T / (1 - gamma), as much as 1 / (1 - gamma) states at that step. Copies on both sides
    keep the order of the expert's and the agent's termination rates, so r(s_a) keeps its sign
    (its size shrinks as absorbing rows come to fill both sides), and give the reward model that
    many more rows to learn it from."""
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    n = int(np.count_nonzero(np.asarray(data.dones) > 0.5)) * copies
    obs_dim, act_dim = data.obs.shape[1], data.acts.shape[1]

    def grow(arr: np.ndarray, extra: np.ndarray) -> np.ndarray:
        return np.concatenate([arr, extra.astype(arr.dtype)], axis=0)

    old = np.zeros(len(data), dtype=bool) if data.absorbing is None else data.absorbing
    return Transitions(
        grow(data.obs, np.zeros((n, obs_dim))),
        grow(data.acts, np.zeros((n, act_dim))),
        grow(data.next_obs, np.zeros((n, obs_dim))),
        grow(np.asarray(data.dones), np.zeros(n)),
        None if data.rewards is None else grow(data.rewards, np.zeros(n)),
        absorbing=np.concatenate([old, np.ones(n, dtype=bool)]),
    )


def terminal_bonus(absorbing_reward: float, gamma: float) -> float:
    """What bootstrapping through s_a adds to a terminal step's reward:
    gamma * V(s_a) = gamma * r(s_a) / (1 - gamma)."""
    return gamma * absorbing_reward / (1.0 - gamma)
