"""Rolling policies out into trajectories, and making demonstration datasets with provenance."""

from __future__ import annotations

import datetime
import importlib.metadata
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.registry import TaskSpec, get_task
from diffil.utils.progress import progress_bar

Policy = Callable[[np.ndarray], np.ndarray]


def rollout_episode(env: gym.Env, policy: Policy, seed: int | None = None) -> Trajectory:
    """Run ``policy`` (flat observation -> action) for one episode of ``env``."""
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards, terms, truncs = [obs], [], [], [], []
    step_infos: list[dict] = []
    done = False
    while not done:
        action = np.asarray(policy(obs))
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        terms.append(terminated)
        truncs.append(truncated)
        step_infos.append(info)
        done = terminated or truncated
    # Keep the scalar numeric infos present at every step (e.g. "success" for goal tasks).
    keys = set.intersection(*(set(i) for i in step_infos))
    infos = {
        k: np.asarray([i[k] for i in step_infos])
        for k in sorted(keys)
        if all(
            np.isscalar(i[k]) and isinstance(i[k], (bool, int, float, np.number))
            for i in step_infos
        )
    }
    return Trajectory(
        observations=np.asarray(observations, dtype=np.float64),
        actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float64),
        terminations=np.asarray(terms),
        truncations=np.asarray(truncs),
        infos=infos,
    )


def rollout(
    task: TaskSpec,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    evaluation: bool = False,
    progress: bool = False,
    description: str = "rollout",
) -> list[Trajectory]:
    """``episodes`` episodes of ``policy`` on a fresh environment seeded once with ``seed``."""
    env = task.make_env(evaluation=evaluation)
    env.action_space.seed(seed)
    try:
        return [
            rollout_episode(env, policy, seed=seed if e == 0 else None)
            for e in progress_bar(range(episodes), description, enabled=progress)
        ]
    finally:
        env.close()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_demonstrations(
    task: TaskSpec | str,
    episodes: int,
    seed: int = 0,
    expert: Policy | None = None,
    progress: bool = False,
) -> TrajectoryDataset:
    """Roll out the task's expert (or ``expert``) and return a dataset with provenance metadata."""
    from diffil.experts import make_expert

    task = get_task(task)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    policy = expert if expert is not None else make_expert(task, seed=seed)
    trajectories = rollout(
        task, policy, episodes, seed=seed, progress=progress, description="collect"
    )
    dataset = TrajectoryDataset(trajectories)
    stats = dataset.statistics()
    dataset.metadata = {
        "task": task.name,
        "variant": task.variant_settings,
        "env_id": task.env_id,
        "env_versions": {
            p: _version(p) for p in ("gymnasium", "gymnasium-robotics", "mujoco") if _version(p)
        },
        "expert": getattr(policy, "name", type(policy).__name__),
        "seed": seed,
        "diffil_version": _version("diffil"),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "episodes": len(dataset),
        "transitions": dataset.num_transitions,
        "success_rate": stats.get("success_rate"),
        "return_mean": stats.get("return_mean"),
        "length_mean": stats["length_mean"],
    }
    return dataset
