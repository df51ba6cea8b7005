"""Rolling policies out into trajectories (one episode, many, or many environments in lockstep).

Datasets made by the task's experts, with provenance, are :mod:`diffil.experts.collect`'s."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from diffil.data.trajectory import Trajectory
from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.utils.moved import moved_names
from diffil.utils.progress import progress_bar

Policy = Callable[[np.ndarray], np.ndarray]


class _EpisodeRecorder:
    """The steps of one episode, made into a :class:`Trajectory` at its end."""

    def __init__(self, first_observation: np.ndarray):
        self.observations = [first_observation]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.terms: list[bool] = []
        self.truncs: list[bool] = []
        self.infos: list[dict] = []
        self.done = False

    def add(self, action: np.ndarray, step: tuple) -> None:
        obs, reward, terminated, truncated, info = step
        self.observations.append(obs)
        self.actions.append(action)
        self.rewards.append(reward)
        self.terms.append(terminated)
        self.truncs.append(truncated)
        self.infos.append(info)
        self.done = bool(terminated or truncated)

    @property
    def last_observation(self) -> np.ndarray:
        return self.observations[-1]

    def trajectory(self) -> Trajectory:
        # Keep the scalar numeric infos present at every step (e.g. "success" for goal tasks).
        keys = set.intersection(*(set(i) for i in self.infos))
        infos = {
            k: np.asarray([i[k] for i in self.infos])
            for k in sorted(keys)
            if all(
                np.isscalar(i[k]) and isinstance(i[k], (bool, int, float, np.number))
                for i in self.infos
            )
        }
        return Trajectory(
            observations=np.asarray(self.observations, dtype=np.float64),
            actions=np.asarray(self.actions, dtype=np.float32),
            rewards=np.asarray(self.rewards, dtype=np.float64),
            terminations=np.asarray(self.terms),
            truncations=np.asarray(self.truncs),
            infos=infos,
        )


def _reset_policy(policy: Policy) -> None:
    reset = getattr(policy, "reset", None)
    if callable(reset):
        reset()


def rollout_episode(env: gym.Env, policy: Policy, seed: int | None = None) -> Trajectory:
    """Run ``policy`` (flat observation -> action) for one episode of ``env``.

    A policy with a ``reset()`` method (e.g. an action-chunking policy) is reset first.
    """
    _reset_policy(policy)
    episode = _EpisodeRecorder(env.reset(seed=seed)[0])
    while not episode.done:
        action = np.asarray(policy(episode.last_observation))
        episode.add(action, env.step(action))
    return episode.trajectory()


def rollout_lockstep(
    envs: list[gym.Env], policy: Policy, seeds: list[int | None]
) -> list[Trajectory]:
    """One episode on each of ``envs`` at once: ``policy`` acts on the (N, obs_dim) batch of
    their observations, and is reset once, at the common start. An environment whose episode
    has ended is not stepped again; its last observation stays in the batch until all end."""
    _reset_policy(policy)
    episodes = [_EpisodeRecorder(env.reset(seed=s)[0]) for env, s in zip(envs, seeds, strict=True)]
    while not all(e.done for e in episodes):
        actions = np.asarray(policy(np.stack([e.last_observation for e in episodes])))
        for env, episode, action in zip(envs, episodes, actions, strict=True):
            if not episode.done:
                episode.add(action, env.step(action))
    return [e.trajectory() for e in episodes]


def rollout(
    task: TaskSpec,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    evaluation: bool = False,
    progress: bool = False,
    description: str = "rollout",
    num_envs: int = 1,
) -> list[Trajectory]:
    """``episodes`` episodes of ``policy`` on fresh environments.

    With ``num_envs`` = 1 one environment is seeded once with ``seed`` and plays every episode.
    With ``num_envs`` = N, N environments (the k-th seeded once with ``seed + k``) play N
    episodes at a time in lockstep (:func:`rollout_lockstep`), so a policy that acts on batches
    (``acts_on_batches``: diffil's policies) samples once per step for all of them; the
    episodes drawn differ from those of one environment. A policy with an ``attach(env)``
    method (an expert that reads the simulator, such as the driving expert) is given the
    environment first; it runs on one environment only.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    attach = getattr(policy, "attach", None)
    num_envs = min(num_envs, episodes)
    if num_envs > 1 and (callable(attach) or not getattr(policy, "acts_on_batches", False)):
        raise DiffilError(
            f"{type(policy).__name__} acts on one observation at a time, not on a batch of "
            f"{num_envs} environments",
            "evaluate it with one environment (eval.num_envs=1, or --envs 1)",
        )
    envs = [task.make_env(evaluation=evaluation) for _ in range(num_envs)]
    if callable(attach):
        attach(envs[0])
    envs[0].action_space.seed(seed)
    try:
        if num_envs == 1:
            return [
                rollout_episode(envs[0], policy, seed=seed if e == 0 else None)
                for e in progress_bar(range(episodes), description, enabled=progress)
            ]
        trajectories: list[Trajectory] = []
        starts = range(0, episodes, num_envs)  # the progress bar counts groups of episodes
        for start in progress_bar(starts, f"{description} ({num_envs} at once)", progress):
            group = envs[: episodes - start]
            seeds = [seed + k if start == 0 else None for k in range(len(group))]
            trajectories += rollout_lockstep(group, policy, seeds)
        return trajectories
    finally:
        for env in envs:
            env.close()


def episode_starts(
    task: TaskSpec,
    episodes: int,
    seed: int = 0,
    evaluation: bool = False,
    num_envs: int = 1,
) -> list[np.ndarray]:
    """The first observation of each episode :func:`rollout` plays with these arguments, in
    its order, found by replaying only the resets (no policy, no steps).

    This says after the fact which episodes an evaluation played (on a maze: its start/goal
    pairs, e.g. to split a finished run's ``episode_returns`` into covered and held-out pairs).
    It holds for environments whose steps draw nothing from their random generator, so that a
    reset draws the same whatever the episode before it did: true of PointMaze, checked in
    ``tests/test_protocols.py``; not of an environment with stochastic dynamics.
    """
    num_envs = min(max(num_envs, 1), episodes)
    envs = [task.make_env(evaluation=evaluation) for _ in range(num_envs)]
    try:
        if num_envs == 1:
            return [envs[0].reset(seed=seed if e == 0 else None)[0] for e in range(episodes)]
        starts: list[np.ndarray] = []
        for start in range(0, episodes, num_envs):  # the groups rollout plays in lockstep
            group = envs[: episodes - start]
            starts += [
                env.reset(seed=seed + k if start == 0 else None)[0] for k, env in enumerate(group)
            ]
        return starts
    finally:
        for env in envs:
            env.close()


# datasets made by a task's experts moved up to diffil.experts.collect
__getattr__ = moved_names(
    __name__,
    dict.fromkeys(
        (
            "collect_demonstrations",
            "collect_exploration",
            "COLLECT_MODES",
            "MAX_ATTEMPTS_PER_EPISODE",
        ),
        "diffil.experts.collect",
    ),
)
