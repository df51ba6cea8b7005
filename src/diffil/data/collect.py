"""Rolling policies out into trajectories, and making demonstration datasets with provenance."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.registry import TaskSpec, get_task
from diffil.errors import DiffilError
from diffil.utils.progress import progress_bar

Policy = Callable[[np.ndarray], np.ndarray]


def rollout_episode(env: gym.Env, policy: Policy, seed: int | None = None) -> Trajectory:
    """Run ``policy`` (flat observation -> action) for one episode of ``env``.

    A policy with a ``reset()`` method (e.g. an action-chunking policy) is reset first.
    """
    reset = getattr(policy, "reset", None)
    if callable(reset):
        reset()
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
    """``episodes`` episodes of ``policy`` on a fresh environment seeded once with ``seed``.

    A policy with an ``attach(env)`` method (an expert that reads the simulator, such as the
    driving expert) is given the environment first."""
    env = task.make_env(evaluation=evaluation)
    attach = getattr(policy, "attach", None)
    if callable(attach):
        attach(env)
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
    dataset.metadata = _provenance(task, dataset, policy, seed)
    expert_info = getattr(policy, "provenance", None)  # trained experts: file, algo, return...
    if expert_info is not None:
        dataset.metadata["expert_info"] = dict(expert_info)
    return dataset


def _provenance(task: TaskSpec, dataset: TrajectoryDataset, policy: object, seed: int) -> dict:
    """The metadata every collected dataset carries: task, versions, policy, seed and statistics."""
    stats = dataset.statistics()
    return {
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


COLLECT_MODES = ("expert", "explore")


def collect_exploration(
    task: TaskSpec | str,
    steps: int,
    seed: int = 0,
    action_noise: float = 0.5,
    segment_length: int | None = None,
    reach_radius: float = 0.3,
    max_target_steps: int = 200,
    progress: bool = False,
) -> TrajectoryDataset:
    """Reward-agnostic maze data without resets (the D4RL maze2d recipe; reference 004, 3.4).

    The scripted waypoint controller (:class:`~diffil.experts.maze.MazeWaypointExpert`, with
    Gaussian ``action_noise``) drives to a random reachable free cell (its centre plus the task's
    reset noise); within ``reach_radius`` cells of it, or after ``max_target_steps`` steps, it
    draws the next one. The environment is reset once and then stepped ``steps`` times, ignoring
    its own success termination and time limit. The recorded observation's goal part ``(gx, gy)``
    is the controller's current target (the environment's goal is moved along with it), and the
    reward is the sparse reward for reaching it. The data is one trajectory of ``steps`` steps,
    or consecutive ``segment_length``-step pieces of it (each piece starts where the previous
    ended; only the last step of each is marked truncated; nothing terminates).
    """
    from diffil.envs.maze import MazeLayout, flatten_goal_observation
    from diffil.experts.maze import MazeExpertConfig, MazeWaypointExpert

    task = get_task(task)
    if task.family != "maze":
        raise DiffilError(
            f"exploration data is made for mazes only, not {task.name!r}",
            "use --mode expert, or pick a pointmaze-* task",
        )
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if segment_length is not None and segment_length < 1:
        raise ValueError(f"segment_length must be >= 1, got {segment_length}")
    rng = np.random.default_rng(seed)
    env = task.make_env()
    try:
        layout = MazeLayout.from_env(env)
        expert = MazeWaypointExpert(layout, MazeExpertConfig(action_noise=action_noise), seed=seed)
        base = env.unwrapped
        obs, _ = env.reset(seed=seed)
        spread = 0.25 * task.noise * layout.scaling  # gymnasium-robotics' goal noise

        def new_target(position: np.ndarray) -> np.ndarray:
            here = layout.xy_to_cell(position)
            cells = sorted(c for c in expert.distances_to(here) if c != here) or [here]
            cell = cells[int(rng.integers(len(cells)))]
            goal = layout.cell_to_xy(cell) + rng.uniform(-spread, spread, size=2)
            base.goal = goal
            base.update_target_site_pos()
            return goal

        goal, since = new_target(obs[:2]), 0
        observations, actions, rewards, successes = [], [], [], []
        for _ in progress_bar(range(steps), "explore", enabled=progress):
            near = np.linalg.norm(obs[:2] - goal) <= reach_radius * layout.scaling
            if near or since >= max_target_steps:
                goal, since = new_target(obs[:2]), 0
            obs = np.concatenate([obs[:4], goal])  # the policy sees (and we record) the target
            action = np.asarray(expert(obs), dtype=np.float32)
            raw, reward, _, _, info = base.step(action)  # the bare env: no time limit or reset
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            successes.append(bool(info.get("success", False)))
            obs, since = flatten_goal_observation(raw), since + 1
        observations.append(np.concatenate([obs[:4], goal]))
    finally:
        env.close()
    whole = Trajectory(
        observations=np.asarray(observations, dtype=np.float64),
        actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float64),
        terminations=np.zeros(steps, dtype=bool),
        truncations=np.arange(steps) == steps - 1,
        infos={"success": np.asarray(successes)},
    )
    size = steps if segment_length is None else segment_length
    pieces = [whole.slice(i, min(i + size, steps)) for i in range(0, steps, size)]
    pieces = [_truncated(piece) for piece in pieces]
    dataset = TrajectoryDataset(pieces)
    dataset.metadata = _provenance(task, dataset, expert, seed)
    dataset.metadata.update(
        {
            "mode": "explore",
            "explore": {
                "steps": steps,
                "action_noise": action_noise,
                "segment_length": segment_length,
                "reach_radius": reach_radius,
                "max_target_steps": max_target_steps,
                "resets": 1,
            },
        }
    )
    return dataset


def _truncated(piece: Trajectory) -> Trajectory:
    truncations = np.zeros(len(piece), dtype=bool)
    truncations[-1] = True
    return dataclasses.replace(piece, truncations=truncations)
