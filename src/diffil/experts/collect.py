"""Datasets made by a task's experts, with provenance: demonstrations
(:func:`collect_demonstrations`) and reward-agnostic maze exploration
(:func:`collect_exploration`)."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import itertools
from collections.abc import Iterator

import numpy as np

from diffil.data.collect import Policy, rollout, rollout_episode
from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.envs.maze import MazeLayout, flatten_goal_observation
from diffil.envs.registry import TaskSpec, get_task
from diffil.errors import DiffilError
from diffil.experts import make_expert
from diffil.experts.maze import MazeExpertConfig, MazeWaypointExpert
from diffil.experts.noise import NoisyPolicy, check_action_noise
from diffil.utils.progress import progress_bar


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# successful_only gives up after this many attempts per wanted episode
MAX_ATTEMPTS_PER_EPISODE = 20


def collect_demonstrations(
    task: TaskSpec | str,
    episodes: int,
    seed: int = 0,
    expert: Policy | None = None,
    progress: bool = False,
    *,
    action_noise: float = 0.0,
    successful_only: bool = False,
) -> TrajectoryDataset:
    """Roll out the task's expert (or ``expert``) and return a dataset with provenance metadata.

    ``action_noise`` adds Gaussian noise with that std (a fraction of half the action range, so
    N(0, 0.5^2) on a maze's [-1, 1] actions for 0.5) to every expert action, clipped to the
    bounds; the dataset records the noisy actions the environment executed. ``successful_only``
    keeps only successful episodes, rolling out until there are ``episodes`` of them (at most
    ``MAX_ATTEMPTS_PER_EPISODE`` times as many attempts); it needs a task with a success metric.
    The provenance records both, and how many episodes were attempted and rejected.
    """
    task = get_task(task)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    action_noise = check_action_noise(action_noise)
    if successful_only and not task.success_key:
        raise DiffilError(
            f"successful_only needs a task with a success metric; {task.name!r} has none",
            "drop --successful-only",
        )
    expert_policy = expert if expert is not None else make_expert(task, seed=seed)
    policy: Policy = expert_policy
    if action_noise > 0:
        env = task.make_env()
        low, high = env.action_space.low, env.action_space.high
        env.close()
        policy = NoisyPolicy(expert_policy, action_noise, low, high, seed=seed)
    if successful_only:
        trajectories, attempts = _successful_rollouts(task, policy, episodes, seed, progress)
    else:
        trajectories = rollout(
            task, policy, episodes, seed=seed, progress=progress, description="collect"
        )
        attempts = episodes
    dataset = TrajectoryDataset(trajectories)
    dataset.metadata = _provenance(task, dataset, expert_policy, seed)
    dataset.metadata.update(
        {
            "action_noise": action_noise,
            "successful_only": successful_only,
            "attempts": attempts,
            "rejected": attempts - len(dataset),
        }
    )
    expert_info = getattr(expert_policy, "provenance", None)  # trained experts: file, algo...
    if expert_info is not None:
        dataset.metadata["expert_info"] = dict(expert_info)
    return dataset


def _successful_rollouts(
    task: TaskSpec, policy: Policy, episodes: int, seed: int, progress: bool
) -> tuple[list[Trajectory], int]:
    """``episodes`` successful episodes (seeded as :func:`rollout`) and how many were tried."""
    cap = MAX_ATTEMPTS_PER_EPISODE * episodes
    env = task.make_env()
    env.action_space.seed(seed)
    kept: list[Trajectory] = []
    attempts = 0
    try:
        for attempts in progress_bar(_count(1), "collect (successful)", enabled=progress):
            trajectory = rollout_episode(env, policy, seed=seed if attempts == 1 else None)
            if trajectory.success:
                kept.append(trajectory)
                if len(kept) == episodes:
                    break
            if attempts >= cap:
                raise DiffilError(
                    f"only {len(kept)} of {attempts} episodes succeeded, short of the "
                    f"{episodes} successful ones asked for",
                    "lower --action-noise or --episodes, or drop --successful-only",
                )
    finally:
        env.close()
    return kept, attempts


def _count(start: int) -> Iterator[int]:
    """start, start + 1, ... (an iterator without a length: an open-ended progress bar)."""
    yield from itertools.count(start)


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


def maze_coverage(
    task: TaskSpec | str, pieces: int = 100, piece_steps: int = 300, seed: int = 0
) -> list[Trajectory]:
    """A coverage set for maze rewards (the trajectories ERC and EPIC of
    :mod:`diffil.eval.reward_metrics` are measured on): ``pieces`` consecutive ``piece_steps``-step
    pieces of reward-agnostic exploration (:func:`collect_exploration`; the goal dims are the
    current target)."""
    data = collect_exploration(task, pieces * piece_steps, seed=seed, segment_length=piece_steps)
    return list(data.trajectories)


def _truncated(piece: Trajectory) -> Trajectory:
    truncations = np.zeros(len(piece), dtype=bool)
    truncations[-1] = True
    return dataclasses.replace(piece, truncations=truncations)
