"""How close a learned reward is to the true one: ERC and EPIC (reference 004, section 2.2.4).

A reward function here is ``R(obs, acts, next_obs) -> rewards``: arrays (N, obs_dim),
(N, act_dim), (N, obs_dim) to (N,). Both metrics are Pearson distances (Definition 2),
D_rho = sqrt(1 - rho) / sqrt(2), in [0, 1]: 0 for rewards that order everything alike, about
0.71 for unrelated ones, 1 for opposite ones.

- :func:`erc`: Pearson distance between episode returns on a coverage set of trajectories
  (Definition 3). Invariant to positive affine maps of the return, not to potential shaping.
- :func:`epic`: Pearson distance between canonically shaped rewards on coverage transitions
  (Definition 4, Eq. 20; Definition 5, Eq. 21). Invariant to potential shaping and positive
  scaling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from diffil.data.trajectory import Trajectory, Transitions
from diffil.errors import DiffilError
from diffil.utils.moved import moved_names

if TYPE_CHECKING:
    from diffil.envs.registry import TaskSpec

RewardFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def pearson_distance(x: np.ndarray, y: np.ndarray) -> float:
    """sqrt(1 - rho(x, y)) / sqrt(2) (reference 004, Definition 2)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise DiffilError(
            f"need two equally long samples of >= 2 values, got {x.size} and {y.size}",
            "pass more trajectories or transitions",
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DiffilError("a reward returned NaN or infinite values", "check the reward model")
    if x.std() == 0 or y.std() == 0:
        raise DiffilError(
            "a reward is constant on the coverage set, so its correlation is undefined",
            "use a coverage set on which both rewards vary",
        )
    rho = float(np.corrcoef(x, y)[0, 1])
    return float(np.sqrt(max(0.0, 1.0 - rho) / 2.0))


def episode_returns(
    reward: RewardFunction, trajectories: Sequence[Trajectory], gamma: float = 1.0
) -> np.ndarray:
    """G(tau, R) = sum_t gamma^t R(s_t, a_t, s_{t+1}) for every trajectory."""
    returns = []
    for traj in trajectories:
        r = np.asarray(reward(traj.obs, traj.actions, traj.next_obs), dtype=np.float64)
        if r.shape != (len(traj),):
            raise DiffilError(
                f"the reward returned shape {r.shape} for {len(traj)} transitions",
                "return one value per transition",
            )
        returns.append(float(np.sum(r * gamma ** np.arange(len(r)))))
    return np.asarray(returns)


def erc(
    reward_a: RewardFunction,
    reward_b: RewardFunction,
    trajectories: Sequence[Trajectory],
    gamma: float = 1.0,
) -> float:
    """Episode return correlation distance on a coverage set (reference 004, Definition 3)."""
    return pearson_distance(
        episode_returns(reward_a, trajectories, gamma),
        episode_returns(reward_b, trajectories, gamma),
    )


def canonicalize(
    reward: RewardFunction,
    transitions: Transitions,
    gamma: float,
    samples: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S') - R(s, A, S') - gamma R(S, A, S')]
    (reference 004, Eq. 20), with S, A, S' drawn independently from the coverage marginals
    (``samples`` Monte-Carlo draws each)."""
    rng = np.random.default_rng(seed)
    n = len(transitions)
    states = transitions.next_obs[rng.integers(0, n, samples)]  # S' ~ D_S
    actions = transitions.acts[rng.integers(0, n, samples)]  # A ~ D_A
    anchors = transitions.obs[rng.integers(0, n, samples)]  # S ~ D_S

    def mean_from(origins: np.ndarray) -> np.ndarray:
        """E_{A, S'}[R(x, A, S')] for every row x of ``origins``."""
        k = len(origins)
        obs = np.repeat(origins, samples, axis=0)
        acts = np.tile(actions, (k, 1))
        nxt = np.tile(states, (k, 1))
        return np.asarray(reward(obs, acts, nxt), dtype=np.float64).reshape(k, samples).mean(1)

    base = np.asarray(
        reward(transitions.obs, transitions.acts, transitions.next_obs), dtype=np.float64
    )
    constant = mean_from(anchors).mean()  # E[R(S, A, S')]
    return (
        base
        + gamma * mean_from(transitions.next_obs)
        - mean_from(transitions.obs)
        - gamma * constant
    )


def epic(
    reward_a: RewardFunction,
    reward_b: RewardFunction,
    transitions: Transitions,
    gamma: float = 0.99,
    samples: int = 256,
    seed: int = 0,
) -> float:
    """EPIC distance (reference 004, Eq. 21): Pearson distance of the canonicalised rewards."""
    return pearson_distance(
        canonicalize(reward_a, transitions, gamma, samples, seed),
        canonicalize(reward_b, transitions, gamma, samples, seed),
    )


def task_reward(task: TaskSpec | str) -> RewardFunction:
    """The task's true reward as a function of transitions.

    Goal mazes: the environment's own ``compute_reward`` of s' (its position against its goal,
    observation dims 4-5). Other tasks' rewards depend on simulator state the observation leaves
    out, so they have none here (one-line :class:`DiffilError`).
    """
    from diffil.envs.registry import get_task

    spec = get_task(task) if isinstance(task, str) else task
    if spec.family != "maze":
        raise DiffilError(
            f"task {spec.name!r} has no closed-form true reward of (s, a, s') in diffil",
            "reward-eval supports the pointmaze-* tasks",
        )
    env = spec.make_env()
    compute = env.unwrapped.compute_reward
    env.close()

    def reward(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        nxt = np.atleast_2d(np.asarray(next_obs, dtype=np.float64))
        return np.asarray(compute(nxt[:, 0:2], nxt[:, 4:6], {}), dtype=np.float64).reshape(-1)

    return reward


def compare_to_task_reward(
    reward: RewardFunction,
    task: TaskSpec | str,
    coverage: Sequence[Trajectory],
    metric: str = "erc",
    gamma: float = 0.99,
    max_transitions: int = 2000,
    seed: int = 0,
) -> float:
    """ERC (on ``coverage``'s episode returns, undiscounted) or EPIC (on up to
    ``max_transitions`` of its transitions, discount ``gamma``) of ``reward`` against the task's
    true reward (:func:`task_reward`)."""
    truth = task_reward(task)
    if metric == "erc":
        return erc(reward, truth, coverage)
    if metric != "epic":
        raise DiffilError(f"unknown reward metric {metric!r}", "use erc or epic")
    from diffil.data.trajectory import TrajectoryDataset

    transitions = TrajectoryDataset(list(coverage)).transitions()
    if len(transitions) > max_transitions:
        transitions = transitions.sample(max_transitions, np.random.default_rng(seed))
    return epic(reward, truth, transitions, gamma=gamma, seed=seed)


# these read runs or make data, so they sit above evaluation
__getattr__ = moved_names(
    __name__,
    {
        "learned_reward": "diffil.algorithms.reward_transfer",
        "maze_coverage": "diffil.experts.collect",
    },
)
